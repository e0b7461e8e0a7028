"""The Pebble agent's zipapp: what it holds, that it runs on a bare Python (no venv, no
site-packages) with only what it carries and ops' client drives it there, and that
`install` (from the package, as the pod's init container runs it, or from the zipapp)
writes it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import ops.pebble
import pytest

import runecraft.agents.pebble
from runecraft.agents.pebble import _zipapp

PACKAGE = Path(runecraft.agents.pebble.__file__).parent


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path (sockets go here: AF_UNIX paths are short)."""
    path = Path(tempfile.mkdtemp(prefix="pz"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def bare_python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Our interpreter isolated (-I) and without site-packages (-S): only the standard
    library, as in a workload image with nothing but python3."""
    return subprocess.run(
        [sys.executable, "-I", "-S", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", "")},
    )


def test_pebble_zipapp_is_an_executable_archive_of_the_agent_and_its_pure_dependencies(
    short_dir: Path,
) -> None:
    dest = short_dir / "bin" / "pebble"
    _zipapp.build(dest)
    data = dest.read_bytes()
    assert data.startswith(b"#!/usr/bin/env python3\n")
    assert dest.stat().st_mode & 0o777 == 0o755
    names = set(zipfile.ZipFile(dest).namelist())
    ours = {f"runecraft/agents/pebble/{p.name}" for p in PACKAGE.glob("*.py")}
    assert ours <= names
    assert {"__main__.py", "runecraft/__init__.py", "runecraft/agents/__init__.py"} <= names
    for package in ("h11", "wsproto", "yaml"):
        assert f"{package}/__init__.py" in names
    assert {n.split("/")[1] for n in names if n.startswith("licenses/")} == {
        "h11",
        "wsproto",
        "PyYAML",
    }
    assert all(n.endswith(".py") or n.startswith("licenses/") for n in names), names
    assert not any("__pycache__" in n for n in names)
    ours_outside = {
        n
        for n in names
        if n.startswith("runecraft/") and not n.startswith("runecraft/agents/pebble/")
    }
    assert ours_outside == {"runecraft/__init__.py", "runecraft/agents/__init__.py"}
    entry = zipfile.ZipFile(dest).read("__main__.py").decode()
    assert "from runecraft.agents.pebble.__main__ import main" in entry

    # Built again: the same bytes, put in place by one rename (nothing left beside it).
    _zipapp.build(dest)
    assert dest.read_bytes() == data
    assert [p.name for p in dest.parent.iterdir()] == ["pebble"]


def test_pebble_zipapp_imports_everything_from_itself_on_a_bare_python(
    short_dir: Path,
) -> None:
    dest = short_dir / "pebble"
    _zipapp.build(dest)
    modules = sorted(
        f"runecraft.agents.pebble.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__main__"
    )
    script = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(dest)!r})\n"
        f"names = {[*modules, 'h11', 'wsproto', 'yaml']!r}\n"
        "for name in names:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(dest)!r}), (name, module.__file__)\n"
        "import yaml\n"
        "assert not yaml.__with_libyaml__\n"
        "print(yaml.safe_dump(yaml.safe_load('a: [1, 2]')), end='')\n"
    )
    done = bare_python("-c", script, cwd=short_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "a:\n- 1\n- 2\n"


def test_pebble_zipapp_installed_from_a_zipapp_is_a_copy_of_it(short_dir: Path) -> None:
    first = short_dir / "first"
    _zipapp.build(first)
    again = short_dir / "again" / "pebble"
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(first)!r})\n"
        "from pathlib import Path\n"
        "from runecraft.agents.pebble import _zipapp\n"
        f"_zipapp.build(Path({str(again)!r}))\n"
    )
    done = bare_python("-c", script, cwd=short_dir)
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == first.read_bytes()
    assert again.stat().st_mode & 0o777 == 0o755


def test_pebble_zipapp_runs_the_daemon_on_a_bare_python_and_ops_drives_it(
    short_dir: Path,
) -> None:
    """System info, a layer and its plan (PyYAML), and exec (wsproto) from the zipapp."""
    program = short_dir / "pebble"
    _zipapp.build(program)
    socket_path = short_dir / "pebble.socket"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PEBBLE": str(short_dir / "state"),
        "PEBBLE_SOCKET": str(socket_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", str(program), "run", "--create-dirs", "--hold"],
        env=env,
        cwd=short_dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = ops.pebble.Client(socket_path=str(socket_path))
        deadline = time.monotonic() + 30
        while True:
            try:
                info = client.get_system_info()
                break
            except ops.pebble.ConnectionError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the daemon never answered"
                time.sleep(0.05)
        assert info.version
        client.add_layer("base", {"services": {"idle": {"override": "replace", "command": "true"}}})
        assert client.get_plan().services["idle"].command == "true"
        output, _ = client.exec(["echo", "from the zipapp"]).wait_output()
        assert output == "from the zipapp\n"
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors


def test_pebble_install_writes_the_zipapp_from_the_package_and_from_the_zipapp(
    short_dir: Path,
) -> None:
    """`python3 -m runecraft.agents.pebble install DEST` is what the pod's init container
    runs; the zipapp's own `install` copies the zipapp."""
    expected = short_dir / "built"
    _zipapp.build(expected)
    from_package = short_dir / "bin" / "pebble"
    done = subprocess.run(
        [sys.executable, "-m", "runecraft.agents.pebble", "install", str(from_package)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert from_package.read_bytes() == expected.read_bytes()
    assert from_package.stat().st_mode & 0o777 == 0o755
    from_zipapp = short_dir / "copy" / "pebble"
    done = bare_python(str(from_package), "install", str(from_zipapp), cwd=short_dir)
    assert done.returncode == 0, done.stderr
    assert from_zipapp.read_bytes() == expected.read_bytes()


def test_the_zipapp_names_a_python_too_old_for_it() -> None:
    """An image with Python older than 3.11 gets one line saying so (simulated by asking
    for a version no interpreter has)."""
    main = _zipapp._MAIN.replace("(3, 11)", "(99, 0)")
    result = subprocess.run(
        [sys.executable, "-I", "-c", main], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stderr.startswith("rune-pebble needs Python 3.11 or newer; this image has 3.")
