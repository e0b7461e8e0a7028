"""Charms on disk: classify, load, pack, unpack — and every way they are refused."""

from __future__ import annotations

import io
import os
import shutil
import stat
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from runecraft import charms, errors
from runecraft.charms import _archive

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "charms"
HELLO_BASH = EXAMPLES / "hello-bash"
HELLO = EXAMPLES / "hello"

TINY_CHARMCRAFT = """\
type: charm
name: tiny
summary: A source charm without dependencies.
description: |
  Two lines
  of description.
base: ubuntu@24.04
platforms:
  amd64:
config:
  options:
    port:
      type: int
      default: 80
actions:
  ping:
    description: Pong.
requires:
  db: mysql
"""

TINY_CHARM_PY = "#!/usr/bin/env python3\nprint('tiny')\n"

FAKE_PYTHON = """\
#!/bin/sh
# Stands in for a Python with pip: records each call, fakes `pip install --target DIR`.
echo "$@" >> "{log}"
if [ "$1" = "-c" ]; then echo "cpython-311 x86_64 3.11.0"; exit 0; fi
if [ "$FAIL" = "1" ]; then
    echo "Collecting nope" ; echo "ERROR: No matching distribution found for nope" >&2; exit 1
fi
mkdir -p "$5/fakedep" && echo "VERSION = 1" > "$5/fakedep/__init__.py"
"""


def write(root: Path, files: dict[str, str], *, executable: tuple[str, ...] = ()) -> Path:
    """Create `files` under `root` (a factory for charm trees)."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755 if name in executable else 0o644)
    return root


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def unix_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def archive_modes(data: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {i.filename: (i.external_attr >> 16) for i in archive.infolist()}


def archive_text(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name).decode()


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """An ops-free source charm with an empty requirements.txt; charm.py not executable."""
    return write(
        tmp_path / "tiny",
        {
            "charmcraft.yaml": TINY_CHARMCRAFT,
            "requirements.txt": "# nothing needed\n\n",
            "src/charm.py": TINY_CHARM_PY,
            "README.md": "tiny\n",
            ".git/HEAD": "ref: refs/heads/main\n",
            "src/__pycache__/charm.cpython-311.pyc": "junk",
            "venv/old/__init__.py": "",
            "build/x": "",
            "tiny_amd64.charm": "old",
        },
    )


@pytest.fixture
def fake_python(tmp_path: Path) -> Callable[..., tuple[str, Path]]:
    def make(name: str = "python") -> tuple[str, Path]:
        log = tmp_path / f"{name}.log"
        script = tmp_path / name
        script.write_text(FAKE_PYTHON.format(log=log))
        script.chmod(0o755)
        return str(script), log

    return make


def test_public_names_are_exactly_all() -> None:
    # (pytest rewrites the asserts of a plugin's whole distribution, runecraft's too, which
    # adds its own "@py_builtins" and "@pytest_ar" to each module)
    public = {n for n in vars(charms) if not n.startswith(("_", "@")) and n != "annotations"}
    assert public == set(charms.__all__)


# --- classify ---------------------------------------------------------------------------


def test_classify_each_form(tmp_path: Path) -> None:
    archive = tmp_path / "x.charm"
    archive.write_bytes(make_zip([("metadata.yaml", b"name: x\n")]))
    only_meta_and_src = write(
        tmp_path / "legacy-src", {"metadata.yaml": "name: x\n", "src/charm.py": TINY_CHARM_PY}
    )
    dispatch_and_src = write(
        tmp_path / "built",
        {"metadata.yaml": "name: x\n", "dispatch": "#!/bin/sh\n", "src/charm.py": ""},
        executable=("dispatch",),
    )
    cases = {
        archive: charms.CharmForm.ARCHIVE,
        HELLO_BASH: charms.CharmForm.SOURCE,  # hooks/ beside a charmcraft.yaml (dump plugin)
        EXAMPLES.parent.parent / "tests" / "charms" / "bash-provider": charms.CharmForm.PACKED_DIR,
        dispatch_and_src: charms.CharmForm.PACKED_DIR,
        HELLO: charms.CharmForm.SOURCE,
        only_meta_and_src: charms.CharmForm.SOURCE,
    }
    for path, form in cases.items():
        assert charms.classify(path) is form, path


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p, "is not a charm: no metadata.yaml, charmcraft.yaml or dispatch found"),
        (lambda p: p / "missing", "missing does not exist"),
        (lambda p: write(p, {"f.charm": "not a zip"}) / "f.charm", "is not a charm: not a zip"),
    ],
    ids=["empty dir", "missing", "not a zip"],
)
def test_classify_refuses_what_is_not_a_charm(
    tmp_path: Path, setup: Callable[[Path], Path], message: str
) -> None:
    with pytest.raises(errors.InvalidSpecError) as caught:
        charms.classify(setup(tmp_path))
    assert message in caught.value.message
    assert str(setup(tmp_path)) in caught.value.message


# --- loading ----------------------------------------------------------------------------


def test_load_examples() -> None:
    hello = charms.load_charm_dir(HELLO)
    assert hello.name == "hello"
    assert hello.sha256 == ""
    assert hello.meta.peers["hello-peers"].interface == "hello_peers"
    assert hello.meta.provides["greeting"].interface == "greeting"
    assert hello.config.defaults() == {"greeting": "hello", "repeat": 1}
    assert set(hello.actions.actions) == {"greet"}
    bash = charms.load_charm_dir(HELLO_BASH)
    assert bash.name == "hello-bash"
    assert bash.config.defaults() == {"message": "ready"}
    assert bash.actions.actions == {}


def test_example_files_are_executable() -> None:
    for path in [HELLO / "src" / "charm.py", *(HELLO_BASH / "hooks").iterdir()]:
        assert path.stat().st_mode & 0o111 == 0o111, path
        assert path.read_text().startswith("#!"), path


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"metadata.yaml": "name: x\nprovides:\n  db:\n    limit: 1\n", "dispatch": ""},
            "metadata.yaml: provides.db.interface: is required",
        ),
        ({"metadata.yaml": "name: [\n", "dispatch": ""}, "metadata.yaml: invalid YAML at line"),
        ({"metadata.yaml": "", "dispatch": ""}, "metadata.yaml: the file is empty"),
        ({"metadata.yaml": "- name\n", "dispatch": ""}, "metadata.yaml: expected a mapping"),
        ({"dispatch": ""}, "no metadata.yaml found"),
        (
            {"metadata.yaml": "name: x\n", "config.yaml": "", "dispatch": ""},
            "config.yaml: the file is empty",
        ),
        (
            {
                "metadata.yaml": "name: x\n",
                "config.yaml": "options:\n  port:\n    type: int\n    default: abc\n",
                "dispatch": "",
            },
            'config.yaml: options.port.default: expected int, got "abc"',
        ),
        (
            {"metadata.yaml": "name: x\n", "actions.yaml": "Bad: {}\n", "dispatch": ""},
            "actions.yaml: Bad: invalid action name",
        ),
        (
            {
                "charmcraft.yaml": "type: charm\nname: x\nconfig:\n  options:\n    p: {}\n",
                "src/charm.py": "",
            },
            "charmcraft.yaml: config.options.p.type: is required",
        ),
        (
            {"charmcraft.yaml": "type: charm\nname: x\nactions:\n  X: {}\n", "src/charm.py": ""},
            "charmcraft.yaml: actions.X: invalid action name",
        ),
        (
            {"charmcraft.yaml": "type: charm\nname: X\n", "src/charm.py": ""},
            'charmcraft.yaml: name: invalid charm name "X"',
        ),
        (
            {"charmcraft.yaml": "name: x\n", "src/charm.py": ""},
            "charmcraft.yaml: type: is required",
        ),
        (
            {
                "charmcraft.yaml": "type: charm\nconfig:\n  options: {}\n",
                "metadata.yaml": "name: x\n",
                "config.yaml": "options: {}\n",
                "src/charm.py": "",
            },
            "charmcraft.yaml: config: not allowed when config.yaml exists",
        ),
        (
            {
                "charmcraft.yaml": "type: charm\nname: x\n",
                "metadata.yaml": "name: x\n",
                "src/charm.py": "",
            },
            "charmcraft.yaml: name: metadata keys are not allowed when metadata.yaml exists",
        ),
    ],
)
def test_load_dir_errors_name_file_and_field(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    with pytest.raises(errors.InvalidSpecError) as caught:
        charms.load_charm_dir(write(tmp_path / "c", files))
    assert caught.value.message.startswith(message) or message in caught.value.message
    assert caught.value.message.count("\n") == 0


def test_packed_dir_files_win_over_charmcraft(tmp_path: Path) -> None:
    """A packed charm may keep its charmcraft.yaml: the split-out files are what count."""
    root = write(
        tmp_path / "c",
        {
            "charmcraft.yaml": TINY_CHARMCRAFT,
            "metadata.yaml": "name: tiny\n",
            "dispatch": "#!/bin/sh\n",
        },
        executable=("dispatch",),
    )
    charm = charms.load_charm_dir(root)
    assert charm.meta.requires == {}
    assert charm.config.defaults() == {"port": 80}  # no config.yaml: filled from charmcraft


def test_load_archive(tmp_path: Path) -> None:
    data = make_zip(
        [
            ("metadata.yaml", b"name: x\nrequires:\n  db: mysql\n"),
            ("config.yaml", b"options:\n  a:\n    type: boolean\n    default: true\n"),
            ("actions.yaml", b""),
        ]
    )
    charm = charms.load_charm_archive(data)
    assert charm.meta.requires["db"].interface == "mysql"
    assert charm.config.defaults() == {"a": True}
    assert charm.actions.actions == {}
    assert charm.sha256 == charms.content_hash(data)
    assert len(charm.sha256) == 64


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip", "charm archive: not a valid zip file"),
        (make_zip([("README", b"")]), "charm archive: no metadata.yaml found"),
        (
            make_zip([("metadata.yaml", b"name: x\nprovides:\n  db: {}\n")]),
            "metadata.yaml: provides.db.interface: is required",
        ),
        (make_zip([("../metadata.yaml", b"name: x\n")]), "has an unsafe path"),
        (make_zip([("/etc/metadata.yaml", b"name: x\n")]), "has an unsafe path"),
        (make_zip([("a/../../b", b"")]), "has an unsafe path"),
        (make_zip([("a\\..\\b", b"")]), "has an unsafe path"),
        (
            make_zip([(unix_entry("hooks/install", stat.S_IFLNK | 0o777), b"/etc/passwd")]),
            "is a symlink",
        ),
        (make_zip([("a", b""), ("a/b", b"")]), "is both a file and a directory"),
    ],
    ids=[
        "not a zip",
        "no metadata",
        "bad metadata",
        "dot-dot",
        "absolute",
        "nested dot-dot",
        "backslash",
        "symlink",
        "file and dir",
    ],
)
def test_load_archive_refuses(data: bytes, message: str) -> None:
    with pytest.raises(errors.InvalidSpecError) as caught:
        charms.load_charm_archive(data)
    assert message in caught.value.message


def test_load_archive_refuses_duplicate_entries() -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = make_zip([("metadata.yaml", b"name: x\n"), ("metadata.yaml", b"name: y\n")])
    with pytest.raises(errors.InvalidSpecError, match="appears twice"):
        charms.load_charm_archive(data)


def test_load_archive_refuses_declared_zip_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_archive, "MAX_UNPACKED_BYTES", 1000)
    data = make_zip([("metadata.yaml", b"name: x\n"), ("big", b"\0" * 2000)])
    with pytest.raises(errors.InvalidSpecError, match="larger than the limit of 1000"):
        charms.load_charm_archive(data)


# --- packing ----------------------------------------------------------------------------


def test_pack_bash_example_is_deterministic(tmp_path: Path) -> None:
    first = charms.pack(HELLO_BASH, tmp_path / "cache")
    # Same content elsewhere, with other timestamps and a looser umask: same bytes.
    copy = tmp_path / "copy"
    shutil.copytree(HELLO_BASH, copy)
    for path in copy.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))
        path.chmod(path.stat().st_mode | 0o022)
    second = charms.pack(copy, tmp_path / "other-cache")
    assert first.sha256 == second.sha256 == charms.content_hash(first.data)
    assert first.data == second.data
    assert first.charm.name == "hello-bash"
    assert first.charm.sha256 == first.sha256
    modes = archive_modes(first.data)
    assert set(modes) == {
        "manifest.yaml",
        "metadata.yaml",
        "config.yaml",
        *(f"hooks/{h}" for h in ("install", "config-changed", "start", "leader-elected")),
        "hooks/stop",
        "hooks/remove",
    }
    assert modes["hooks/install"] == stat.S_IFREG | 0o755
    assert modes["metadata.yaml"] == stat.S_IFREG | 0o644
    with zipfile.ZipFile(io.BytesIO(first.data)) as archive:
        assert list(archive.namelist()) == sorted(archive.namelist())
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_pack_changes_sha_when_content_changes(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(HELLO_BASH, copy)
    before = charms.pack(copy, tmp_path / "cache").sha256
    (copy / "hooks" / "stop").chmod(0o644)
    assert charms.pack(copy, tmp_path / "cache").sha256 != before


def test_pack_archive_returns_its_bytes(tmp_path: Path) -> None:
    packed = charms.pack(HELLO_BASH, tmp_path / "cache")
    path = tmp_path / "hello-bash.charm"
    path.write_bytes(packed.data)
    again = charms.pack(path, tmp_path / "cache")
    assert again.data == packed.data
    assert again.sha256 == packed.sha256


def test_pack_source_without_dependencies(tmp_path: Path, tiny: Path) -> None:
    """An empty requirements.txt means no pip at all: a Python that cannot run proves it."""
    lines: list[str] = []
    packed = charms.pack(
        tiny, tmp_path / "cache", python=str(tmp_path / "no-such-python"), progress=lines.append
    )
    modes = archive_modes(packed.data)
    assert set(modes) == {
        "README.md",
        "actions.yaml",
        "config.yaml",
        "dispatch",
        *(f"hooks/{hook}" for hook in ("install", "start", "upgrade-charm")),
        "manifest.yaml",
        "metadata.yaml",
        "requirements.txt",
        "src/charm.py",
    }, "charmcraft's listing: charmcraft.yaml itself stays out"
    assert modes["dispatch"] == stat.S_IFREG | 0o755
    assert modes["hooks/install"] == stat.S_IFREG | 0o755
    assert archive_text(packed.data, "hooks/start") == archive_text(packed.data, "dispatch")
    assert yaml.safe_load(archive_text(packed.data, "manifest.yaml"))["bases"] == [
        {"name": "ubuntu", "channel": "24.04", "architectures": ["amd64"]}
    ]
    assert modes["src/charm.py"] == stat.S_IFREG | 0o755
    assert archive_text(packed.data, "dispatch") == (
        "#!/bin/sh\n"
        'JUJU_DISPATCH_PATH="${JUJU_DISPATCH_PATH:-$0}" PYTHONPATH=lib:venv exec ./src/charm.py\n'
    )
    metadata = yaml.safe_load(archive_text(packed.data, "metadata.yaml"))
    assert metadata == {
        "name": "tiny",
        "summary": "A source charm without dependencies.",
        "description": "Two lines\nof description.\n",
        "requires": {"db": "mysql"},
    }
    assert "description: |" in archive_text(packed.data, "metadata.yaml")
    assert yaml.safe_load(archive_text(packed.data, "config.yaml")) == {
        "options": {"port": {"type": "int", "default": 80}}
    }
    assert yaml.safe_load(archive_text(packed.data, "actions.yaml")) == {
        "ping": {"description": "Pong."}
    }
    assert packed.charm.meta.requires["db"].interface == "mysql"
    assert not any("pip" in line for line in lines)
    assert not (tiny / "metadata.yaml").exists(), "the source tree is left untouched"
    assert charms.pack(tiny, tmp_path / "cache2").sha256 == packed.sha256


def test_pack_source_keeps_own_dispatch_and_metadata(tmp_path: Path) -> None:
    root = write(
        tmp_path / "c",
        {
            "metadata.yaml": "name: legacy\n",
            "charmcraft.yaml": "type: charm\nparts:\n  charm:\n    charm-entrypoint: src/main.py\n",
            "src/main.py": TINY_CHARM_PY,
            "src/charm.py": TINY_CHARM_PY,
        },
    )
    packed = charms.pack(root, tmp_path / "cache", python="/nonexistent")
    assert "exec ./src/main.py" in archive_text(packed.data, "dispatch")
    assert archive_text(packed.data, "metadata.yaml") == "name: legacy\n"
    modes = archive_modes(packed.data)
    assert modes["src/main.py"] & 0o111
    assert not modes["src/charm.py"] & 0o111
    assert "config.yaml" not in modes


def test_pack_source_without_entrypoint_is_refused(tmp_path: Path) -> None:
    root = write(tmp_path / "c", {"charmcraft.yaml": "type: charm\nname: x\n"})
    with pytest.raises(errors.InvalidSpecError, match=r"src/charm\.py not found"):
        charms.pack(root, tmp_path / "cache")


def test_pack_refuses_bad_charm_before_installing(
    tmp_path: Path, fake_python: Callable[..., tuple[str, Path]]
) -> None:
    python, log = fake_python()
    root = write(
        tmp_path / "c",
        {
            "charmcraft.yaml": "type: charm\nname: x\nprovides:\n  juju: x\n",
            "requirements.txt": "ops\n",
            "src/charm.py": "",
        },
    )
    with pytest.raises(
        errors.InvalidSpecError, match=r"charmcraft\.yaml: provides\.juju: endpoint"
    ):
        charms.pack(root, tmp_path / "cache", python=python)
    assert not log.exists()


def test_pack_caches_installed_dependencies(
    tmp_path: Path, tiny: Path, fake_python: Callable[..., tuple[str, Path]]
) -> None:
    python, log = fake_python()
    (tiny / "requirements.txt").write_text("-r more.txt\n")
    (tiny / "more.txt").write_text("fakedep==1\n")
    lines: list[str] = []
    first = charms.pack(tiny, tmp_path / "cache", python=python, progress=lines.append)
    second = charms.pack(tiny, tmp_path / "cache", python=python, progress=lines.append)
    pip_calls = [c for c in log.read_text().splitlines() if c.startswith("-m pip install")]
    assert len(pip_calls) == 1
    assert "--target" in pip_calls[0]
    assert pip_calls[0].endswith("requirements.txt")
    assert first.sha256 == second.sha256
    assert archive_text(first.data, "venv/fakedep/__init__.py") == "VERSION = 1\n"
    assert "installing dependencies with pip" in lines
    assert any(line.startswith("using cached dependencies") for line in lines)
    assert len(list((tmp_path / "cache" / "venvs").iterdir())) == 1

    (tiny / "more.txt").write_text("fakedep==2\n")  # an included file is part of the key
    charms.pack(tiny, tmp_path / "cache", python=python)
    pip_calls = [c for c in log.read_text().splitlines() if c.startswith("-m pip install")]
    assert len(pip_calls) == 2


def test_pack_reads_pyproject_dependencies(
    tmp_path: Path, tiny: Path, fake_python: Callable[..., tuple[str, Path]]
) -> None:
    python, log = fake_python()
    (tiny / "requirements.txt").unlink()
    (tiny / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "tiny"
            dependencies = ["ops>=3.9", "pyyaml"]

            [tool.uv.sources]
            ops = { path = "ops.tar.gz" }
            """
        )
    )
    packed = charms.pack(tiny, tmp_path / "cache", python=python)
    pip_call = next(c for c in log.read_text().splitlines() if c.startswith("-m pip install"))
    assert pip_call.endswith("ops>=3.9 pyyaml")
    assert "ops.tar.gz" not in pip_call
    assert "venv/fakedep/__init__.py" in archive_modes(packed.data)


def test_pack_reports_pip_failure(
    tmp_path: Path,
    tiny: Path,
    fake_python: Callable[..., tuple[str, Path]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    python, _ = fake_python()
    (tiny / "requirements.txt").write_text("nope\n")
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(errors.InvalidSpecError) as caught:
        charms.pack(tiny, tmp_path / "cache", python=python)
    assert "pip failed (exit 1)" in caught.value.message
    assert "No matching distribution found for nope" in caught.value.message
    assert not any((tmp_path / "cache" / "venvs").iterdir()), "no half-built cache entry"


def test_pack_refuses_missing_requirements_file(tmp_path: Path, tiny: Path) -> None:
    charmcraft = tiny / "charmcraft.yaml"
    charmcraft.write_text(
        TINY_CHARMCRAFT + "parts:\n  charm:\n    charm-requirements: [reqs/prod.txt]\n"
    )
    with pytest.raises(errors.InvalidSpecError, match=r"reqs/prod\.txt: requirements file"):
        charms.pack(tiny, tmp_path / "cache")


# --- unpacking --------------------------------------------------------------------------


def test_unpack_restores_exec_bits_and_keeps_foreign_files(tmp_path: Path) -> None:
    packed = charms.pack(HELLO_BASH, tmp_path / "cache")
    dest = tmp_path / "agents" / "unit-hello-bash-0" / "charm"
    charms.unpack(packed.data, dest)
    assert (dest / "hooks" / "install").stat().st_mode & 0o777 == 0o755
    assert (dest / "metadata.yaml").stat().st_mode & 0o777 == 0o644
    assert charms.load_charm_dir(dest).name == "hello-bash"

    (dest / ".unit-state.db").write_bytes(b"state")  # made by the charm
    (dest / "hooks" / "install").write_text("#!/bin/sh\nexit 1\n")  # changed by the charm
    archive = tmp_path / "hello-bash.charm"
    archive.write_bytes(packed.data)
    charms.unpack(archive, dest)  # an upgrade, from a path this time
    assert (dest / ".unit-state.db").read_bytes() == b"state"
    assert (dest / "hooks" / "install").read_bytes() == (HELLO_BASH / "hooks/install").read_bytes()
    assert sorted(p.name for p in dest.iterdir() if p.name.endswith(".unpacking")) == []


def test_unpack_without_unix_modes_defaults_to_0644(tmp_path: Path) -> None:
    dos = zipfile.ZipInfo("hooks/install")
    dos.create_system = 0  # made on MS-DOS/Windows: external_attr holds no Unix mode
    dos.external_attr = 0o755 << 16
    data = make_zip([("metadata.yaml", b"name: x\n"), (dos, b"#!/bin/sh\n")])
    charms.unpack(data, tmp_path / "c")
    assert (tmp_path / "c" / "hooks" / "install").stat().st_mode & 0o777 == 0o644


def test_unpack_makes_files_owner_writable(tmp_path: Path) -> None:
    data = make_zip([(unix_entry("dispatch", stat.S_IFREG | 0o555), b"#!/bin/sh\n")])
    charms.unpack(data, tmp_path / "c")
    assert (tmp_path / "c" / "dispatch").stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize(
    "name", ["../evil", "/tmp/evil", "a/../../evil", "..\\evil", "C:/evil", "a//evil"]
)
def test_unpack_refuses_zip_slip(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "deep" / "charm"
    data = make_zip([("metadata.yaml", b"name: x\n"), (name, b"pwned")])
    with pytest.raises(errors.InvalidSpecError, match="unsafe path"):
        charms.unpack(data, dest)
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "deep" / "evil").exists()
    assert not dest.exists() or not any(dest.iterdir()), "nothing extracted"


def test_unpack_refuses_symlink_entries(tmp_path: Path) -> None:
    data = make_zip([(unix_entry("lib", stat.S_IFLNK | 0o777), b"/etc")])
    with pytest.raises(errors.InvalidSpecError, match="is a symlink"):
        charms.unpack(data, tmp_path / "c")


def test_unpack_does_not_follow_a_charm_made_symlink_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "c"
    dest.mkdir()
    (dest / "lib").symlink_to(outside)
    data = make_zip([("metadata.yaml", b"name: x\n"), ("lib/x.py", b"pwned")])
    with pytest.raises(errors.InvalidSpecError, match="leads outside the charm directory"):
        charms.unpack(data, dest)
    assert list(outside.iterdir()) == []


def test_unpack_refuses_directory_in_the_way(tmp_path: Path) -> None:
    dest = tmp_path / "c"
    (dest / "dispatch").mkdir(parents=True)
    data = make_zip([("dispatch", b"#!/bin/sh\n")])
    with pytest.raises(errors.InvalidSpecError, match="a directory is in the way"):
        charms.unpack(data, dest)
