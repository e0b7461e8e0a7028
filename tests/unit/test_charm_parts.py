"""Packing as `charmcraft pack` does: file names per platform, the parts (dump with
organize/stage/prime, nil, charm), manifest.yaml, and the errors for a bad charmcraft.yaml.
No installer runs here: the charms have no dependencies (tests/integration installs them)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import yaml

from runecraft import charms, errors
from runecraft.charms import _platforms
from runecraft.schemas import charm as schema

BASH_HOOK = "#!/bin/sh\nstatus-set active\n"


def write(root: Path, files: dict[str, str], *, executable: tuple[str, ...] = ()) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755 if name in executable else 0o644)
    return root


def listing(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def names_of(document: str, arch: str = "amd64") -> list[tuple[str, list[str]]]:
    charmcraft = schema.Charmcraft.model_validate(yaml.safe_load(document))
    return [(p.name, sorted(p.build_on)) for p in _platforms.platforms(charmcraft, arch)]


def test_platform_names_follow_charmcraft() -> None:
    assert names_of("type: charm\nbase: ubuntu@24.04\nplatforms:\n  amd64:\n  arm64:\n") == [
        ("amd64", ["amd64"]),
        ("arm64", ["arm64"]),
    ]
    multi = "type: charm\nplatforms:\n  ubuntu@22.04:amd64:\n  ubuntu@24.04:amd64:\n"
    assert names_of(multi) == [("ubuntu@22.04-amd64", ["amd64"]), ("ubuntu@24.04-amd64", ["amd64"])]
    cross = (
        "type: charm\nbase: ubuntu@24.04\nplatforms:\n"
        "  mine:\n    build-on: [amd64, arm64]\n    build-for: [all]\n"
    )
    assert names_of(cross) == [("mine", ["amd64", "arm64"])]
    legacy = (
        "type: charm\nbases:\n"
        "  - build-on: [{name: ubuntu, channel: '22.04'}]\n"
        "    run-on:\n"
        "      - {name: ubuntu, channel: '22.04', architectures: [amd64, arm64]}\n"
        "      - {name: ubuntu, channel: '20.04'}\n"
        "  - {name: ubuntu, channel: '24.04'}\n"
    )
    assert names_of(legacy, "arm64") == [
        ("ubuntu-22.04-amd64-arm64_ubuntu-20.04-arm64", ["arm64"]),
        ("ubuntu-24.04-arm64", ["arm64"]),
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("base: debian@12\nplatforms: {amd64: }", "base: unknown base 'debian'"),
        ("base: ubuntu@24.04\nplatforms: {x86: }", "platforms.x86: unknown architecture 'x86'"),
        ("platforms: {amd64: }", "platforms.amd64: no base"),
        ("bases: [{name: ubuntu, channel: 22.04}]", "bases.0.channel: expected a string"),
        ("bases: [{build-on: [{name: ubuntu, channel: '22.04'}], run-on: []}]", "run-on"),
        (
            "base: ubuntu@24.04\nplatforms: {p: {build-on: [amd64], build-for: [amd64, arm64]}}",
            "platforms.p.build-for: expected a list of one architecture",
        ),
    ],
)
def test_bad_bases_are_refused_by_name(document: str, message: str) -> None:
    charmcraft = schema.Charmcraft.model_validate(yaml.safe_load("type: charm\n" + document))
    with pytest.raises(errors.InvalidSpecError) as caught:
        _platforms.platforms(charmcraft, "amd64")
    assert message in caught.value.message
    assert caught.value.message.startswith("charmcraft.yaml: ")


CLASSIC = """\
type: charm
bases:
  - build-on: [{name: ubuntu, channel: "22.04", architectures: [amd64]}]
    run-on: [{name: ubuntu, channel: "22.04", architectures: [amd64]}]
parts:
  charm:
    plugin: dump
    source: .
    organize:
      scripts/start.sh: hooks/start
      extra/: hooks/
    prime:
      - hooks
      - metadata.yaml
      - -hooks/*.orig
  notes:
    plugin: dump
    source: docs
    stage: [README.md]
  nothing:
    plugin: nil
"""


def test_dump_parts_organize_stage_and_prime(tmp_path: Path) -> None:
    """Juju's classic test charms: hooks and metadata.yaml dumped, moved and filtered;
    metadata.yaml and config.yaml always shipped, manifest.yaml written, no dispatch made."""
    root = write(
        tmp_path / "classic",
        {
            "charmcraft.yaml": CLASSIC,
            "metadata.yaml": "name: classic\n",
            "config.yaml": "options: {}\n",
            "hooks/install": BASH_HOOK,
            "hooks/install.orig": "old\n",
            "scripts/start.sh": BASH_HOOK,
            "extra/stop": BASH_HOOK,
            "docs/README.md": "read me\n",
            "docs/TODO": "later\n",
            "tests/test_hooks.sh": "true\n",
        },
        executable=("hooks/install", "scripts/start.sh", "extra/stop"),
    )
    lines: list[str] = []
    (file,) = charms.pack_platforms(root, tmp_path / "cache", progress=lines.append)
    assert file.file_name == "classic_ubuntu-22.04-amd64.charm"
    content = listing(file.packed.data)
    assert sorted(content) == [
        "README.md",
        "config.yaml",
        "hooks/extra/stop",
        "hooks/install",
        "hooks/start",
        "manifest.yaml",
        "metadata.yaml",
    ]
    manifest = yaml.safe_load(content["manifest.yaml"])
    assert list(manifest) == ["charmcraft-version", "charmcraft-started-at", "bases", "analysis"]
    assert manifest["bases"] == [{"name": "ubuntu", "channel": "22.04", "architectures": ["amd64"]}]
    assert manifest["analysis"] == {
        "attributes": [
            {"name": "language", "result": "unknown"},
            {"name": "framework", "result": "unknown"},
        ]
    }
    assert "zipping the charm for ubuntu-22.04-amd64" in lines
    again = charms.pack(root, tmp_path / "cache")
    assert again.sha256 == file.packed.sha256, "deploy packs the same bytes"


OPS_FREE = """\
type: charm
name: plain
base: ubuntu@24.04
platforms:
  amd64:
  arm64:
  ubuntu@22.04:amd64:
"""


def test_charm_plugin_default_part_and_one_file_per_platform_built_here(tmp_path: Path) -> None:
    root = write(
        tmp_path / "plain",
        {
            "charmcraft.yaml": OPS_FREE,
            "src/charm.py": "#!/usr/bin/env python3\nimport ops\n",
            "lib/charms/x/v0/y.py": "",
            ".jujuignore": "x\n",
            "revision": "3\n",
        },
    )
    files = charms.pack_platforms(root, tmp_path / "cache", architecture="amd64")
    assert [f.file_name for f in files] == ["plain_amd64.charm", "plain_ubuntu@22.04-amd64.charm"]
    first, second = (listing(f.packed.data) for f in files)
    tops = {name.split("/")[0] for name in first}
    assert tops == {"dispatch", "hooks", "lib", "manifest.yaml", "metadata.yaml", "src"}
    assert yaml.safe_load(second["manifest.yaml"])["bases"] == [
        {"name": "ubuntu", "channel": "22.04", "architectures": ["amd64"]}
    ]
    attributes = yaml.safe_load(first["manifest.yaml"])["analysis"]["attributes"]
    assert attributes == [
        {"name": "language", "result": "python"},
        {"name": "framework", "result": "unknown"},  # imports ops, but no venv/ops
    ]
    with pytest.raises(errors.InvalidSpecError, match="none builds on s390x"):
        charms.pack_platforms(root, tmp_path / "cache", architecture="s390x")


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ("  charm:\n    plugin: poetry\n", "parts.charm.plugin: unknown plugin 'poetry'"),
        ("  mystery: {}\n", "parts.mystery.plugin: unknown plugin 'mystery'"),
        (
            "  files:\n    plugin: dump\n    source: nowhere\n",
            "parts.files.source: 'nowhere' not found",
        ),
        ("  files:\n    plugin: dump\n", "parts.files.source: required by the dump plugin"),
        (
            "  files:\n    plugin: dump\n    source: https://example.com/x.tar.gz\n",
            "parts.files.source: only a local directory",
        ),
        ("  charm:\n    plugin: uv\n    source: .\n", "parts.charm: uv.lock not found"),
        (
            "  charm:\n    plugin: dump\n    source: .\n    prime: hooks\n",
            "parts.charm.prime: expected a list of paths",
        ),
    ],
)
def test_bad_parts_are_refused_by_name(tmp_path: Path, parts: str, message: str) -> None:
    root = write(
        tmp_path / "bad",
        {
            "charmcraft.yaml": "type: charm\nname: bad\nbase: ubuntu@24.04\n"
            "platforms:\n  amd64:\nparts:\n" + parts,
            "pyproject.toml": "[project]\nname = 'bad'\nversion = '0'\n",
            "src/charm.py": "",
            "hooks/install": BASH_HOOK,
        },
    )
    for pack in (charms.pack, charms.pack_platforms):
        with pytest.raises(errors.InvalidSpecError) as caught:
            pack(root, tmp_path / "cache")
        assert message in caught.value.message
    assert not (tmp_path / "cache" / "venvs").exists()


def test_pack_needs_a_charmcraft_yaml_and_a_base(tmp_path: Path) -> None:
    packed = write(tmp_path / "packed", {"metadata.yaml": "name: p\n", "hooks/install": BASH_HOOK})
    with pytest.raises(errors.InvalidSpecError, match=r"no charmcraft\.yaml"):
        charms.pack_platforms(packed, tmp_path / "cache")
    with pytest.raises(errors.InvalidSpecError, match="nowhere does not exist"):
        charms.pack_platforms(tmp_path / "nowhere", tmp_path / "cache")
    write(packed, {"charmcraft.yaml": "type: charm\n", "dispatch": "#!/bin/sh\n"})
    with pytest.raises(errors.InvalidSpecError, match="already packed"):
        charms.pack_platforms(packed, tmp_path / "cache")
    baseless = write(
        tmp_path / "baseless",
        {"charmcraft.yaml": "type: charm\nname: b\n", "src/charm.py": ""},
    )
    with pytest.raises(errors.InvalidSpecError, match="base: required"):
        charms.pack_platforms(baseless, tmp_path / "cache")
    # Deploying needs no base: it packs without a manifest.
    assert "manifest.yaml" not in listing(charms.pack(baseless, tmp_path / "cache").data)


FAKE_PIP_PYTHON = """\
#!/bin/sh
# Stands in for a Python with pip: records each call, fakes `pip install --target DIR`.
echo "$@" >> "{log}"
if [ "$1" = "-c" ]; then echo "cpython-311 x86_64 3.11.0"; exit 0; fi
mkdir -p "$5/fakedep" && echo "VERSION = 1" > "$5/fakedep/__init__.py"
"""


def test_python_plugin_installs_its_requirements_beside_src_and_lib(tmp_path: Path) -> None:
    """charmcraft's python plugin: only src/ and lib/ from the tree, the dependencies in
    venv/, and the standard dispatch (with the entrypoint made executable) since no part
    wrote one."""
    log = tmp_path / "pip.log"
    python = tmp_path / "python"
    python.write_text(FAKE_PIP_PYTHON.format(log=log))
    python.chmod(0o755)
    root = write(
        tmp_path / "py",
        {
            "charmcraft.yaml": "type: charm\nname: py\nbase: ubuntu@24.04\nplatforms:\n"
            "  amd64:\nparts:\n  charm:\n    plugin: python\n    source: .\n"
            "    python-requirements: [requirements.txt]\n"
            "    python-packages: [fakedep]\n",
            "requirements.txt": "fakedep==1\n",
            "src/charm.py": "#!/usr/bin/env python3\n",
            "lib/charms/helper.py": "",
            "tests/test_charm.py": "",
        },
    )
    (file,) = charms.pack_platforms(
        root, tmp_path / "cache", python=str(python), architecture="amd64"
    )
    content = listing(file.packed.data)
    assert sorted(content) == [
        "dispatch",
        "lib/charms/helper.py",
        "manifest.yaml",
        "metadata.yaml",
        "src/charm.py",
        "venv/fakedep/__init__.py",
    ]
    assert content["dispatch"].decode() == charms.DISPATCH_TEMPLATE.format(
        entrypoint="src/charm.py"
    )
    with zipfile.ZipFile(io.BytesIO(file.packed.data)) as archive:
        assert archive.getinfo("src/charm.py").external_attr >> 16 & 0o111
    (install,) = [c for c in log.read_text().splitlines() if c.startswith("-m pip install")]
    assert install.endswith(f"-r {root / 'requirements.txt'} fakedep")
