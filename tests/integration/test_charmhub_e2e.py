"""Deploying by name from Charmhub end to end: a bootstrapped controller, its machine and
unit agents, the real `ops` charm `hello` published on the emulated Charmhub in two
revisions (latest/stable and latest/edge), fetched by the real CLI and by jubilant through
`rune-juju`."""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jubilant
import pytest

from tests.charmhub_emulator import CharmhubEmulator, packed_variant
from tests.integration.conftest import EXAMPLES, Rune

pytestmark = pytest.mark.e2e


def _hello(tmp_path: Path, cache: Path, greeting: str, version: str) -> bytes:
    return packed_variant(
        EXAMPLES / "hello",
        tmp_path / "variants",
        cache,
        {
            "charmcraft.yaml": ("default: hello\n", f"default: {greeting}\n"),
            "src/charm.py": ('WORKLOAD_VERSION = "1.0"', f'WORKLOAD_VERSION = "{version}"'),
        },
    )


@pytest.fixture
def hub(rune: Rune, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CharmhubEmulator]:
    """`hello` revision 1 in latest/stable, revision 2 in latest/edge; every `rune` the
    test runs (and jubilant's `rune-juju`) uses this Charmhub."""
    with CharmhubEmulator() as emulator:
        stable = _hello(tmp_path, rune.cache, "hello from stable", "1.0")
        edge = _hello(tmp_path, rune.cache, "hello from edge", "2.0")
        emulator.publish("hello", 1, stable, "latest/stable", version="1.0")
        emulator.publish("hello", 2, edge, "latest/edge", version="2.0")
        monkeypatch.setenv("RUNECRAFT_CHARMHUB_URL", emulator.url)
        yield emulator


def _app(status: dict[str, Any], name: str) -> tuple[str, str, str]:
    app = status["applications"][name]
    unit = next(iter(app["units"].values()))
    workload = unit["workload-status"]
    return workload["current"], workload.get("message", ""), app["version"]


def test_deploy_from_charmhub_then_refresh_to_another_channel(
    rune: Rune, hub: CharmhubEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rune("bootstrap")
    with monkeypatch.context() as unreachable:
        with socket.socket() as sock:  # a loopback port nothing listens on once closed
            sock.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        unreachable.setenv("RUNECRAFT_CHARMHUB_URL", url)
        failed = rune("deploy", "hello", check=False)
        assert failed.returncode == 1
        assert f"cannot reach Charmhub at {url}" in failed.stderr
        assert "RUNECRAFT_CHARMHUB_URL" in failed.stderr

    rune("deploy", "hello", "--channel", "latest/edge")
    rune("wait", "--timeout", "5m")
    assert _app(rune.status(), "hello") == ("active", "hello from edge", "2.0")

    rune("refresh", "hello", "--channel", "latest/stable")
    rune("wait", "--timeout", "5m")
    assert _app(rune.status(), "hello")[:2] == ("active", "hello from stable")


def test_jubilant_deploys_from_charmhub(
    rune: Rune, hub: CharmhubEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = shutil.which("rune-juju", path=str(Path(sys.executable).parent))
    assert script is not None, "rune-juju is not installed"
    monkeypatch.setenv("RUNECRAFT_HOME", str(rune.home))
    monkeypatch.setenv("RUNECRAFT_CACHE_DIR", str(rune.cache))
    rune("bootstrap")
    juju = jubilant.Juju(model="default", cli_binary=script)
    juju.deploy("hello", channel="latest/edge")
    status = juju.wait(jubilant.all_active, timeout=300)
    app = status.apps["hello"]
    assert app.charm_name == "hello"
    assert (app.charm, app.charm_origin, app.charm_channel, app.charm_rev) == (
        "hello",
        "charmhub",
        "latest/edge",
        2,
    )
    assert app.base is not None and (app.base.name, app.base.channel) == ("ubuntu", "22.04")
    assert app.version == "2.0"
    assert app.units["hello/0"].workload_status.message == "hello from edge"

    juju.refresh("hello", channel="stable")
    status = juju.wait(
        lambda s: s.apps["hello"].units["hello/0"].workload_status.message == "hello from stable",
        timeout=300,
    )
    app = status.apps["hello"]
    assert (app.charm_origin, app.charm_channel, app.charm_rev) == ("charmhub", "latest/stable", 1)
