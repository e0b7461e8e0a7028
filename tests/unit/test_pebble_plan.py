"""The plan layer of the Pebble agent, checked against Pebble's own cases and messages and
against ops (its `Layer`/`Plan` parsing and Harness' combining) as an oracle."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ops
import ops.testing
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from runecraft.agents.pebble import _command, _durations, _plan, _yamlv3


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


# Combining layers and building the plan.

PEBBLE_BASE = """
summary: Simple layer
description: A simple layer.
services:
    srv1:
        override: replace
        summary: Service summary
        command: cmd arg1 "arg2 arg3"
        kill-delay: 10s
        startup: enabled
        after: [srv2]
        before: [srv3]
        requires: [srv2, srv3]
        environment: {var1: val1, var0: val0, var2: val2}
        backoff-delay: 1s
        backoff-factor: 1.5
        backoff-limit: 10s
        working-dir: /workdir/srv1
    srv2:
        override: replace
        startup: enabled
        command: cmd
        before: [srv3]
        working-dir: /workdir/srv2
    srv3:
        override: replace
        command: cmd
    srv6:
        override: replace
        command: cmd6a
"""
PEBBLE_OVERRIDE = """
summary: Simple override layer.
description: The second layer.
services:
    srv1:
        override: merge
        environment: {var3: val3}
        after: [srv4]
        before: [srv5]
        working-dir: /workdir/srv1/override
    srv2:
        override: replace
        startup: disabled
        command: cmd
        summary: Replaced service
    srv4:
        override: replace
        command: cmd
        startup: enabled
    srv5:
        override: replace
        command: cmd
    srv6:
        override: merge
        command: cmd6b
        environment: {foo: bar, baz: buz}
        on-check-failure: {chk1: restart}
"""
PEBBLE_PLAN = """\
services:
    srv1:
        summary: Service summary
        startup: enabled
        override: replace
        command: cmd arg1 "arg2 arg3"
        after:
            - srv2
            - srv4
        before:
            - srv3
            - srv5
        requires:
            - srv2
            - srv3
        environment:
            var0: val0
            var1: val1
            var2: val2
            var3: val3
        working-dir: /workdir/srv1/override
        backoff-delay: 1s
        backoff-factor: 1.5
        backoff-limit: 10s
        kill-delay: 10s
    srv2:
        summary: Replaced service
        startup: disabled
        override: replace
        command: cmd
    srv3:
        override: replace
        command: cmd
    srv4:
        startup: enabled
        override: replace
        command: cmd
    srv5:
        override: replace
        command: cmd
    srv6:
        override: replace
        command: cmd6b
        environment:
            baz: buz
            foo: bar
        on-check-failure:
            chk1: restart
"""


def pebble_layers() -> list[_plan.Layer]:
    return [
        _plan.parse_layer(PEBBLE_BASE, "layer-0", 0),
        _plan.parse_layer(PEBBLE_OVERRIDE, "layer-1", 1),
    ]


def test_pebbles_layers_combine_into_pebbles_plan() -> None:
    combined = _plan.combine_layers(pebble_layers())
    assert (combined.summary, combined.description) == (
        "Simple override layer.",
        "The second layer.",
    )
    assert (combined.label, combined.order) == ("layer-0", 0)
    assert _plan.plan_yaml(_plan.build_plan(pebble_layers())) == PEBBLE_PLAN


def test_replace_discards_and_merge_keeps_the_first_override() -> None:
    first = _plan.parse_layer(service_yaml("override: replace", "command: a", "user: u"), "one")
    merge = _plan.parse_layer(service_yaml("override: merge", "group-id: 0"), "two")
    replace = _plan.parse_layer(service_yaml("override: replace", "command: b"), "three")
    merged = _plan.combine_layers([first, merge]).services["svc1"]
    assert (merged.override, merged.command, merged.user, merged.group_id) == (
        "replace",
        "a",
        "u",
        0,
    )
    replaced = _plan.combine_layers([first, merge, replace]).services["svc1"]
    assert replaced == replace.services["svc1"]


def test_checks_merge_inside_their_type_and_store_the_default_threshold() -> None:
    first = _plan.parse_layer(
        "checks:\n  up:\n    override: replace\n    period: 1m\n"
        "    http: {url: 'http://a/', headers: {A: '1'}}\n",
        "one",
    )
    second = _plan.parse_layer(
        "checks:\n  up:\n    override: merge\n    level: ready\n    http: {headers: {B: '2'}}\n",
        "two",
    )
    check = _plan.build_plan([first, second]).checks["up"]
    assert check.http == _plan.HttpCheck(url="http://a/", headers={"A": "1", "B": "2"})
    assert (check.threshold, check.period, check.level) == (3, 60.0, "ready")
    assert yaml.safe_load(_plan.plan_yaml(_plan.build_plan([first, second]))) == {
        "checks": {
            "up": {
                "override": "replace",
                "level": "ready",
                "period": "1m0s",
                "threshold": 3,
                "http": {"url": "http://a/", "headers": {"A": "1", "B": "2"}},
            }
        }
    }


def test_log_targets_append_services_and_always_show_type_location_and_services() -> None:
    services = "services:\n  a: {override: replace, command: x}\n"
    first = _plan.parse_layer(
        services + "log-targets:\n  t: {override: merge, type: loki, location: 'http://l/'}\n",
        "one",
    )
    second = _plan.parse_layer(
        "log-targets:\n  t: {override: merge, services: [all, -a], labels: {k: v}}\n", "two"
    )
    plan = _plan.build_plan([first])
    assert yaml.safe_load(_plan.plan_yaml(plan))["log-targets"] == {
        "t": {"type": "loki", "location": "http://l/", "services": [], "override": "merge"}
    }
    target = _plan.build_plan([first, second, second]).log_targets["t"]
    assert target.services == ("all", "-a", "all", "-a")
    assert target.labels == {"k": "v"}


def test_an_empty_plan_is_an_empty_mapping() -> None:
    assert _plan.plan_yaml(_plan.build_plan([])) == "{}\n"
    assert _plan.plan_yaml(_plan.build_plan([_plan.parse_layer("summary: s", "L")])) == "{}\n"


SERVICE_A = "services:\n  a: {override: replace, command: run}\n"


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (
            [SERVICE_A, "services:\n  b: {override: merge, summary: no command}\n"],
            'plan must define "command" for service "b"',
        ),
        (
            ["checks:\n  chk1: {override: replace, level: alive}\n"],
            'plan must specify one of "http", "tcp", or "exec" for check "chk1"',
        ),
        (
            ["checks:\n  chk1: {override: replace, http: {url: u}, tcp: {port: 1}}\n"],
            'plan must specify one of "http", "tcp", or "exec" for check "chk1"',
        ),
        (
            ["checks:\n  chk1: {override: replace, http: {headers: {a: b}}}\n"],
            'plan must set "url" for http check "chk1"',
        ),
        (
            ["checks:\n  chk2: {override: replace, tcp: {host: h}}\n"],
            'plan must set "port" for tcp check "chk2"',
        ),
        (
            ["checks:\n  chk3: {override: replace, exec: {working-dir: /}}\n"],
            'plan must set "command" for exec check "chk3"',
        ),
        (
            [
                SERVICE_A + "checks:\n  chk1:\n    override: replace\n"
                "    exec: {command: 'true', service-context: nosvc}\n"
            ],
            'plan check "chk1" service context specifies non-existent service "nosvc"',
        ),
        (
            [SERVICE_A + "log-targets:\n  tgt1: {override: replace, location: l}\n"],
            'plan must define "type" ("loki", "opentelemetry" or "syslog") for log target "tgt1"',
        ),
        (
            [SERVICE_A + "log-targets:\n  tgt1: {override: replace, type: syslog}\n"],
            'plan must define "location" for log target "tgt1"',
        ),
        (
            [
                SERVICE_A + "log-targets:\n  tgt1:\n    override: replace\n    type: loki\n"
                "    location: l\n    services: [a, -nonexistent]\n"
            ],
            'log target "tgt1" specifies unknown service "nonexistent"',
        ),
        (
            [
                "services:\n  srv1: {override: replace, command: cmd, after: [srv2]}\n",
                "services:\n  srv2: {override: replace, command: cmd, after: [srv1]}\n",
            ],
            "services in before/after loop: srv1, srv2",
        ),
        (
            ["services:\n  a: {override: replace, command: run, requires: [ghost]}\n"],
            'service "ghost" does not exist',
        ),
    ],
)
def test_an_invalid_plan_is_refused_with_pebbles_words(texts: list[str], message: str) -> None:
    layers = [_plan.parse_layer(text, f"layer-{i}") for i, text in enumerate(texts)]
    with plan_error(message):
        _plan.build_plan(layers)


def test_after_and_before_may_name_services_not_in_the_plan() -> None:
    layer = _plan.parse_layer(
        "services:\n  a: {override: replace, command: run, after: [x], before: [y]}\n", "L"
    )
    assert list(_plan.build_plan([layer]).services) == ["a"]


def test_building_layers_made_in_code_checks_overrides_and_commands() -> None:
    no_override = _plan.Layer(label="L", services={"a": _plan.Service(name="a", command="x")})
    with plan_error('layer "L" must define "override" for service "a"'):
        _plan.build_plan([no_override])
    bad = _plan.Layer(
        label="L", services={"a": _plan.Service(name="a", override="replace", command="x [ y")}
    )
    assert _plan.build_plan([bad]).services["a"].command == "x [ y"  # an open group is fine
    worse = _plan.Layer(
        label="L", services={"a": _plan.Service(name="a", override="replace", command="x ]")}
    )
    with plan_error(
        'plan service "a" command invalid: cannot parse service "a" command: '
        "cannot have ] outside of [ ... ] group"
    ):
        _plan.build_plan([worse])


# Properties over generated layers.

NAMES = st.sampled_from(["a", "b", "c", "db", "web"])
WORDS = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")),
    min_size=1,
    max_size=8,
)
TRICKY = st.sampled_from(["8000", "true", "yes", "~", "1.50", "0x10", "a: b", "- x", "#x"])
TEXT = WORDS | TRICKY
DURATION = st.integers(min_value=1, max_value=10**7).map(
    lambda ms: _durations.format_duration_ns(ms * 10**6)
)
COMMAND = st.sampled_from(["run", "run --flag 'a b'", "run [ --default ]", 'sh -c "echo hi"'])


def optional(**fields: st.SearchStrategy[object]) -> st.SearchStrategy[dict[str, object]]:
    """Dicts with any subset of `fields` (YAML keys), as charms leave fields out."""
    return st.fixed_dictionaries({}, optional=fields)  # type: ignore[arg-type]


def service_dicts(override: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, object]]:
    return st.tuples(
        st.fixed_dictionaries({"override": override, "command": COMMAND}),
        optional(
            summary=TEXT,
            description=TEXT,
            startup=st.sampled_from(["enabled", "disabled"]),
            after=st.lists(NAMES, max_size=2),
            before=st.lists(NAMES, max_size=2),
            requires=st.lists(NAMES, max_size=2),
            environment=st.dictionaries(WORDS, TEXT, max_size=3),
            user=WORDS,
            **{"user-id": st.integers(0, 70000), "group-id": st.integers(0, 70000)},
            **{"working-dir": WORDS, "on-success": st.sampled_from(["restart", "ignore"])},
            **{"on-failure": st.sampled_from(["restart", "shutdown", "success-shutdown"])},
            **{"on-check-failure": st.dictionaries(NAMES, st.sampled_from(["restart", "ignore"]))},
            **{"backoff-delay": DURATION, "backoff-limit": DURATION, "kill-delay": DURATION},
            **{"backoff-factor": st.sampled_from([1.0, 1.5, 2.0, 3.25, 10.0])},
        ),
    ).map(lambda parts: {**parts[0], **parts[1]})


def check_dicts(override: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, object]]:
    kind = st.one_of(
        st.fixed_dictionaries(
            {
                "http": st.fixed_dictionaries(
                    {"url": WORDS},
                    optional={"headers": st.dictionaries(WORDS, TEXT, min_size=1, max_size=2)},
                )
            }
        ),
        st.fixed_dictionaries(
            {
                "tcp": st.fixed_dictionaries(
                    {"port": st.integers(1, 65535)}, optional={"host": WORDS}
                )
            }
        ),
        st.fixed_dictionaries(
            {
                "exec": st.fixed_dictionaries(
                    {"command": COMMAND},
                    optional={
                        "environment": st.dictionaries(WORDS, TEXT, min_size=1, max_size=2),
                        "working-dir": WORDS,
                    },
                )
            }
        ),
    )
    common = st.fixed_dictionaries(
        {"override": override, "threshold": st.integers(1, 9)},
        optional={
            "level": st.sampled_from(["alive", "ready"]),
            "startup": st.sampled_from(["enabled", "disabled"]),
            "period": DURATION,
            "timeout": DURATION,
        },
    )
    return st.tuples(common, kind).map(lambda parts: {**parts[0], **parts[1]})


def layer_dicts(override: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, object]]:
    target = st.fixed_dictionaries(
        {
            "override": override,
            "type": st.sampled_from(["loki", "opentelemetry", "syslog"]),
            "location": WORDS,
        },
        optional={
            "services": st.lists(st.sampled_from(["all", "-all"]), max_size=2),
            "labels": st.dictionaries(
                WORDS.filter(lambda w: not w.startswith("pebble_")), TEXT, max_size=2
            ),
        },
    )
    return optional(
        summary=TEXT,
        description=TEXT,
        services=st.dictionaries(NAMES, service_dicts(override), max_size=4),
        checks=st.dictionaries(NAMES, check_dicts(override), max_size=3),
        **{"log-targets": st.dictionaries(NAMES, target, max_size=2)},
    )


OVERRIDES = st.sampled_from(["merge", "replace"])


def parsed(layer: dict[str, object], label: str = "L") -> _plan.Layer:
    return _plan.parse_layer(yaml.safe_dump(layer), label)


def valid_plan(layers: list[_plan.Layer]) -> _plan.Plan:
    try:
        return _plan.build_plan(layers)
    except _plan.PlanError as exc:  # a loop, a missing service, check types mixed by merging
        reject = ("loop", "does not exist", "non-existent", "one of")
        assume(not any(word in str(exc) for word in reject))
        raise


@settings(max_examples=150, deadline=None)
@given(st.lists(layer_dicts(OVERRIDES), min_size=1, max_size=3))
def test_the_plans_yaml_read_back_as_a_layer_gives_the_same_yaml(
    layers: list[dict[str, object]],
) -> None:
    plan = valid_plan([parsed(layer, f"layer-{i}") for i, layer in enumerate(layers)])
    text = _plan.plan_yaml(plan)
    assert _plan.plan_yaml(_plan.build_plan([_plan.parse_layer(text, "again")])) == text


@settings(max_examples=150, deadline=None)
@given(layer_dicts(OVERRIDES))
def test_ops_reads_the_plan_as_the_layer_the_charm_added(layer: dict[str, object]) -> None:
    plan = valid_plan([parsed(layer)])
    seen = ops.pebble.Plan(yaml.safe_load(_plan.plan_yaml(plan)))
    wanted = ops.pebble.Layer(layer)  # type: ignore[arg-type]
    assert seen.services == wanted.services
    assert seen.checks == wanted.checks
    assert seen.log_targets == wanted.log_targets


def doubled(item: Any) -> Any:
    """What merging an item into itself gives: its lists twice over."""
    if item.override != "merge":
        return item
    lists = {
        f.name: getattr(item, f.name) * 2
        for f in dataclasses.fields(item)
        if isinstance(getattr(item, f.name), tuple)
    }
    return dataclasses.replace(item, **lists)


@settings(deadline=None)
@given(layer_dicts(OVERRIDES))
def test_a_layer_combined_with_itself_only_repeats_its_lists(layer_dict: dict[str, object]) -> None:
    layer = parsed(layer_dict)
    twice = _plan.combine_layers([layer, layer])
    assert twice.services == {name: doubled(s) for name, s in layer.services.items()}
    assert twice.checks == layer.checks  # thresholds are all set here
    assert twice.log_targets == {name: doubled(t) for name, t in layer.log_targets.items()}
    assert (twice.summary, twice.description) == (layer.summary, layer.description)


def content(layer: _plan.Layer) -> tuple[object, ...]:
    return (layer.summary, layer.description, layer.services, layer.checks, layer.log_targets)


@settings(deadline=None)
@given(st.lists(layer_dicts(OVERRIDES), min_size=3, max_size=3))
def test_combining_is_associative_when_thresholds_are_set(dicts: list[dict[str, object]]) -> None:
    a, b, c = (parsed(d, label) for d, label in zip(dicts, "abc", strict=True))
    left = _plan.combine_layers([_plan.combine_layers([a, b]), c])
    right = _plan.combine_layers([a, _plan.combine_layers([b, c])])
    assert content(left) == content(right) == content(_plan.combine_layers([a, b, c]))


def test_a_stored_default_threshold_breaks_associativity_as_in_pebble() -> None:
    # combine=True on an existing label stores Pebble's combined layer, threshold 3 included,
    # so it then overrides an earlier layer's threshold: Pebble behaves the same way.
    a = _plan.parse_layer("checks:\n  c: {override: replace, threshold: 5, tcp: {port: 1}}\n", "a")
    b = _plan.parse_layer("checks:\n  c: {override: merge, level: alive}\n", "b")
    assert _plan.combine_layers([a, b]).checks["c"].threshold == 5
    assert _plan.combine_layers([a, _plan.combine_layers([b])]).checks["c"].threshold == 3


# ops' Harness as an oracle for combining. It is looser than Pebble, so these layers keep out
# of its differences: it does not validate; its merge takes the newer `override` (so they say
# `merge` throughout, or `replace` to start over); a merged check without a `level` loses
# the older one; and it merges into the stored layers when it renders, so lists merged
# across labels would be appended twice (within a label, combine=True is right).

HARNESS_LAYERS: list[tuple[str, dict[str, Any]]] = [
    (
        "base",
        {
            "summary": "base",
            "services": {
                "web": {
                    "override": "merge",
                    "command": "web --port 80 [ --debug ]",
                    "startup": "enabled",
                    "environment": {"A": "1", "B": "2"},
                    "after": ["db"],
                    "on-check-failure": {"up": "restart"},
                },
                "db": {"override": "merge", "command": "db", "kill-delay": "1m0s"},
            },
            "checks": {
                "up": {"override": "merge", "threshold": 2, "http": {"url": "http://x/"}},
                "port": {"override": "merge", "threshold": 3, "tcp": {"port": 80}},
            },
            "log-targets": {
                "loki": {"override": "merge", "type": "loki", "location": "http://l/"},
            },
        },
    ),
    (
        "base",
        {
            "services": {
                "web": {
                    "override": "merge",
                    "environment": {"B": "3", "C": "4"},
                    "after": ["cache"],
                    "backoff-delay": "2s",
                    "user-id": 0,
                },
                "cache": {"override": "merge", "command": "cache", "requires": ["db"]},
            },
            "checks": {
                "up": {
                    "override": "merge",
                    "level": "alive",
                    "http": {"headers": {"X": "y"}},
                },
                "port": {"override": "replace", "threshold": 5, "tcp": {"port": 81}},
            },
            "log-targets": {"loki": {"override": "merge", "services": ["web"]}},
        },
    ),
    (
        "extra",
        {
            "summary": "extra",
            "services": {
                "db": {"override": "replace", "command": "db2", "startup": "enabled"},
                "web": {"override": "merge", "summary": "the site", "working-dir": "/srv"},
            },
            "checks": {"up": {"override": "merge", "level": "alive", "period": "30s"}},
            "log-targets": {"loki": {"override": "merge", "labels": {"a": "b"}}},
        },
    ),
]


class _Workload(ops.CharmBase):
    pass


harness_warning = pytest.mark.filterwarnings("ignore:Harness is deprecated")


def harness_plan(layers: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    harness: ops.testing.Harness[_Workload] = ops.testing.Harness(
        _Workload, meta="name: workload\ncontainers:\n  app: {}\n"
    )
    try:
        harness.begin()
        harness.set_can_connect("app", True)
        container = harness.model.unit.get_container("app")
        for label, layer in layers:
            container.add_layer(label, layer, combine=True)  # type: ignore[arg-type]
        return dict(container.get_plan().to_dict())
    finally:
        harness.cleanup()


def our_plan(layers: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Layers added with combine=True, as the API stores them: same label, combined."""
    stack: list[_plan.Layer] = []
    for label, layer_dict in layers:
        layer = _plan.parse_layer(yaml.safe_dump(layer_dict), label)
        stored = [i for i, old in enumerate(stack) if old.label == label]
        if stored:
            stack[stored[0]] = _plan.combine_layers([stack[stored[0]], layer])
        else:
            stack.append(layer)
    text = _plan.plan_yaml(_plan.build_plan(stack))
    return dict(ops.pebble.Plan(yaml.safe_load(text)).to_dict())


@harness_warning
@pytest.mark.parametrize("count", [1, 2, 3])
def test_combining_agrees_with_ops_harness(count: int) -> None:
    assert our_plan(HARNESS_LAYERS[:count]) == harness_plan(HARNESS_LAYERS[:count])


@harness_warning
def test_the_harness_oracle_would_see_a_difference() -> None:
    changed = [
        *HARNESS_LAYERS[:2],
        ("extra", {"services": {"web": {"override": "merge", "after": ["x"]}}}),
    ]
    assert our_plan(changed) != harness_plan(HARNESS_LAYERS)


# Commands split as Pebble splits them, and floats printed as Go prints them.


@pytest.mark.parametrize(
    ("command", "words", "defaults"),
    [
        ('cmd arg1 "arg2 arg3"', ["cmd", "arg1", "arg2 arg3"], []),
        ("say \"a\\qb\" 'c\\d'", ["say", "aqb", "c\\d"], []),  # any escape inside "..."
        ("a#b # the rest\nc", ["a#b", "c"], []),  # `#` starting a word comments out the line
        ('run "" x', ["run", "", "x"], []),
        ("srv --port 80 [ --debug --verbose ]", ["srv", "--port", "80"], ["--debug", "--verbose"]),
        ("srv [ ]", ["srv"], []),
        ("srv [ open", ["srv"], ["open"]),
    ],
)
def test_commands_split_like_pebble(command: str, words: list[str], defaults: list[str]) -> None:
    assert _command.parse_command(command) == (words, defaults)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("a 'b", "EOF found when expecting closing quote"),
        ('a "b\\"', "EOF found when expecting closing quote"),
        ("a b\\", "EOF found after escape character"),
    ],
)
def test_unfinished_commands_fail_with_pebbles_words(command: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        _command.split_command(command)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        *((2.0, "2"), (1.5, "1.5"), (0.5, "0.5"), (123456.0, "123456"), (1e6, "1e+06")),
        *((1234567.0, "1.234567e+06"), (1e-5, "1e-05"), (0.0001, "0.0001"), (-3.25, "-3.25")),
    ],
)
def test_floats_print_as_go_prints_them(value: float, text: str) -> None:
    assert _yamlv3.go_float(value) == text
