"""The plan layer of the Pebble agent, checked against Pebble's own cases and messages and
against ops (its `Layer`/`Plan` parsing and Harness' combining) as an oracle."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from runecraft.agents.pebble import _plan


@contextlib.contextmanager
def plan_error(message: str) -> Iterator[None]:
    """The block raises `PlanError` with exactly `message` (Pebble's text)."""
    with pytest.raises(_plan.PlanError) as caught:
        yield
    assert str(caught.value) == message


def flat(lanes: list[list[str]]) -> list[str]:
    return list(itertools.chain.from_iterable(lanes))


def services_plan(**services: dict[str, list[str]]) -> _plan.Plan:
    """A plan of services given as `name={"after": [...], "requires": [...]}`."""
    made = {
        name: _plan.Service(
            name=name,
            override="replace",
            command="cmd",
            **{key: tuple(value) for key, value in fields.items()},
        )
        for name, fields in services.items()
    }
    return _plan.Plan(services=made)


# Pebble's "relatively simple layer with override on top", combined.
COMBINED = services_plan(
    srv1={"after": ["srv2", "srv4"], "before": ["srv3", "srv5"], "requires": ["srv2", "srv3"]},
    srv2={},
    srv3={},
    srv4={},
    srv5={},
    srv6={},
)


@pytest.mark.parametrize(
    ("names", "start", "stop"),
    [
        (["srv1"], [["srv2", "srv1", "srv3"]], [["srv1"]]),
        (["srv2"], [["srv2"]], [["srv1", "srv2"]]),
        (["srv3"], [["srv3"]], [["srv3", "srv1"]]),
        (["srv6"], [["srv6"]], [["srv6"]]),
    ],
)
def test_start_pulls_in_requirements_and_stop_pulls_in_dependents(
    names: list[str], start: list[list[str]], stop: list[list[str]]
) -> None:
    assert _plan.start_lanes(COMBINED, names) == start
    assert _plan.stop_lanes(COMBINED, names) == stop


def test_a_requirement_chain_is_one_lane_reversed_to_stop() -> None:
    plan = services_plan(
        srv1={"requires": ["srv2"], "before": ["srv2"]},
        srv2={"requires": ["srv3"], "before": ["srv3"]},
        srv3={},
    )
    assert _plan.start_lanes(plan, ["srv1", "srv2", "srv3"]) == [["srv1", "srv2", "srv3"]]
    assert _plan.stop_lanes(plan, ["srv1", "srv2", "srv3"]) == [["srv3", "srv2", "srv1"]]


def test_unrelated_services_get_lanes_of_their_own() -> None:
    plan = services_plan(srv1={}, srv2={}, srv3={}, srv4={"requires": ["srv1"], "after": ["srv1"]})
    names = ["srv1", "srv2", "srv3", "srv4"]
    assert _plan.start_lanes(plan, names) == [["srv1", "srv4"], ["srv2"], ["srv3"]]
    assert _plan.stop_lanes(plan, names) == [["srv4", "srv1"], ["srv2"], ["srv3"]]


def test_order_follows_after_and_before_without_requires() -> None:
    plan = services_plan(a={"after": ["b"]}, b={"after": ["c"]}, c={}, d={"before": ["c"]})
    assert _plan.start_lanes(plan, ["a", "b", "c", "d"]) == [["d"], ["c"], ["b"], ["a"]]
    assert _plan.stop_lanes(plan, ["a", "b", "c", "d"]) == [["a"], ["b"], ["c"], ["d"]]


def test_stopping_a_service_stops_what_requires_it_transitively() -> None:
    plan = services_plan(db={}, app={"requires": ["db"]}, web={"requires": ["app"]}, other={})
    assert sorted(flat(_plan.stop_lanes(plan, ["db"]))) == ["app", "db", "web"]
    assert flat(_plan.start_lanes(plan, ["web"])) == ["app", "db", "web"]


@pytest.mark.parametrize(
    ("services", "message"),
    [
        (
            {"srv1": {"after": ["srv2"]}, "srv2": {"after": ["srv3"]}, "srv3": {"after": ["srv1"]}},
            "services in before/after loop: srv1, srv2, srv3",
        ),
        (
            {"b": {"before": ["a"]}, "a": {"before": ["b"]}, "c": {}},
            "services in before/after loop: a, b",
        ),
    ],
)
def test_a_before_after_loop_is_an_error(
    services: dict[str, dict[str, list[str]]], message: str
) -> None:
    plan = services_plan(**services)
    with plan_error(message):
        _plan.start_lanes(plan, list(services))
    with plan_error(message):
        _plan.stop_lanes(plan, list(services))


def test_an_unknown_service_is_an_error() -> None:
    plan = services_plan(a={"requires": ["ghost"]})
    with plan_error('service "nope" does not exist'):
        _plan.start_lanes(plan, ["nope"])
    with plan_error('service "ghost" does not exist'):
        _plan.start_lanes(plan, ["a"])
    with plan_error('service "nope" does not exist'):
        _plan.stop_lanes(plan, ["nope"])


# Parsing a layer: Pebble's strict schema and its messages.

YAML_PREFIX = "cannot parse layer YAML: "


def service_yaml(*lines: str, name: str = "svc1") -> str:
    """A layer with one service made of `lines` (each `key: value`)."""
    body = "".join(f"    {line}\n" for line in lines)
    return f"services:\n  {name}:\n{body}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "foo: 1\n", 'cannot parse layer "L": unknown section "foo"', id="unknown-section"
        ),
        pytest.param(
            service_yaml("override: replace", "future: 1"),
            'cannot parse layer "L" section "services": yaml: unmarshal errors:\n'
            "  line 3: field future not found in type plan.Service",
            id="unknown-service-field",
        ),
        pytest.param(
            "checks:\n  chk:\n    override: replace\n    http: {url: x, verb: GET}\n",
            'cannot parse layer "L" section "checks": yaml: unmarshal errors:\n'
            "  line 3: field verb not found in type plan.HTTPCheck",
            id="unknown-http-field",
        ),
        pytest.param(
            "log-targets:\n  t:\n    override: replace\n    kind: loki\n",
            'cannot parse layer "L" section "log-targets": yaml: unmarshal errors:\n'
            "  line 3: field kind not found in type plan.LogTarget",
            id="unknown-log-target-field",
        ),
        pytest.param(
            service_yaml("override: replace", "user-id: abc", "after: foo", "environment: [a]"),
            'cannot parse layer "L" section "services": yaml: unmarshal errors:\n'
            "  line 3: cannot unmarshal !!str `abc` into int\n"
            "  line 4: cannot unmarshal !!str `foo` into []string\n"
            "  line 5: cannot unmarshal !!seq into map[string]string",
            id="type-errors-together",
        ),
        pytest.param(
            "summary: {a: 1}\n",
            'cannot parse layer "L" section "summary": yaml: unmarshal errors:\n'
            "  line 1: cannot unmarshal !!map into string",
            id="summary-not-a-string",
        ),
        pytest.param(
            "just some text",
            'cannot parse layer "L": yaml: unmarshal errors:\n'
            "  line 1: cannot unmarshal !!str `just so...` into map[string]yaml.Node",
            id="not-a-mapping",
        ),
        pytest.param(
            "services: {svc1: foo}",
            'cannot parse layer "L" section "services": yaml: unmarshal errors:\n'
            "  line 1: cannot unmarshal !!str `foo` into plan.Service",
            id="service-not-a-mapping",
        ),
        pytest.param(
            "services:\n  a:\n    override: replace\n  a:\n    override: merge\n",
            'cannot parse layer "L" section "services": yaml: unmarshal errors:\n'
            '  line 3: mapping key "a" already defined at line 1',
            id="repeated-key",
        ),
        pytest.param(
            service_yaml("override: replace", "kill-delay: foo"),
            'cannot parse layer "L" section "services": invalid duration "foo"',
            id="bad-duration",
        ),
        pytest.param(
            service_yaml("override: replace", "kill-delay: 5"),
            'cannot parse layer "L" section "services": invalid duration "5"',
            id="duration-without-unit",
        ),
        pytest.param(
            service_yaml("override: replace", "kill-delay: [5s]"),
            'cannot parse layer "L" section "services": duration must be a YAML string',
            id="duration-not-a-scalar",
        ),
        pytest.param(
            service_yaml("override: replace", "backoff-factor: foo"),
            'cannot parse layer "L" section "services": invalid floating-point number "foo"',
            id="bad-factor",
        ),
        pytest.param(
            service_yaml("override: replace", "backoff-factor: 0.5"),
            'plan service "svc1" backoff-factor must be 1.0 or greater, not 0.5',
            id="small-factor",
        ),
        pytest.param(
            service_yaml("override: replace", "backoff-factor: 0"),
            'plan service "svc1" backoff-factor must be 1.0 or greater, not 0',
            id="zero-factor",
        ),
        pytest.param(
            service_yaml("override: replace", "command: cmd 'unclosed"),
            'plan service "svc1" command invalid: cannot parse service "svc1" command: '
            "EOF found when expecting closing quote",
            id="open-quote",
        ),
        pytest.param(
            service_yaml("override: replace", "command: cmd [ -v ] -x"),
            'plan service "svc1" command invalid: cannot parse service "svc1" command: '
            "cannot have any arguments after [ ... ] group",
            id="args-after-group",
        ),
        pytest.param(
            service_yaml("override: replace", "command: cmd ] -x"),
            'plan service "svc1" command invalid: cannot parse service "svc1" command: '
            "cannot have ] outside of [ ... ] group",
            id="stray-bracket",
        ),
        pytest.param(
            service_yaml("override: replace", "command: cmd [ [ -x ] ]"),
            'plan service "svc1" command invalid: cannot parse service "svc1" command: '
            "cannot nest [ ... ] groups",
            id="nested-group",
        ),
        pytest.param(
            service_yaml("override: replace", "command: '[ -x ]'"),
            'plan service "svc1" command invalid: cannot parse service "svc1" command: '
            "cannot start command with [ ... ] group",
            id="group-first",
        ),
        pytest.param(
            service_yaml("override: replace", "on-success: foo"),
            'plan service "svc1" on-success action "foo" invalid',
            id="bad-on-success",
        ),
        pytest.param(
            service_yaml("override: replace", "on-success: success-shutdown"),
            'plan service "svc1" on-success action "success-shutdown" invalid',
            id="on-success-cannot-success-shutdown",
        ),
        pytest.param(
            service_yaml("override: replace", "on-failure: failure-shutdown"),
            'plan service "svc1" on-failure action "failure-shutdown" invalid',
            id="on-failure-cannot-failure-shutdown",
        ),
        pytest.param(
            service_yaml("override: replace", "on-check-failure: {chk1: failure-shutdown}"),
            'plan service "svc1" on-check-failure action "failure-shutdown" invalid',
            id="bad-on-check-failure",
        ),
        pytest.param(
            service_yaml("override: replace", name="pebble"),
            'cannot use reserved service name "pebble"',
            id="reserved-name",
        ),
        pytest.param(
            service_yaml("override: replace", name="-svc1"),
            'cannot use service name "-svc1": starting with "-" not allowed',
            id="dash-name",
        ),
        pytest.param(
            service_yaml("override: replace", name='""'),
            "cannot use empty string as service name",
            id="empty-name",
        ),
        pytest.param(
            "services:\n  svc1:\n",
            'service object cannot be null for service "svc1"',
            id="null-service",
        ),
        pytest.param(
            "checks:\n  chk1:\n    override: replace\n    level: foo\n",
            'plan check "chk1" level must be "alive" or "ready"',
            id="bad-level",
        ),
        pytest.param(
            "checks:\n  chk1:\n    override: replace\n    startup: foo\n",
            'plan check "chk1" startup must be "enabled" or "disabled"',
            id="bad-check-startup",
        ),
        pytest.param(
            "checks:\n  chk1:\n    override: replace\n    period: 0s\n",
            'plan check "chk1" period must not be zero',
            id="zero-period",
        ),
        pytest.param(
            "checks:\n  chk1:\n    override: replace\n    timeout: '0'\n",
            'plan check "chk1" timeout must not be zero',
            id="zero-timeout",
        ),
        pytest.param(
            "checks:\n  chk1:\n    override: replace\n    exec: {command: 'a \"b'}\n",
            'plan check "chk1" command invalid: EOF found when expecting closing quote',
            id="bad-exec-command",
        ),
        pytest.param(
            "checks:\n  chk1:\n", 'check object cannot be null for check "chk1"', id="null-check"
        ),
        pytest.param(
            "log-targets:\n  tgt1:\n    override: replace\n    type: foobar\n",
            'log target "tgt1" has unsupported type "foobar", '
            'must be "loki", "opentelemetry" or "syslog"',
            id="bad-target-type",
        ),
        pytest.param(
            "log-targets:\n  tgt1:\n    override: replace\n    labels: {pebble_service: x}\n",
            'log target "tgt1": label "pebble_service" uses reserved prefix "pebble_"',
            id="reserved-label",
        ),
    ],
)
def test_a_bad_layer_is_refused_with_pebbles_words(text: str, message: str) -> None:
    with plan_error(YAML_PREFIX + message):
        _plan.parse_layer(text, "L")


def test_a_syntax_error_names_the_line() -> None:
    with pytest.raises(_plan.PlanError) as caught:
        _plan.parse_layer("services:\n  a: b: c\n", "L")
    assert str(caught.value).startswith(YAML_PREFIX + 'cannot parse layer "L": yaml: line 2: ')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (service_yaml("command: x"), 'layer "L" must define "override" for service "svc1"'),
        (
            service_yaml("override: over", "command: x"),
            'layer "L" has invalid "override" value for service "svc1"',
        ),
        (
            "checks:\n  chk1:\n    tcp: {port: 1}\n",
            'layer "L" must define "override" for check "chk1"',
        ),
        (
            "log-targets:\n  tgt1:\n    type: loki\n",
            'layer "L" must define "override" for log target "tgt1"',
        ),
    ],
)
def test_every_item_must_say_how_it_combines(text: str, message: str) -> None:
    # Pebble finds this while combining, so the API answers it without the parse prefix.
    with plan_error(message):
        _plan.parse_layer(text, "L")


def test_labels_are_required_and_pebble_ones_reserved() -> None:
    with plan_error("label must be set"):
        _plan.parse_layer("{}", "")
    with plan_error(YAML_PREFIX + 'cannot use reserved label prefix "pebble-"'):
        _plan.parse_layer("{}", "pebble-mine")


def test_string_fields_take_the_literal_text_of_any_scalar() -> None:
    layer = _plan.parse_layer(
        service_yaml(
            "override: replace",
            "command: 8000",
            "environment: {A: true, B: 8000, C: 1.50, D: yes, E: ~, F: 0x10, 7: seven}",
            "summary: no",
        ),
        "L",
    )
    service = layer.services["svc1"]
    assert service.command == "8000"
    assert service.summary == "no"
    expected = {"A": "true", "B": "8000", "C": "1.50", "D": "yes", "E": "", "F": "0x10"}
    assert service.environment == {**expected, "7": "seven"}


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("1000", 1000), ("0o17", 15), ("0755", 493), ("0x1F", 31), ("1_000", 1000)],
)
def test_ids_resolve_as_go_integers(text: str, value: int) -> None:
    layer = _plan.parse_layer(service_yaml("override: replace", f"user-id: {text}"), "L")
    assert layer.services["svc1"].user_id == value


def test_durations_and_numbers_are_kept_only_when_given() -> None:
    layer = _plan.parse_layer(
        service_yaml(
            "override: replace", "backoff-delay: 250ms", "backoff-factor: 1", "kill-delay: ~"
        ),
        "L",
    )
    service = layer.services["svc1"]
    assert (service.backoff_delay, service.backoff_factor) == (0.25, 1.0)
    assert (service.backoff_limit, service.kill_delay) == (None, None)


def test_empty_documents_are_empty_layers_and_only_the_first_document_counts() -> None:
    for text in ("", "{}", "~", "---\n", "summary: s\n---\nnot: [valid\n"):
        layer = _plan.parse_layer(text, "L")
        assert (layer.services, layer.checks, layer.log_targets) == ({}, {}, {})


def test_anchors_and_merge_keys_work_as_in_go() -> None:
    text = (
        "services:\n  a: &base {override: replace, command: x}\n"
        "  b:\n    <<: *base\n    command: y\n"
    )
    layer = _plan.parse_layer(text.encode(), "L")
    assert layer.services["a"].command == "x"
    assert (layer.services["b"].override, layer.services["b"].command) == ("replace", "y")


def test_a_check_type_is_validated_in_the_plan_not_the_layer() -> None:
    layer = _plan.parse_layer("checks:\n  chk1:\n    override: merge\n    threshold: 0\n", "L")
    check = layer.checks["chk1"]
    assert (check.threshold, check.http, check.tcp, check.exec) == (None, None, None, None)
    empty_http = _plan.parse_layer("checks:\n  c:\n    override: replace\n    http: {}\n", "L")
    assert empty_http.checks["c"].http == _plan.HttpCheck()


def test_service_startup_is_not_checked_as_pebble_does_not() -> None:
    layer = _plan.parse_layer(service_yaml("override: replace", "startup: sometimes"), "L")
    assert not layer.services["svc1"].enabled


# The layers directory.

SIMPLE = "services:\n  {name}:\n    override: replace\n    command: run {name}\n"


def write_layers(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_layers_come_in_order_with_pebbles_numbering(tmp_path: Path) -> None:
    write_layers(
        tmp_path,
        {
            "003-baz.yaml": SIMPLE.format(name="baz"),
            "001-foo.yaml": SIMPLE.format(name="foo"),
            "002-bar.d/002-bbb.yaml": SIMPLE.format(name="bbb"),
            "002-bar.d/001-aaa.yaml": SIMPLE.format(name="aaa"),
            "README.md": "not a layer",
        },
    )
    layers = _plan.read_layers_dir(tmp_path)
    assert [(layer.label, layer.order) for layer in layers] == [
        ("foo", 1000),
        ("bar/aaa", 2001),
        ("bar/bbb", 2002),
        ("baz", 3000),
    ]
    assert list(layers[1].services) == ["aaa"]


def test_a_missing_layers_directory_has_no_layers(tmp_path: Path) -> None:
    assert _plan.read_layers_dir(tmp_path / "absent") == []


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"1-foo.yaml": "{}"},
            'invalid layer filename: "1-foo.yaml" (must look like "123-some-label.yaml")',
        ),
        (
            {"001-Foo.yaml": "{}"},
            'invalid layer filename: "001-Foo.yaml" (must look like "123-some-label.yaml")',
        ),
        (
            {"001-foo.yaml": "{}", "001-bar.yaml": "{}"},
            'invalid layer filename: "001-foo.yaml" not unique (have "001-bar.yaml" already)',
        ),
        (
            {"001-foo.yaml": "{}", "002-foo.yaml": "{}"},
            'invalid layer filename: "002-foo.yaml" not unique (have "001-foo.yaml" already)',
        ),
        (
            {"01-bar.d/001-aaa.yaml": "{}"},
            'invalid layer sub-directory name: "01-bar.d" (must look like "123-some-label.d")',
        ),
        (
            {"001-bar.d/001-aaa.d/001-x.yaml": "{}"},
            "cannot have a layers sub-directory at this level",
        ),
        (
            {"001-foo.yaml": "services:\n  x:\n    command: y\n"},
            'layer "foo" must define "override" for service "x"',
        ),
        (
            {"001-foo.yaml": "oops: 1\n"},
            'cannot parse layer "foo": unknown section "oops"',
        ),
    ],
)
def test_bad_layer_files_are_refused(tmp_path: Path, files: dict[str, str], message: str) -> None:
    write_layers(tmp_path, files)
    with plan_error(message):
        _plan.read_layers_dir(tmp_path)
