"""Packing any form of charm into the `.charm` archive that units run.

A packed archive or directory is zipped as it is. A source tree is built the way
`charmcraft pack` builds it (reference/charm-contract.md §1.2, §9.4): the tree is copied
without VCS and build clutter, a unified `charmcraft.yaml` is split into `metadata.yaml`,
`config.yaml` and `actions.yaml`, the Python dependencies are installed into `venv/` with
`pip install --target`, and the standard `dispatch` script is written.

Installing dependencies is the slow part, so the installed tree is cached under
`<cache_dir>/venvs/<key>`, keyed by the dependency specification and the Python that runs
the charm; packing the same charm twice runs pip once. Archives are deterministic, so the
same source gives the same sha256 and the controller stores it once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from runecraft import errors
from runecraft.schemas import charm as schema

from . import _archive, _load

__all__ = ["DISPATCH_TEMPLATE", "PackedCharm", "pack"]

DISPATCH_TEMPLATE = (
    "#!/bin/sh\n"
    'JUJU_DISPATCH_PATH="${{JUJU_DISPATCH_PATH:-$0}}" PYTHONPATH=lib:venv exec ./{entrypoint}\n'
)
"""charmcraft's `dispatch`: run the entrypoint with `lib/` and `venv/` importable."""

PIP_TIMEOUT = 1800.0
"""Seconds one `pip install` may take before packing gives up."""

_VCS_AND_CACHES = frozenset({".git", ".hg", ".bzr", ".svn", "__pycache__"})
"""Directories never packed, at any depth."""
_SOURCE_BUILD_DIRS = frozenset(
    {
        ".venv",
        "venv",
        "build",
        "parts",
        "prime",
        "stage",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)
"""Top-level directories of a source tree that are build products, not charm content."""
_REQUIREMENT_INCLUDES = ("-r", "--requirement", "-c", "--constraint")
_MAX_INCLUDE_DEPTH = 8


@dataclasses.dataclass(frozen=True, slots=True)
class PackedCharm:
    """A charm archive ready to upload: bytes, their sha256, and the validated charm."""

    data: bytes
    sha256: str
    charm: _load.LoadedCharm


def _ignored(name: str, *, is_dir: bool, top: bool, source: bool) -> bool:
    """charmcraft's default ignores: VCS, caches, bytecode, and build products of a source."""
    if is_dir:
        return name in _VCS_AND_CACHES or (source and top and name in _SOURCE_BUILD_DIRS)
    if name.endswith((".pyc", ".pyo")):
        return True
    if not source:
        return False
    if name.startswith(".") and name.endswith(".swp"):
        return True
    return top and (name.endswith(".charm") or name == ".coverage")


def _tree(root: Path, *, prefix: str = "", source: bool) -> list[tuple[str, Path]]:
    """List the files to pack under `root` as (archive name, path), following symlinks.

    Symlinks are packed as the files they point to, as charmcraft does, and each real
    directory is visited once so a link to an ancestor cannot loop.
    """
    found: list[tuple[str, Path]] = []
    visited: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:
            dirnames[:] = []
            continue
        visited.add(real)
        relative = Path(dirpath).relative_to(root)
        top = relative == Path()
        dirnames[:] = sorted(
            name for name in dirnames if not _ignored(name, is_dir=True, top=top, source=source)
        )
        for name in sorted(filenames):
            if _ignored(name, is_dir=False, top=top, source=source):
                continue
            path = Path(dirpath, name)
            if not path.is_file():
                if path.is_symlink() and not path.exists():
                    raise errors.InvalidSpecError(f"{path}: broken symlink")
                continue  # sockets, fifos: not charm content
            found.append((prefix + (relative / name).as_posix(), path))
    return found


def _python_identity(python: str) -> str:
    """What makes installed packages fit a Python: ABI tag, machine, version."""
    code = (
        "import platform, sys; "
        "print(sys.implementation.cache_tag, platform.machine(), platform.python_version())"
    )
    if python == sys.executable:
        return f"{sys.implementation.cache_tag} {platform.machine()} {platform.python_version()}"
    try:
        done = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise errors.InvalidSpecError(f"cannot run the Python {python!r}: {exc}") from exc
    return done.stdout.strip()


@dataclasses.dataclass(frozen=True, slots=True)
class _Dependencies:
    """What to give `pip install`, and the text that determines what it installs."""

    args: tuple[str, ...]
    spec: dict[str, Any]


def _requirement_text(path: Path, root: Path, depth: int, texts: dict[str, str]) -> bool:
    """Read a requirements file and the files it includes; True if it names anything."""
    if depth > _MAX_INCLUDE_DEPTH:
        raise errors.InvalidSpecError(f"{path.relative_to(root)}: includes nest too deeply")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.InvalidSpecError(f"{path.relative_to(root)}: cannot read: {exc}") from exc
    texts[path.relative_to(root).as_posix()] = text
    meaningful = False
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        option, _, argument = line.partition(" ")
        if option in _REQUIREMENT_INCLUDES and argument.strip():
            included = (path.parent / argument.strip()).resolve()
            if not included.is_relative_to(root):
                raise errors.InvalidSpecError(
                    f"{path.relative_to(root)}: includes {argument.strip()!r}, outside the charm"
                )
            meaningful |= _requirement_text(included, root, depth + 1, texts)
        elif not line.startswith("-"):
            meaningful = True
    return meaningful


def _dependencies(staging: Path, charmcraft: schema.Charmcraft | None) -> _Dependencies | None:
    """Find the charm's Python dependencies, or None when there is nothing to install.

    `charm-requirements` of the charm part, else `requirements.txt`, else
    `pyproject.toml`'s `[project].dependencies` (its `tool.uv.sources`, which point at local
    builds, are ignored), plus the part's `charm-python-packages`.
    """
    root = staging.resolve()
    files = charmcraft.requirement_files if charmcraft is not None else None
    if files is None:
        files = ("requirements.txt",) if (staging / "requirements.txt").is_file() else ()
    texts: dict[str, str] = {}
    meaningful = False
    args: list[str] = []
    for name in files:
        path = staging / name
        if not path.is_file():
            raise errors.InvalidSpecError(f"{name}: requirements file not found")
        meaningful |= _requirement_text(path.resolve(), root, 0, texts)
        args += ["-r", str(path)]
    project: list[str] = []
    if not files and (staging / "pyproject.toml").is_file():
        project = _project_dependencies(staging / "pyproject.toml")
        args += project
    packages = list(charmcraft.python_packages) if charmcraft is not None else []
    args += packages
    if not (meaningful or project or packages):
        return None
    spec = {"requirements": texts, "project": project, "packages": packages}
    return _Dependencies(args=tuple(args), spec=spec)


def _project_dependencies(path: Path) -> list[str]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise errors.InvalidSpecError(f"pyproject.toml: {exc}") from exc
    project = data.get("project", {})
    dependencies = project.get("dependencies", []) if isinstance(project, dict) else None
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise errors.InvalidSpecError(
            "pyproject.toml: project.dependencies: expected a list of requirement strings"
        )
    return dependencies


def _ensure_venv(
    deps: _Dependencies,
    *,
    python: str,
    cache_dir: Path,
    cwd: Path,
    progress: Callable[[str], None],
) -> Path:
    """Return a directory with the dependencies installed, running pip only on a cache miss."""
    spec = {"format": 1, "python": _python_identity(python), **deps.spec}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]
    venvs = cache_dir / "venvs"
    final = venvs / key
    if final.is_dir():
        progress(f"using cached dependencies {key[:12]}")
        return final
    venvs.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=venvs))
    command = [
        python,
        "-m",
        "pip",
        "install",
        "--target",
        str(scratch),
        "--no-compile",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        *deps.args,
    ]
    progress("installing dependencies with pip")
    try:
        try:
            done = subprocess.run(
                command, cwd=cwd, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise errors.InvalidSpecError(f"installing dependencies with pip: {exc}") from exc
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise errors.InvalidSpecError(
                f"installing dependencies with pip failed (exit {done.returncode}):\n{tail}"
            )
        try:
            scratch.rename(final)
        except OSError:
            if not final.is_dir():  # not a concurrent pack that won the race
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as `|` blocks, so split-out YAML reads like the source."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump_yaml(content: Any) -> str:
    return yaml.dump(
        content, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def _charmcraft(path: Path) -> schema.Charmcraft | None:
    content = _load.parse_yaml(_read_optional(path / _load.CHARMCRAFT), _load.CHARMCRAFT)
    if content is None:
        return None
    return _load.validate(schema.Charmcraft, _load.Document(content, _load.CHARMCRAFT))


def _read_optional(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _make_executable(path: Path) -> None:
    path.chmod(path.stat().st_mode | 0o111)


def _build_source(
    path: Path, cache_dir: Path, python: str, progress: Callable[[str], None]
) -> bytes:
    """Build a source tree the way charmcraft does and return the zipped charm."""
    docs = _load.read_documents(lambda name: _read_optional(path / name), charmcraft="strict")
    _load.build(docs, where=str(path))  # refuse a bad charm before any slow work
    charmcraft = _charmcraft(path)
    entrypoint = charmcraft.entrypoint if charmcraft is not None else "src/charm.py"
    (cache_dir / "build").mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="pack-", dir=cache_dir / "build"))
    try:
        progress("copying the source tree")
        for name, source in _tree(path, source=True):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            target.chmod(0o755 if source.stat().st_mode & 0o111 else 0o644)
        for name, doc in docs.items():
            if doc is not None and doc.source == _load.CHARMCRAFT:
                (staging / name).write_text(_dump_yaml(doc.content))
        entry, dispatch = staging / entrypoint, staging / "dispatch"
        if entry.is_file():
            _make_executable(entry)
            if not dispatch.exists():
                dispatch.write_text(DISPATCH_TEMPLATE.format(entrypoint=entrypoint))
        elif not dispatch.exists() and not (staging / "hooks").is_dir():
            raise errors.InvalidSpecError(
                f"{path}: {entrypoint} not found, and no dispatch or hooks/ to run instead"
            )
        if dispatch.is_file():
            _make_executable(dispatch)
        entries = _tree(staging, source=False)
        deps = _dependencies(staging, charmcraft)
        if deps is not None:
            venv = _ensure_venv(
                deps, python=python, cache_dir=cache_dir, cwd=staging, progress=progress
            )
            entries += _tree(venv, prefix="venv/", source=False)
        progress("zipping the charm")
        return _archive.zip_files(entries)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def pack(
    path: Path,
    cache_dir: Path,
    *,
    python: str = sys.executable,
    progress: Callable[[str], None] | None = None,
) -> PackedCharm:
    """Turn a charm in any form into a validated, deterministic `.charm` archive.

    Args:
        path: a `.charm` file, a packed charm directory or a source tree.
        cache_dir: where installed dependencies are cached between packs (and where the
            build happens); created if missing.
        python: the interpreter the charm will run under; dependencies are installed for it.
        progress: called with a short line before each slow step.

    Raises:
        InvalidSpecError: not a charm, invalid metadata, or installing dependencies failed.
    """
    report = progress or (lambda _line: None)
    form = _load.classify(path)
    if form is _load.CharmForm.ARCHIVE:
        size = path.stat().st_size
        if size > _archive.MAX_ARCHIVE_BYTES:
            raise errors.InvalidSpecError(
                f"{path}: {size} bytes is larger than the limit of {_archive.MAX_ARCHIVE_BYTES}"
            )
        data = path.read_bytes()
    elif form is _load.CharmForm.PACKED_DIR:
        _load.load_charm_dir(path)  # refuse a bad charm with file-level messages first
        report("zipping the charm")
        data = _archive.zip_files(_tree(path, source=False))
    else:
        data = _build_source(path, cache_dir, python, report)
    charm = _load.load_charm_archive(data)
    return PackedCharm(data=data, sha256=charm.sha256, charm=charm)
