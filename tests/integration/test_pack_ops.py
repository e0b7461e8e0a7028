"""Pack the `hello` ops example for real: pip installs ops from PyPI into `venv/`."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import yaml

from runecraft import charms

HELLO = Path(__file__).resolve().parents[2] / "examples" / "charms" / "hello"


def test_pack_hello_installs_ops_and_writes_the_split_files(tmp_path: Path) -> None:
    lines: list[str] = []
    packed = charms.pack(HELLO, tmp_path / "cache", progress=lines.append)

    with zipfile.ZipFile(io.BytesIO(packed.data)) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        metadata = yaml.safe_load(archive.read("metadata.yaml"))
        config = yaml.safe_load(archive.read("config.yaml"))
        actions = yaml.safe_load(archive.read("actions.yaml"))
        dispatch = archive.read("dispatch").decode()
    assert "venv/ops/__init__.py" in names
    assert "venv/yaml/__init__.py" in names, "ops' own dependencies come along"
    assert not any("__pycache__" in name for name in names)
    assert modes["dispatch"] == stat.S_IFREG | 0o755
    assert modes["src/charm.py"] == stat.S_IFREG | 0o755
    assert dispatch.endswith("PYTHONPATH=lib:venv exec ./src/charm.py\n")
    assert metadata["name"] == "hello"
    assert metadata["peers"] == {"hello-peers": {"interface": "hello_peers"}}
    assert config["options"]["greeting"]["default"] == "hello"
    assert set(actions) == {"greet"}
    assert packed.charm.name == "hello"
    assert "installing dependencies with pip" in lines

    again = charms.pack(HELLO, tmp_path / "cache", progress=lines.append)
    assert again.sha256 == packed.sha256, "a second pack reuses the cached venv, byte for byte"
    assert any(line.startswith("using cached dependencies") for line in lines)

    unit_dir = tmp_path / "unit" / "charm"
    charms.unpack(packed.data, unit_dir)
    assert (unit_dir / "dispatch").stat().st_mode & 0o111
    assert (unit_dir / "venv" / "ops" / "__init__.py").is_file()
