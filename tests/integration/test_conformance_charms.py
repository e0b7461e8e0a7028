"""The conformance test charms themselves (tests/charms): they pack, load and declare what
the conformance tests rely on. Fast: no controller (ops' venv is built once per session)."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from runecraft import charms
from tests.integration import _conformance as c

ALL = [name for pair in c.PAIRS.values() for name in (pair.provider, pair.requirer)]
STANDARD_HOOKS = (
    "install",
    "start",
    "stop",
    "remove",
    "config-changed",
    "upgrade-charm",
    "leader-elected",
    "leader-settings-changed",
    "update-status",
)
PHASES = ("created", "joined", "changed", "departed", "broken")


@pytest.mark.parametrize("name", ALL)
def test_test_charm_packs_and_loads(name: str, charm_cache: Path) -> None:
    packed = charms.pack(c.CHARMS / name, charm_cache)
    loaded = charms.load_charm_archive(packed.data)
    assert loaded.name == name == packed.charm.name
    meta = loaded.meta
    assert {n: e.interface for n, e in meta.peers.items()} == {c.PEERS: "conformance-peers"}
    provider = name.endswith("-provider")
    endpoint = "source" if provider else "sink"
    assert {n: e.interface for n, e in (meta.provides if provider else meta.requires).items()} == {
        endpoint: "conformance"
    }
    options = loaded.config.options
    assert {"fail-hook", "record-dir"} <= set(options)
    assert options["fail-hook"].default == "" and options["record-dir"].default == ""
    if provider:
        assert options["token"].default == c.TOKEN
        actions = loaded.actions.root
        expected = {"echo", "fail", "crash"} | ({"probe"} if name.startswith("bash") else set())
        assert set(actions) == expected
        schema = actions["echo"].json_schema()
        assert schema["required"] == ["message"]
        assert schema["properties"]["times"]["default"] == 2
        assert schema["additionalProperties"] is False
    else:
        assert not loaded.actions.root

    with zipfile.ZipFile(io.BytesIO(packed.data)) as archive:
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    executable = stat.S_IFREG | 0o755
    if name.startswith("ops"):
        assert modes["dispatch"] == executable
        assert modes["src/charm.py"] == executable
        assert "venv/ops/__init__.py" in modes
    else:
        # Every hook Juju could run for this metadata has an executable handler.
        for hook in (
            *STANDARD_HOOKS,
            *(f"{ep}-relation-{p}" for ep in (c.PEERS, endpoint) for p in PHASES),
        ):
            assert modes.get(f"hooks/{hook}") == executable, hook
        assert modes["lib/hook.sh"] == executable
        for action in loaded.actions.root:
            assert modes.get(f"actions/{action}") == executable, action


@pytest.mark.parametrize(
    "path", ["src/charm.py", "lib/hook.sh", "lib/common.sh"], ids=["ops", "bash-hook", "bash-lib"]
)
def test_twin_charms_share_their_code(path: str) -> None:
    """Provider and requirer of a flavour run the same code (the role comes from metadata
    or lib/role.sh; the requirer links to the provider's files), so a fix to one cannot miss
    the other."""
    flavour = "ops" if path.startswith("src") else "bash"
    pair = c.PAIRS[flavour]
    assert (c.CHARMS / pair.provider / path).read_bytes() == (
        c.CHARMS / pair.requirer / path
    ).read_bytes()
