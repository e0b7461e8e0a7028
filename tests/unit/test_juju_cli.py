"""Pure parts of the Juju-compatible CLI, checked against the real `jubilant` parsers."""

from __future__ import annotations

import io
import json
from typing import Any

import jubilant
import pytest
from click.testing import CliRunner
from jubilant import modeltypes
from rich.console import Console

from runecraft import errors
from runecraft.cli import _juju, _output, _show, cli, juju_main
from runecraft.controller.services import build_unit_info
from runecraft.controller.state import ModelSnapshot
from runecraft.schemas.constraints import check_base, format_constraints, parse_constraints
from runecraft.schemas.juju import JUJU_VERSION


@pytest.mark.parametrize(
    ("system", "machine", "suffix"),
    [
        ("Linux", "x86_64", "ubuntu-amd64"),
        ("Linux", "aarch64", "ubuntu-arm64"),
        ("Linux", "ppc64le", "ubuntu-ppc64el"),
        ("Darwin", "arm64", "darwin-arm64"),
        ("Linux", "weird-cpu", "ubuntu-weird_cpu"),
    ],
)
def test_juju_version_parses_as_juju_does(system: str, machine: str, suffix: str) -> None:
    text = _juju.juju_version(system, machine)
    assert text == f"{JUJU_VERSION}-{suffix}"
    parsed = jubilant.Version._from_dict({"version": text})
    assert str(parsed) == text
    assert parsed.tuple >= (3, 6, 0)


def test_version_plain_is_what_version_all_reports() -> None:
    runner = CliRunner()
    plain = runner.invoke(cli, ["version"])
    full = runner.invoke(cli, ["version", "--format", "json", "--all"])
    assert (plain.exit_code, full.exit_code) == (0, 0)
    document = json.loads(full.output)
    assert plain.output.strip() == document["version"] == _juju.juju_version()
    assert document["runecraft-version"]


def test_juju_entry_point_reports_usage_errors_as_juju(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        juju_main(["version", "--format", "xml"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Usage: juju version" in err and "'xml' is not one of" in err


def test_model_document_is_what_jubilant_reads() -> None:
    uuid = "2bcf5dc6-2aba-45be-b619-f05c2e733f93"
    document = _show.model_document("m", uuid, "local", "alive", "ctl", "c-uuid")
    info = modeltypes.ModelInfo._from_dict(next(iter(document.values())))
    assert (info.name, info.short_name, info.model_uuid) == ("admin/m", "m", uuid)
    assert (info.controller_name, info.status.current, info.life) == ("ctl", "available", "alive")
    dying = _show.model_document("m", uuid, "local", "dying", "ctl", "c-uuid")
    assert dying["m"]["status"]["current"] == "destroying"


@pytest.mark.parametrize(
    ("unit", "error", "message"),
    [
        ("hello/0", errors.NotFoundError, 'unit "hello/0" not found'),
        ("hello", errors.InvalidSpecError, 'invalid unit name "hello"'),
        ("Hello/x", errors.InvalidSpecError, 'invalid unit name "Hello/x"'),
    ],
)
def test_show_unit_of_a_missing_or_malformed_unit(
    unit: str, error: type[errors.RunecraftError], message: str
) -> None:
    empty = ModelSnapshot(models=[], applications=[], units=[], machines=[], charms={})
    with pytest.raises(error, match=message):
        build_unit_info(empty, unit)


@pytest.mark.parametrize(
    ("items", "parsed", "text"),
    [
        ([], {}, ""),
        (["mem=4G cores=2"], {"mem": 4096, "cores": 2}, "cores=2 mem=4096M"),
        (["mem=512", "mem=1.5G"], {"mem": 1536}, "mem=1536M"),
        (["root-disk=1T", "arch=arm64"], {"root-disk": 1048576, "arch": "arm64"}, None),
        (
            ["tags=a,b", "allocate-public-ip=true"],
            {"tags": ["a", "b"], "allocate-public-ip": True},
            None,
        ),
        (["instance-type=m5.large"], {"instance-type": "m5.large"}, "instance-type=m5.large"),
    ],
)
def test_parse_constraints(items: list[str], parsed: dict[str, Any], text: str | None) -> None:
    assert parse_constraints(items) == parsed
    shown = format_constraints(parsed)
    assert parse_constraints([shown]) == parsed
    if text is not None:
        assert shown == text


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["mem"], 'invalid constraint "mem": expected KEY=VALUE'),
        (["=4G"], 'invalid constraint "=4G"'),
        (["gpu=1"], 'unknown constraint "gpu"'),
        (["mem=4X"], 'constraint "mem": expected a size'),
        (["cores=-1"], 'constraint "cores": expected a whole number'),
        (["arch=x86"], 'constraint "arch": expected one of'),
        (["allocate-public-ip=yes"], "expected true or false"),
    ],
)
def test_bad_constraints_name_the_pair(items: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_constraints(items)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("ubuntu@24.04", ("ubuntu", "24.04")), ("ubuntu@22.04/stable", ("ubuntu", "22.04"))],
)
def test_check_base(text: str, parsed: tuple[str, str]) -> None:
    assert check_base(text) == parsed


@pytest.mark.parametrize("text", ["jammy", "ubuntu", "ubuntu@", "@22.04", "Ubuntu@22.04"])
def test_bad_base(text: str) -> None:
    with pytest.raises(ValueError, match=f'invalid base "{text}"'):
        check_base(text)


def test_deploy_settings_refuse_bad_values_and_keep_good_ones() -> None:
    assert _juju.deploy_settings((), None, False) == {}
    assert _juju.deploy_settings(("mem=1G",), "ubuntu@22.04", True) == {
        "constraints_items": ["mem=1G"],
        "base": "ubuntu@22.04",
        "trust": True,
    }
    with pytest.raises(errors.InvalidSpecError, match='unknown constraint "gpu"'):
        _juju.deploy_settings(("gpu=1",), None, False)
    with pytest.raises(errors.InvalidSpecError, match='invalid base "x"'):
        _juju.deploy_settings((), "x", False)


STATUS: dict[str, Any] = {
    "controller": {"timestamp": "12:34:56Z"},
    "model": {
        "name": "m",
        "controller": "c",
        "cloud": "local",
        "region": "default",
        "version": "3.6.12",
    },
    "machines": {
        "10": {
            "juju-status": {"current": "started"},
            "dns-name": "10.0.0.10",
            "instance-id": "i10",
        },
        "2": {
            "juju-status": {"current": "started"},
            "dns-name": "10.0.0.2",
            "instance-id": "i2",
            "base": {"name": "ubuntu", "channel": "22.04"},
        },
    },
    "applications": {
        "web": {
            "charm-name": "web",
            "charm-rev": 3,
            "exposed": False,
            "application-status": {"current": "active", "message": "ok"},
            "units": {
                "web/10": {
                    "workload-status": {"current": "active", "message": "ten"},
                    "juju-status": {"current": "idle"},
                    "machine": "10",
                },
                "web/2": {
                    "workload-status": {"current": "blocked", "message": "two"},
                    "juju-status": {"current": "idle"},
                    "machine": "2",
                    "leader": True,
                    "open-ports": ["80/tcp"],
                    "subordinates": {
                        "log/0": {
                            "workload-status": {"current": "active"},
                            "juju-status": {"current": "idle"},
                        }
                    },
                },
            },
        },
        "log": {
            "charm-name": "log",
            "charm-rev": 1,
            "exposed": True,
            "application-status": {"current": "active"},
            "subordinate-to": ["web"],
        },
    },
}


def _render(status: dict[str, Any], *, terminal: bool) -> str:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=terminal, width=200, highlight=False)
    for table in _output.status_tables(status):
        console.print(table)
    return stream.getvalue()


def test_status_tables_read_like_juju() -> None:
    text = _render(STATUS, terminal=False)
    lines = [line.split() for line in text.splitlines() if line.strip()]
    headers = [line[0] for line in lines if line[0] in {"Model", "App", "Unit", "Machine"}]
    assert headers == ["Model", "App", "Unit", "Machine"]
    assert lines[1] == ["m", "c", "local/default", "3.6.12", "12:34:56Z"]
    assert ["log", "active", "0", "log", "1", "yes"] in lines
    assert ["web", "active", "2", "web", "3", "no", "ok"] in lines
    units = [line[0] for line in lines if "/" in line[0] and line[0][0].isalpha()]
    assert units[:3] == ["web/2*", "log/0", "web/10"]
    assert ["web/2*", "blocked", "idle", "2", "80/tcp", "two"] in lines
    machines = [line for line in lines if line[0] in {"2", "10"}]
    assert machines == [
        ["2", "started", "10.0.0.2", "i2", "ubuntu@22.04"],
        ["10", "started", "10.0.0.10", "i10"],
    ]
    assert "\x1b[" not in text


def test_status_tables_show_saas_and_offers_as_juju() -> None:
    status = {
        **STATUS,
        "application-endpoints": {
            "mydb": {"url": "admin/other.db", "application-status": {"current": "active"}}
        },
        "offers": {
            "db": {
                "application": "web",
                "charm": "web",
                "endpoints": {
                    "db": {"interface": "mysql", "role": "provider"},
                    "info": {"interface": "juju-info", "role": "provider"},
                },
                "total-connected-count": 2,
                "active-connected-count": 1,
            }
        },
    }
    lines = [line.split() for line in _render(status, terminal=False).splitlines() if line]
    headers = [line[0] for line in lines if line[0] in {"Model", "SAAS", "App", "Offer"}]
    assert headers == ["Model", "SAAS", "App", "Offer"]
    assert ["mydb", "active", "local", "admin/other.db"] in lines
    assert ["db", "web", "web", "1/2", "db", "mysql", "provider"] in lines
    assert ["info", "juju-info", "provider"] in lines


def test_status_colour_only_on_a_terminal() -> None:
    assert "\x1b[" in _render(STATUS, terminal=True)
    assert "\x1b[" not in _render(STATUS, terminal=False)


def test_status_tables_leave_out_absent_sections() -> None:
    text = _render({"machines": STATUS["machines"]}, terminal=False)
    assert text.split()[0] == "Machine" and "Model" not in text and "App" not in text


@pytest.mark.parametrize(
    ("broker", "note"),
    [
        pytest.param({"current": "running"}, None, id="running-no-note"),
        pytest.param({"current": "restarting"}, "broker restarting", id="restarting"),
        pytest.param(
            {"current": "down", "message": "port [taken]"},
            "broker down: port [taken]",
            id="down-with-why",
        ),
    ],
)
def test_a_broker_that_is_not_running_is_a_note_of_the_model(
    broker: dict[str, str], note: str | None
) -> None:
    status = {**STATUS, "controller": {"timestamp": "12:34:56Z", "broker-status": broker}}
    lines = _render(status, terminal=False).splitlines()
    model = lines[: lines.index(next(line for line in lines if line.startswith("App")))]
    if note is None:
        assert "Notes" not in model[0]
        assert model[1].split() == ["m", "c", "local/default", "3.6.12", "12:34:56Z"]
    else:
        assert model[0].split()[-1] == "Notes"
        assert model[1].rstrip().endswith(note)
