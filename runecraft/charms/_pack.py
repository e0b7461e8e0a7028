"""Packing any form of charm into the `.charm` archive that units run.

A packed archive or directory is zipped as it is. A source tree is built the way
`charmcraft pack` builds it (reference/charm-contract.md §1.2, §9.4), part by part from
`charmcraft.yaml`: the `charm` plugin copies the tree without VCS and build clutter, installs
`requirements.txt` (or `charm-requirements`) and `charm-binary-python-packages` into `venv/`
with `pip install --target`, and writes the standard `dispatch` and `hooks/`; the `uv` plugin
installs what `uv.lock` pins, the `python` plugin its `python-requirements` and
`python-packages`, both with `src/` and `lib/`; the `dump` plugin copies its `source`;
`organize`, `stage` and `prime` apply to each part. The unified `charmcraft.yaml` is split
into `metadata.yaml`, `config.yaml` and `actions.yaml`, and `manifest.yaml` names the bases.

charmcraft's `uv` and `python` plugins make a virtualenv (`venv/lib/pythonX.Y/...`); here
every plugin installs flat into `venv/` behind the same `dispatch`, which runs under whatever
`python3` the machine has and lets the unit agent run ops charms in its fork server.

Installing dependencies is the slow part, so the installed tree is cached under
`<cache_dir>/venvs/<key>`, keyed by the dependency specification and the Python that runs
the charm; packing the same charm twice installs once. Archives are deterministic, so the
same source gives the same sha256 and the controller stores it once.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import hashlib
import json
import os
import platform
import posixpath
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from runecraft import __version__, errors
from runecraft.schemas import charm as schema

from . import _archive, _load, _platforms

__all__ = ["DISPATCH_TEMPLATE", "PLUGINS", "CharmFile", "PackedCharm", "pack", "pack_platforms"]

DISPATCH_TEMPLATE = (
    "#!/bin/sh\n"
    'JUJU_DISPATCH_PATH="${{JUJU_DISPATCH_PATH:-$0}}" PYTHONPATH=lib:venv exec ./{entrypoint}\n'
)
"""charmcraft's `dispatch`: run the entrypoint with `lib/` and `venv/` importable."""

PIP_TIMEOUT = 1800.0
"""Seconds one `pip install` (or `uv pip install`) may take before packing gives up."""
PLUGINS = ("charm", "dump", "nil", "python", "uv")
"""The charmcraft part plugins Runecraft builds."""
MANDATORY_HOOKS = ("install", "start", "upgrade-charm")
"""Hooks the charm plugin adds beside `dispatch`, for Juju versions older than dispatch."""

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
_SOURCE_IGNORED_FILES = frozenset({"charmcraft.yaml", ".jujuignore", "revision"})
"""Top-level files of a source tree charmcraft leaves out of the charm."""
_REQUIREMENT_INCLUDES = ("-r", "--requirement", "-c", "--constraint")
_MAX_INCLUDE_DEPTH = 8


@dataclasses.dataclass(frozen=True, slots=True)
class PackedCharm:
    """A charm archive ready to upload: bytes, their sha256, and the validated charm."""

    data: bytes
    sha256: str
    charm: _load.LoadedCharm


@dataclasses.dataclass(frozen=True, slots=True)
class CharmFile:
    """One `.charm` file `charmcraft pack` would write: its file name and its content."""

    file_name: str
    platform: str
    bases: tuple[_platforms.Base, ...]
    packed: PackedCharm


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
    return top and (name.endswith(".charm") or name in {".coverage", *_SOURCE_IGNORED_FILES})


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
    installer: str = "pip"
    """`pip` (`python -m pip install --target`) or `uv` (`uv pip install --target`)."""


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


def _requirement_files(
    source: Path, names: list[str], texts: dict[str, str], option: str = "-r"
) -> tuple[list[str], bool]:
    """`-r FILE` arguments for requirements files (read into `texts`); True if any names
    a package."""
    root = source.resolve()
    args: list[str] = []
    meaningful = False
    for name in names:
        path = source / name
        if not path.is_file():
            raise errors.InvalidSpecError(f"{name}: requirements file not found")
        meaningful |= _requirement_text(path.resolve(), root, 0, texts)
        args += [option, str(path)]
    return args, meaningful


def _dependencies(staging: Path, part: dict[str, Any]) -> _Dependencies | None:
    """Find a charm part's Python dependencies, or None when there is nothing to install.

    `charm-requirements` of the charm part, else `requirements.txt`, else
    `pyproject.toml`'s `[project].dependencies` (its `tool.uv.sources`, which point at local
    builds, are ignored), plus the part's `charm-binary-python-packages` and
    `charm-python-packages`.
    """
    listed = part.get("charm-requirements")
    files = [str(f) for f in listed] if listed is not None else []
    if listed is None and (staging / "requirements.txt").is_file():
        files = ["requirements.txt"]
    texts: dict[str, str] = {}
    args, meaningful = _requirement_files(staging, files, texts)
    project: list[str] = []
    if not files and (staging / "pyproject.toml").is_file():
        project = _project_dependencies(staging / "pyproject.toml")
        args += project
    packages = [
        str(p)
        for key in ("charm-binary-python-packages", "charm-python-packages")
        for p in part.get(key) or ()
    ]
    args += packages
    if not (meaningful or project or packages):
        return None
    spec = {"requirements": texts, "project": project, "packages": packages}
    return _Dependencies(args=tuple(args), spec=spec)


def _strings(part: dict[str, Any], key: str, where: str) -> list[str]:
    value = part.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.InvalidSpecError(f"{where}.{key}: expected a list of strings")
    return value


def _python_dependencies(source: Path, part: dict[str, Any], where: str) -> _Dependencies | None:
    """The `python` plugin's `python-requirements`, `python-constraints` and
    `python-packages`, for `pip install --target`."""
    texts: dict[str, str] = {}
    args, meaningful = _requirement_files(
        source, _strings(part, "python-requirements", where), texts
    )
    constraints, _ = _requirement_files(
        source, _strings(part, "python-constraints", where), texts, "-c"
    )
    packages = _strings(part, "python-packages", where)
    if not (meaningful or packages):
        return None
    spec = {"requirements": texts, "packages": packages}
    return _Dependencies(args=(*args, *constraints, *packages), spec=spec)


def _uv() -> str:
    """The `uv` executable: the one the `uv` package installed, else one on PATH."""
    try:
        from uv import find_uv_bin  # noqa: PLC0415 (only packing a uv part needs it)

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise errors.InvalidSpecError(
                "packing a part with the uv plugin needs uv: install it (pip install uv)"
            ) from None
        return found


def _uv_dependencies(
    source: Path, part: dict[str, Any], where: str, work: Path
) -> _Dependencies | None:
    """What `uv.lock` pins for the project (not the project itself, no dev group), as
    `uv export --frozen` writes it: exact versions with hashes."""
    for needed, hint in (("pyproject.toml", ""), ("uv.lock", ": run `uv lock` to make it")):
        if not (source / needed).is_file():
            raise errors.InvalidSpecError(f"{where}: {needed} not found in the source{hint}")
    command = [
        _uv(),
        "export",
        "--frozen",
        "--no-dev",
        "--no-emit-project",
        "--no-header",
        "--format",
        "requirements-txt",
    ]
    for extra in _strings(part, "uv-extras", where):
        command += ["--extra", extra]
    for group in _strings(part, "uv-groups", where):
        command += ["--group", group]
    done = _run(command, source, "reading uv.lock with uv export")
    pinned = [line for line in done.splitlines() if line.strip() and not line.startswith("#")]
    if not pinned:
        return None
    requirements = work / "uv-requirements.txt"
    requirements.parent.mkdir(parents=True, exist_ok=True)
    requirements.write_text(done)
    return _Dependencies(args=("-r", str(requirements)), spec={"uv-export": done}, installer="uv")


def _run(command: list[str], cwd: Path, what: str) -> str:
    """Run a build tool; its stdout, or an error with the tail of its output."""
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise errors.InvalidSpecError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise errors.InvalidSpecError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


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


def _install_command(deps: _Dependencies, python: str, target: Path) -> list[str]:
    if deps.installer == "uv":
        return [_uv(), "pip", "install", "--python", python, "--target", str(target), *deps.args]
    return [
        python,
        "-m",
        "pip",
        "install",
        "--target",
        str(target),
        "--no-compile",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        *deps.args,
    ]


def _ensure_venv(
    deps: _Dependencies,
    *,
    python: str,
    cache_dir: Path,
    cwd: Path,
    progress: Callable[[str], None],
) -> Path:
    """Return a directory with the dependencies installed, installing only on a cache miss."""
    identity = {"format": 1, "python": _python_identity(python), **deps.spec}
    if deps.installer != "pip":
        identity["installer"] = deps.installer
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
    venvs = cache_dir / "venvs"
    final = venvs / key
    if final.is_dir():
        progress(f"using cached dependencies {key[:12]}")
        return final
    venvs.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=venvs))
    progress(f"installing dependencies with {deps.installer}")
    try:
        _run(
            _install_command(deps, python, scratch),
            cwd,
            f"installing dependencies with {deps.installer}",
        )
        (scratch / ".lock").unlink(missing_ok=True)  # uv's lock on its --target, not content
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


@dataclasses.dataclass(frozen=True, slots=True)
class _Part:
    """One entry of `parts`: its plugin, its local source and its keys."""

    name: str
    plugin: str
    source: Path | None
    spec: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{_load.CHARMCRAFT}: parts.{self.name}"


@dataclasses.dataclass(frozen=True, slots=True)
class _Build:
    """What every part's build shares."""

    root: Path
    cache_dir: Path
    python: str
    progress: Callable[[str], None]


def _parts(charmcraft: schema.Charmcraft | None, root: Path) -> list[_Part]:
    """The parts to build, in order; a tree without any builds as charmcraft's default
    `charm` part. charmcraft's rule: a part without `plugin` uses the plugin of its name."""
    declared = charmcraft.parts if charmcraft is not None else {}
    if not declared:
        declared = {"charm": {"plugin": "charm", "source": "."}}
    parts: list[_Part] = []
    for name, spec in declared.items():
        where = f"{_load.CHARMCRAFT}: parts.{name}"
        if not isinstance(spec, dict):
            raise errors.InvalidSpecError(f"{where}: expected a mapping")
        plugin = spec.get("plugin") or name
        if plugin not in PLUGINS:
            raise errors.InvalidSpecError(
                f"{where}.plugin: unknown plugin {plugin!r}: Runecraft builds parts with "
                f"the {', '.join(PLUGINS)} plugins"
            )
        parts.append(_Part(str(name), plugin, _part_source(spec, root, where, plugin), spec))
    return parts


def _part_source(spec: dict[str, Any], root: Path, where: str, plugin: str) -> Path | None:
    source = spec.get("source", "." if plugin == "charm" else None)
    if source is None:
        if plugin == "nil":
            return None
        raise errors.InvalidSpecError(f"{where}.source: required by the {plugin} plugin")
    kind = spec.get("source-type", "local")
    if not isinstance(source, str) or kind != "local" or "://" in source:
        raise errors.InvalidSpecError(
            f"{where}.source: only a local directory can be packed here, got {source!r}"
        )
    path = root / source
    if not path.is_dir():
        state = "is not a directory" if path.exists() else "not found"
        raise errors.InvalidSpecError(f"{where}.source: {source!r} {state}")
    return path


def _copy(entries: list[tuple[str, Path]], into: Path) -> None:
    for name, source in entries:
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(0o755 if source.stat().st_mode & 0o111 else 0o644)


def _with_venv(
    files: dict[str, Path], deps: _Dependencies | None, build: _Build, cwd: Path
) -> dict[str, Path]:
    if deps is not None:
        venv = _ensure_venv(
            deps, python=build.python, cache_dir=build.cache_dir, cwd=cwd, progress=build.progress
        )
        files.update(_tree(venv, prefix="venv/", source=False))
    return files


def _charm_plugin(part: _Part, work: Path, build: _Build) -> dict[str, Path]:
    """charmcraft's charm plugin: the whole tree, `dispatch` and `hooks/`, deps in `venv/`."""
    assert part.source is not None
    entrypoint = str(part.spec.get("charm-entrypoint") or "src/charm.py")
    build.progress(f"copying the source tree of part {part.name}")
    _copy(_tree(part.source, source=True), work)
    entry, dispatch = work / entrypoint, work / "dispatch"
    if entry.is_file():
        _make_executable(entry)
        if not dispatch.exists():
            dispatch.write_text(DISPATCH_TEMPLATE.format(entrypoint=entrypoint))
        _make_executable(dispatch)
        for hook in MANDATORY_HOOKS:
            if not (work / "hooks" / hook).exists():
                (work / "hooks").mkdir(exist_ok=True)
                shutil.copy(dispatch, work / "hooks" / hook)
    elif not dispatch.exists() and not (work / "hooks").is_dir():
        raise errors.InvalidSpecError(
            f"{build.root}: {entrypoint} not found, and no dispatch or hooks/ to run instead"
        )
    if dispatch.is_file():
        _make_executable(dispatch)
    files = dict(_tree(work, source=False))
    return _with_venv(files, _dependencies(work, part.spec), build, work)


def _venv_plugin(part: _Part, work: Path, build: _Build) -> dict[str, Path]:
    """charmcraft's uv and python plugins: `src/` and `lib/`, and the deps in `venv/`."""
    assert part.source is not None
    files: dict[str, Path] = {}
    for top in ("src", "lib"):
        if (part.source / top).is_dir():
            files.update(_tree(part.source / top, prefix=f"{top}/", source=False))
    if part.plugin == "uv":
        build.progress(f"reading uv.lock of part {part.name}")
        deps = _uv_dependencies(part.source, part.spec, part.where, work)
    else:
        deps = _python_dependencies(part.source, part.spec, part.where)
    return _with_venv(files, deps, build, part.source)


def _build_part(part: _Part, work: Path, build: _Build) -> dict[str, Path]:
    """What one part puts in the charm, by archive name, after organize, stage and prime."""
    work.mkdir(parents=True)
    if part.plugin == "nil":
        files: dict[str, Path] = {}
    elif part.plugin == "dump":
        assert part.source is not None
        files = dict(_tree(part.source, source=True))
    elif part.plugin == "charm":
        files = _charm_plugin(part, work, build)
    else:
        files = _venv_plugin(part, work, build)
    files = _organize(files, part.spec.get("organize"), f"{part.where}.organize")
    files = _select(files, part.spec.get("stage"), f"{part.where}.stage")
    return _select(files, part.spec.get("prime"), f"{part.where}.prime")


def _prefixes(name: str) -> list[str]:
    """`a/b/c` → `a`, `a/b`, `a/b/c`: a pattern naming a directory takes what is in it."""
    parts = name.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _organize(files: dict[str, Path], mapping: object, where: str) -> dict[str, Path]:
    """craft-parts' `organize`: move a file or directory (or glob) to a new path; a
    destination ending in `/` is a directory to move it into."""
    if not mapping:
        return files
    if not isinstance(mapping, dict):
        raise errors.InvalidSpecError(f"{where}: expected a mapping of source to destination")
    moved: dict[str, Path] = {}
    for name, path in files.items():
        target = name
        for key, value in mapping.items():
            pattern, destination = str(key).strip("/"), str(value)
            if destination.startswith("/") or ".." in destination.split("/"):
                raise errors.InvalidSpecError(
                    f"{where}.{pattern}: {destination!r} leaves the charm"
                )
            matched = next((p for p in _prefixes(name) if fnmatch.fnmatchcase(p, pattern)), None)
            if matched is None:
                continue
            base = destination.rstrip("/")
            if destination.endswith("/") or not base:
                base = posixpath.join(base, posixpath.basename(matched)) if base else matched
            target = base + name[len(matched) :]
            break
        moved[target.lstrip("/")] = path
    return moved


def _select(files: dict[str, Path], patterns: object, where: str) -> dict[str, Path]:
    """craft-parts' `stage`/`prime` filesets: the named paths (globs, directories with their
    contents), minus those written `-path`; only exclusions means everything else."""
    if not patterns:
        return files
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise errors.InvalidSpecError(f"{where}: expected a list of paths")
    included = [p.strip("/") for p in patterns if not p.startswith("-")]
    excluded = [p[1:].strip("/") for p in patterns if p.startswith("-")]

    def hit(name: str, globs: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(p, g) for p in _prefixes(name) for g in globs)

    return {
        name: path
        for name, path in files.items()
        if (not included or hit(name, included)) and not hit(name, excluded)
    }


def _python_entrypoint(prime: dict[str, Path]) -> str | None:
    """charmcraft's language check: the last word of `dispatch` names an executable `.py`."""
    dispatch = prime.get("dispatch")
    if dispatch is None:
        return None
    try:
        lines = [line for line in dispatch.read_text().splitlines() if line.strip()]
        words = shlex.split(lines[-1]) if lines else []
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    name = posixpath.normpath(words[-1]) if words else ""
    path = prime.get(name)
    if not name.endswith(".py") or path is None or not path.stat().st_mode & 0o111:
        return None
    return name


def _imports_ops(path: Path) -> bool:
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "ops" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ops":
            return True
    return False


def _attributes(prime: dict[str, Path]) -> dict[str, str]:
    """`manifest.yaml`'s analysis attributes, by charmcraft's language and framework checks."""
    entry = _python_entrypoint(prime)
    operator = (
        entry is not None
        and any(name.startswith("venv/ops/") for name in prime)
        and _imports_ops(prime[entry])
    )
    return {
        "language": "python" if entry else "unknown",
        "framework": "operator" if operator else "unknown",
    }


def _documents(
    docs: dict[str, _load.Document | None], root: Path, staging: Path
) -> dict[str, Path]:
    """metadata.yaml, config.yaml and actions.yaml as charmcraft writes them: the project's
    own file when it has one, else the section split out of charmcraft.yaml."""
    found: dict[str, Path] = {}
    for name, doc in docs.items():
        if doc is None:
            continue
        if doc.source == _load.CHARMCRAFT:
            found[name] = staging / name
            found[name].write_text(_dump_yaml(doc.content))
        else:
            found[name] = root / name
    return found


def _add_dispatch(prime: dict[str, Path], entrypoint: str, staging: Path) -> None:
    """charmcraft writes a `dispatch` when no part made one nor any hook (the uv and python
    plugins); the entrypoint is made executable, as the standard dispatch execs it."""
    if "dispatch" in prime or any(n.startswith("hooks/") for n in prime):
        return
    entry = prime.get(entrypoint)
    if entry is None:
        return
    copy = staging / "entrypoint" / entrypoint
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(entry, copy)
    copy.chmod(0o755)
    dispatch = staging / "dispatch"
    dispatch.write_text(DISPATCH_TEMPLATE.format(entrypoint=entrypoint))
    dispatch.chmod(0o755)
    prime[entrypoint], prime["dispatch"] = copy, dispatch


def _build_source(
    path: Path,
    build: _Build,
    platforms: list[_platforms.Platform | None],
) -> list[bytes]:
    """Build a source tree the way charmcraft does; one zipped charm per platform (whose
    `manifest.yaml` names it; None packs without one)."""
    docs = _load.read_documents(lambda name: _read_optional(path / name), charmcraft="strict")
    _load.build(docs, where=str(path))  # refuse a bad charm before any slow work
    charmcraft = _charmcraft(path)
    parts = _parts(charmcraft, path)
    (build.cache_dir / "build").mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="pack-", dir=build.cache_dir / "build"))
    try:
        prime: dict[str, Path] = {}
        for index, part in enumerate(parts):
            prime.update(_build_part(part, staging / f"part-{index}", build))
        prime.update(_documents(docs, path, staging))
        entrypoint = charmcraft.entrypoint if charmcraft is not None else "src/charm.py"
        _add_dispatch(prime, entrypoint, staging)
        attributes = _attributes(prime)
        archives: list[bytes] = []
        for index, platform in enumerate(platforms):
            entries = dict(prime)
            if platform is not None:
                manifest = staging / f"manifest-{index}.yaml"
                manifest.write_text(
                    _dump_yaml(_platforms.manifest(platform, __version__, attributes))
                )
                entries["manifest.yaml"] = manifest
            build.progress("zipping the charm" + (f" for {platform.name}" if platform else ""))
            archives.append(_archive.zip_files(entries.items()))
        return archives
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _deploy_platform(path: Path) -> _platforms.Platform | None:
    """The platform a deploy packs for: the first that builds here, else the first."""
    charmcraft = _charmcraft(path)
    declared = _platforms.platforms(charmcraft) if charmcraft is not None else []
    arch = _platforms.host_architecture()
    return next((p for p in declared if arch in p.build_on), declared[0] if declared else None)


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
        build = _Build(path, cache_dir, python, report)
        (data,) = _build_source(path, build, [_deploy_platform(path)])
    charm = _load.load_charm_archive(data)
    return PackedCharm(data=data, sha256=charm.sha256, charm=charm)


def pack_platforms(
    path: Path,
    cache_dir: Path,
    *,
    python: str = sys.executable,
    progress: Callable[[str], None] | None = None,
    architecture: str | None = None,
) -> list[CharmFile]:
    """`charmcraft pack`: one `.charm` per platform of `charmcraft.yaml` that builds on this
    machine's architecture, named as charmcraft names it.

    Raises:
        InvalidSpecError: no charmcraft.yaml, no base, no platform building here, a bad
            part, or installing dependencies failed.
    """
    arch = architecture or _platforms.host_architecture()
    form = _load.classify(path)  # refuses a path that is missing or no charm at all
    if not (path / _load.CHARMCRAFT).is_file():
        raise errors.InvalidSpecError(
            f"{path}: no {_load.CHARMCRAFT}: packing builds a charm from its "
            f"{_load.CHARMCRAFT} (a packed charm deploys as it is)"
        )
    if form is not _load.CharmForm.SOURCE:
        raise errors.InvalidSpecError(
            f"{path}: already packed (it has metadata.yaml and dispatch): deploy it as it is"
        )
    charmcraft = _charmcraft(path)
    assert charmcraft is not None
    declared = _platforms.platforms(charmcraft, arch)
    if not declared:
        raise errors.InvalidSpecError(
            f"{_load.CHARMCRAFT}: base: required: set base and platforms (or bases) to say "
            "what the charm runs on"
        )
    chosen = [p for p in declared if arch in p.build_on]
    if not chosen:
        raise errors.InvalidSpecError(
            f"{_load.CHARMCRAFT}: platforms: none builds on {arch} "
            f"(declared: {', '.join(p.name for p in declared)})"
        )
    report = progress or (lambda _line: None)
    archives = _build_source(path, _Build(path, cache_dir, python, report), [*chosen])
    found: list[CharmFile] = []
    for target, data in zip(chosen, archives, strict=True):
        charm = _load.load_charm_archive(data)
        packed = PackedCharm(data=data, sha256=charm.sha256, charm=charm)
        found.append(CharmFile(target.file_name(charm.name), target.name, target.bases, packed))
    return found
