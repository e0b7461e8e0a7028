"""`rune pack` end to end: each example charm, a uv-plugin charm and a dump-plugin charm
packed into the files charmcraft would write (names, top-level entries, manifest.yaml),
refused with one clear error when charmcraft.yaml is bad, and the packed files deployed on
a bootstrapped controller until every unit is active."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from runecraft.charms import _platforms
from tests.integration.conftest import EXAMPLES, REPO, Rune

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        _platforms.host_architecture() != "amd64",
        reason="the charms declare amd64 platforms only, as the examples do",
    ),
]

UV_HELLO = REPO / "tests" / "charms" / "uv-hello"
OPS_CHARM = {"actions.yaml", "config.yaml", "dispatch", "hooks", "manifest.yaml"}
OPS_CHARM |= {"metadata.yaml", "requirements.txt", "src", "venv"}
EXPECTED: dict[Path, tuple[str, set[str], dict[str, str], str]] = {
    EXAMPLES / "hello": (
        "hello_amd64.charm",
        OPS_CHARM,
        {"language": "python", "framework": "operator"},
        "24.04",
    ),
    EXAMPLES / "hello-sidecar": (
        "hello-sidecar_amd64.charm",
        OPS_CHARM,
        {"language": "python", "framework": "operator"},
        "24.04",
    ),
    EXAMPLES / "hello-bash": (
        "hello-bash_ubuntu-22.04-amd64.charm",
        {"config.yaml", "hooks", "manifest.yaml", "metadata.yaml"},
        {"language": "unknown", "framework": "unknown"},
        "22.04",
    ),
    UV_HELLO: (
        "uv-hello_amd64.charm",
        {"dispatch", "manifest.yaml", "metadata.yaml", "src", "venv"},
        {"language": "python", "framework": "unknown"},
        "24.04",
    ),
}
"""Charm source → file name, top-level entries, analysis attributes, base channel."""


def entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def check_charm(path: Path, expected: tuple[str, set[str], dict[str, str], str]) -> None:
    name, tops, attributes, channel = expected
    assert path.name == name
    content = entries(path)
    assert {entry.split("/")[0] for entry in content} == tops, path.name
    manifest: dict[str, Any] = yaml.safe_load(content["manifest.yaml"])
    assert list(manifest) == ["charmcraft-version", "charmcraft-started-at", "bases", "analysis"]
    assert manifest["bases"] == [{"name": "ubuntu", "channel": channel, "architectures": ["amd64"]}]
    found = {a["name"]: a["result"] for a in manifest["analysis"]["attributes"]}
    assert found == attributes, path.name


def test_pack_then_deploy_each_packed_file(rune: Rune, tmp_path: Path) -> None:
    out = tmp_path / "out"
    packed: dict[str, Path] = {}
    for source, expected in EXPECTED.items():
        result = rune("pack", str(source), "-o", str(out), "--format", "json")
        (charm,) = json.loads(result.stdout)["charms"]
        assert "packing: " in result.stderr, "progress lines while packing"
        path = Path(charm["path"])
        check_charm(path, expected)
        packed[charm["name"]] = path

    uv_content = entries(packed["uv-hello"])
    assert "venv/six.py" in uv_content, "what uv.lock pins is installed"
    assert not any(n.startswith(("venv/pytest", "venv/_pytest")) for n in uv_content), "no dev"
    assert not any(n.startswith(("pyproject.toml", "uv.lock")) for n in uv_content)
    hello = entries(packed["hello"])
    assert "venv/ops/__init__.py" in hello and "charmcraft.yaml" not in hello
    assert hello["hooks/install"] == hello["dispatch"]

    # A text run names the file; packing again gives the same bytes.
    again = rune("pack", str(EXAMPLES / "hello-bash"), "--output", str(tmp_path / "again"))
    assert again.stdout.strip() == f"Packed {tmp_path / 'again' / packed['hello-bash'].name}"
    assert (tmp_path / "again" / packed["hello-bash"].name).read_bytes() == packed[
        "hello-bash"
    ].read_bytes()

    rune("bootstrap")
    for path in packed.values():
        rune("deploy", str(path))
    rune("wait", "--timeout", "5m")
    status = rune.status()
    assert sorted(status["applications"]) == sorted(packed)
    uv_status = status["applications"]["uv-hello"]["units"]["uv-hello/0"]["workload-status"]
    assert (uv_status["current"], uv_status["message"]) == ("active", "six 1.17.0")


def test_bad_charmcraft_yaml_exits_non_zero_with_one_error(rune: Rune, tmp_path: Path) -> None:
    charm = tmp_path / "bad"
    (charm / "src").mkdir(parents=True)
    (charm / "src" / "charm.py").write_text("")
    platform = "base: ubuntu@24.04\nplatforms: {amd64: }\n"
    meson = "parts:\n  charm:\n    plugin: meson\n"
    gone = "parts:\n  files:\n    plugin: dump\n    source: gone\n"
    cases = {
        platform + meson: "parts.charm.plugin: unknown plugin 'meson'",
        platform + gone: "parts.files.source: 'gone' not found",
        "base: debian@12\nplatforms: {amd64: }\n": "base: unknown base 'debian'",
        "": "base: required",
    }
    for document, message in cases.items():
        (charm / "charmcraft.yaml").write_text(f"type: charm\nname: bad\n{document}")
        result = rune("pack", str(charm), "-o", str(tmp_path / "out"), check=False)
        assert result.returncode == 1, result.stderr
        assert f"ERROR charmcraft.yaml: {message}" in result.stderr
    assert not (tmp_path / "out").exists()
    result = rune("pack", str(charm), "--bogus", check=False)
    assert result.returncode == 2 and "No such option" in result.stderr
