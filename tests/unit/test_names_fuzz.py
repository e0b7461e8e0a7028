"""No name, key or label accepted anywhere holds a control character: every checker is fed
valid names with a control character put somewhere (the end first: `$` let "evil\\n"
through) and arbitrary text, and whatever it accepts must be clean."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runecraft import errors
from runecraft.controller.services import _endpoints, _names
from runecraft.schemas import api, bus, charm, clouds, logs, names
from runecraft.schemas import secrets as sec

CONTROLS = st.sampled_from(["\n", "\r", "\x00", "\t", "\x0b", "\x0c", "\x1b", "\x7f", "\x85"])
FUZZ = settings(
    max_examples=150, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)


def _accepts(check: Callable[[str], Any]) -> Callable[[str], bool]:
    def accepts(text: str) -> bool:
        try:
            check(text)
        except (errors.InvalidSpecError, ValueError):
            return False
        return True

    return accepts


def _matches(pattern: Any) -> Callable[[str], Any]:
    def check(text: str) -> None:
        if not pattern.match(text):
            raise ValueError(text)

    return check


CHECKERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "application": (_names.check_application_name, names.APPLICATION),
    "model": (_names.check_model_name, r"[a-z0-9]+[a-z0-9-]*"),
    "unit": (_names.parse_unit_name, rf"{names.APPLICATION}/[0-9]+"),
    "endpoint": (_endpoints.parse_endpoint, rf"{names.APPLICATION}:[a-z][a-z0-9]*"),
    "charm name": (_matches(charm.CHARM_NAME_RE), names.APPLICATION),
    "charm endpoint": (_matches(charm.ENDPOINT_NAME_RE), r"[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*"),
    "action": (_matches(charm.ACTION_NAME_RE), r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"),
    "cloud": (clouds.check_cloud_name, r"[a-z][a-z0-9.-]{0,20}"),
    "log entity": (logs.parse_entity, rf"{names.APPLICATION}/[0-9]+"),
    "secret key": (lambda key: sec.validate_content({key: "v"}), r"[a-z](?:-?[a-z0-9]){2,8}"),
    "secret name": (
        lambda name: sec.AddSecretRequest(name=name, content={"key": "v"}),
        r"[a-z][a-z0-9 _.-]{0,20}",
    ),
    "secret label": (lambda label: sec.SecretOp(op="add", id="x", label=label), r"[a-z]{1,9}"),
    "charm sha256": (
        lambda sha: api.DeployRequest(application="a", charm_sha256=sha),
        r"[0-9a-f]{64}",
    ),
    "config option": (
        lambda name: charm.CharmConfig.model_validate(
            {"options": {name: {"type": "string", "default": "x"}}}
        ),
        r"[a-z][a-z0-9-]{0,12}",
    ),
}


@st.composite
def _tainted(draw: st.DrawFn, pattern: str) -> str:
    """A valid name with a control character at its end, or somewhere in it."""
    name = draw(st.from_regex(pattern, fullmatch=True))
    control = draw(CONTROLS)
    at = draw(st.one_of(st.just(len(name)), st.integers(0, len(name))))
    return name[:at] + control + name[at:]


@pytest.mark.parametrize("kind", list(CHECKERS))
def test_fuzz_no_accepted_name_holds_a_control_character(kind: str) -> None:
    check, pattern = CHECKERS[kind]
    accepts = _accepts(check)

    @FUZZ
    @given(st.one_of(_tainted(pattern), st.text(max_size=40)))
    def property_(text: str) -> None:
        if accepts(text):
            assert not any(names.is_control(c) for c in text), (kind, text)

    property_()


@pytest.mark.parametrize("kind", list(CHECKERS))
def test_each_checker_accepts_its_own_clean_names(kind: str) -> None:
    """So the fuzz test above is not passing because everything is refused."""
    check, pattern = CHECKERS[kind]
    accepts = _accepts(check)

    @settings(max_examples=20, derandomize=True, deadline=None)
    @given(st.from_regex(pattern, fullmatch=True))
    def property_(text: str) -> None:
        if kind == "model":
            text = text[:63]
        assert accepts(text), (kind, text)

    property_()


@pytest.mark.parametrize("bad", ["evil\n", "a\r", "a\x00"])
def test_dollar_no_longer_lets_a_trailing_control_character_through(bad: str) -> None:
    for check in (_names.check_application_name, _names.check_model_name):
        with pytest.raises(errors.InvalidSpecError):
            check(bad)
    with pytest.raises(errors.InvalidSpecError):
        _names.parse_unit_name("app/0" + bad[-1])
    assert _names.parse_unit_name("app/0") == ("app", 0)
    with pytest.raises(ValueError, match="control character"):
        names.check_printable(bad)
    with pytest.raises(ValueError):
        bus.HookCommit.model_validate(
            {
                "unit": "a/0",
                "seq": 1,
                "hook": "h",
                "secrets": [{"op": "add", "id": "x", "label": bad}],
            }
        )


def test_a_long_refused_name_is_refused_without_backtracking() -> None:
    """Juju's spelling of the application rule backtracked through every split of every
    segment: this name took minutes (a hung test here means it is back)."""
    name = "a-" + "-".join(["aaaa"] * 40) + "!"
    with pytest.raises(errors.InvalidSpecError):
        _names.check_application_name(name)
    assert not charm.CHARM_NAME_RE.match(name)
