"""Agent wheels for machines without a package index (LXD containers, enlisted SSH hosts).

The controller makes the wheels from the distributions it runs itself, so an agent gets
exactly the versions the controller was tested with and provisioning needs no network.
Only what the agent imports goes in (found by importing the agent in a child process), so a
machine never carries the controller's web, database or broker stacks. Compiled modules
(pydantic-core, PyYAML) tie a wheelhouse to the controller's Python minor version and
platform; `install_script` checks the machine's Python against it before touching anything.

Installation unpacks the wheels into a `--without-pip` venv: a wheel is a zip laid out as
site-packages, and unpacking needs neither pip nor an index on the machine. One Python
process unpacks them all (one per wheel cost a container ≈ 0.6 s of CPU more).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import runecraft
from runecraft import errors

__all__ = ["AGENT_MODULE", "Wheelhouse", "agent_argv", "build_wheelhouse", "install_script"]

AGENT_MODULE = "runecraft.agents"
_AGENT_IMPORTS = (
    "runecraft.agents.__main__",
    "runecraft.agents.unit",
    "runecraft.agents.machine",
    "runecraft.agents.pebble._daemon",  # run beside units of sidecar charms
)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SITE_HOOKS = frozenset({"pip", "setuptools"})
"""Imported by `.pth` hooks of the controller's environment, not by the agent."""
_PROBE = """
import importlib.metadata as md, json, sys
for name in sys.argv[1:]:
    __import__(name)
owners = md.packages_distributions()
tops = {m.partition('.')[0] for m in list(sys.modules)}
print(json.dumps(sorted({d for top in tops for d in owners.get(top, [])})))
"""


@dataclass(frozen=True)
class Wheelhouse:
    """A directory of wheels that together run the machine agent."""

    directory: Path
    wheels: tuple[Path, ...]
    python: tuple[int, int]
    """The Python minor version whose compiled modules the wheels hold."""


def agent_distributions() -> list[str]:
    """Installed distributions the agent imports, with their requirements (lazy imports)."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *_AGENT_IMPORTS],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise errors.PermanentError(
            f"cannot list the agent's distributions: {result.stderr.strip()}"
        )
    found: set[str] = set()
    # Loaded lazily: the agent's HTTP client, and its trace exporter (when tracing is on).
    pending = [*json.loads(result.stdout), "httpx", "opentelemetry-exporter-otlp-proto-http"]
    while pending:
        name = _canonical(pending.pop())
        if name in found or name in _SITE_HOOKS or name == "runecraft":
            continue
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue  # an optional dependency that is not installed
        found.add(name)
        pending.extend(_requirement_name(r) for r in requires if "extra ==" not in r)
    return sorted({*found, "runecraft"})


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    return match.group(0) if match else requirement


def build_wheelhouse(cache_dir: Path) -> Wheelhouse:
    """Make (or reuse) the wheelhouse for the running controller; blocking, call off-loop."""
    dists = [metadata.distribution(name) for name in agent_distributions()]
    key = _house_key(dists)
    directory = cache_dir / "wheelhouse" / key
    if not directory.is_dir():
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".build-", dir=directory.parent))
        try:
            for dist in dists:
                _write_wheel(dist, staging)
            staging.rename(directory)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not directory.is_dir():  # not a concurrent builder winning the rename
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return Wheelhouse(
        directory=directory,
        wheels=tuple(sorted(directory.glob("*.whl"))),
        python=(sys.version_info.major, sys.version_info.minor),
    )


def install_script(
    prefix: str,
    wheel_dir: str,
    python: tuple[int, int] = (sys.version_info.major, sys.version_info.minor),
) -> str:
    """POSIX sh that installs the agent under PREFIX from WHEEL_DIR/*.whl; re-runnable.

    Exits 3 with an `ERROR …` line when the machine's python3 is missing or is not the
    wheelhouse's version, before anything is written.
    """
    want = f"{python[0]}.{python[1]}"
    return f"""set -eu
PREFIX={shlex.quote(prefix)}
WHEELS={shlex.quote(wheel_dir)}
if ! command -v python3 >/dev/null 2>&1; then
  echo "ERROR python3 is not installed (the Runecraft agent needs Python {want})" >&2; exit 3
fi
have=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$have" != "{want}" ]; then
  echo "ERROR python3 is $have; the Runecraft agent wheels need Python {want}" >&2; exit 3
fi
[ -x "$PREFIX/venv/bin/python" ] || python3 -m venv --without-pip "$PREFIX/venv"
site=$("$PREFIX/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
rm -rf "$site.new"
mkdir -p "$site.new"
"$PREFIX/venv/bin/python" -c 'import sys, zipfile
for wheel in sys.argv[2:]:
    zipfile.ZipFile(wheel).extractall(sys.argv[1])' "$site.new" "$WHEELS"/*.whl
rm -rf "$site"
mv "$site.new" "$site"
# Bytecode now: machine users cannot write it, so each agent would compile ~1,000 modules.
"$PREFIX/venv/bin/python" -m compileall -q "$site" >/dev/null || :
"$PREFIX/venv/bin/python" -c 'import {AGENT_MODULE}'
"""


def agent_argv(prefix: str, config_path: str) -> list[str]:
    """The command that runs the machine agent installed by `install_script`."""
    return [f"{prefix}/venv/bin/python", "-m", AGENT_MODULE, "--config", config_path]


def _house_key(dists: list[metadata.Distribution]) -> str:
    digest = hashlib.sha256(f"{sys.version_info[:2]} {sysconfig.get_platform()}".encode())
    for dist in dists:
        digest.update(f"{dist.metadata['Name']}=={dist.version}\n".encode())
    for path in _runecraft_files():
        digest.update(f"{path.relative_to(_package_root())}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _package_root() -> Path:
    return Path(runecraft.__file__).parent


def _runecraft_files() -> list[Path]:
    """The runecraft package's source files (from the tree itself: installs may be editable)."""
    root = _package_root()
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def _wheel_name(name: str, version: str, tag: str) -> str:
    return f"{re.sub(r'[-_.]+', '_', name)}-{version}-{tag}.whl"


def _platform_tag() -> str:
    abi = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = re.sub(r"[-.]", "_", sysconfig.get_platform())
    return f"{abi}-{abi}-{platform}"


def _write_wheel(dist: metadata.Distribution, into: Path) -> None:
    name = dist.metadata["Name"]
    entries: list[tuple[str, Path]]
    if name.lower() == "runecraft":
        root = _package_root()
        entries = [(f"runecraft/{p.relative_to(root)}", p) for p in _runecraft_files()]
        info = f"runecraft-{dist.version}.dist-info"
        extra = {
            f"{info}/METADATA": (
                f"Metadata-Version: 2.1\nName: runecraft\nVersion: {dist.version}\n"
            ),
            f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        }
    else:
        entries = []
        for file in dist.files or ():
            relative = str(file)
            if relative.startswith("..") or "__pycache__" in relative or relative.endswith(".pyc"):
                continue
            located = Path(str(dist.locate_file(file)))
            if located.is_file():
                entries.append((relative, located))
        extra = {}
    compiled = any(arc.endswith((".so", ".pyd")) for arc, _ in entries)
    tag = _platform_tag() if compiled else "py3-none-any"
    target = into / _wheel_name(name, dist.version, tag)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, path in sorted(entries):
            item = zipfile.ZipInfo(arcname, _ZIP_TIME)
            item.external_attr = (os.stat(path).st_mode & 0o777) << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(item, path.read_bytes())
        for arcname, text in sorted(extra.items()):
            archive.writestr(zipfile.ZipInfo(arcname, _ZIP_TIME), text)
