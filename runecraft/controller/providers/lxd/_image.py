"""Runecraft's LXD base image, built here because no image server may be reachable.

Debian minbase with python3 (and venv), systemd, udev and iproute2 (charm-contract and
substrate notes): systemd-networkd takes DHCP on eth0 (it needs udev in a container), the
resolver points at the bridge (so nothing leaks upstream), and systemd-binfmt is masked
(it fails in containers and marks the system degraded). The rootfs is packed as an LXD
"unified" tarball and cached, so a second build is a file read.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from runecraft import errors

__all__ = ["IMAGE_PACKAGES", "apt_mirror", "build_image_tarball", "image_alias", "image_name"]

IMAGE_PACKAGES = ("python3", "python3-venv", "systemd-sysv", "udev", "dbus", "iproute2")
SUITE = "bookworm"


def apt_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this host installs from (its apt sources), for debootstrap."""
    candidates: list[str] = []
    for path in sorted([sources / "sources.list", *sources.glob("sources.list.d/*")]):
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            words = line.split()
            if line.startswith("deb ") and len(words) >= 3:
                uri = next((w for w in words[1:] if "://" in w), "")
            elif line.startswith("URIs:") and len(words) >= 2:
                uri = words[1]
            else:
                continue
            if uri.rstrip("/").endswith("/debian"):
                candidates.append(uri)
    if not candidates:
        raise errors.PermanentError(
            "cannot find a Debian mirror in the apt sources of this host: give one with --mirror"
        )
    return candidates[0]


def _image_key(nameserver: str) -> str:
    return hashlib.sha256(f"{SUITE}|{','.join(IMAGE_PACKAGES)}|{nameserver}".encode()).hexdigest()


def image_name(nameserver: str) -> str:
    """The image's name: it changes with anything that goes into the image."""
    return f"runecraft-{SUITE}-{_image_key(nameserver)[:16]}"


def image_alias(nameserver: str) -> str:
    """The LXD alias `rune lxd build-image` imports the image under (and the provider uses)."""
    return f"runecraft/{image_name(nameserver)}"


def _run(args: list[str], what: str) -> None:
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise errors.PermanentError(f"{what} failed (exit {result.returncode}):\n{tail}")


def _configure(rootfs: Path, nameserver: str) -> None:
    network = rootfs / "etc/systemd/network"
    network.mkdir(parents=True, exist_ok=True)
    (network / "eth0.network").write_text("[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n")
    wants = rootfs / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    unit = wants / "systemd-networkd.service"
    if not unit.exists():
        unit.symlink_to("/lib/systemd/system/systemd-networkd.service")
    masked = rootfs / "etc/systemd/system/systemd-binfmt.service"
    if not masked.exists():
        masked.symlink_to("/dev/null")
    resolv = rootfs / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    resolv.write_text(f"nameserver {nameserver}\n")
    (rootfs / "etc/machine-id").write_text("")
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)


def _metadata(description: str) -> bytes:
    return (
        "architecture: x86_64\n"
        f"creation_date: {int(time.time())}\n"
        "properties:\n"
        f"  description: {description}\n"
        "  os: debian\n"
        f"  release: {SUITE}\n"
        "templates:\n"
        "  /etc/hostname:\n"
        "    when: [create, copy]\n"
        "    template: hostname.tpl\n"
    ).encode()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def build_image_tarball(
    cache_dir: Path,
    *,
    nameserver: str,
    mirror: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Path:
    """Build (or reuse) the unified image tarball; returns its path.

    The cache key covers the package list, suite and nameserver, so a change to any of them
    builds a new image instead of reusing a wrong one.
    """
    if shutil.which("debootstrap") is None:
        raise errors.PermanentError("debootstrap is not installed: apt-get install debootstrap")
    key = _image_key(nameserver)
    tarball = cache_dir / f"{image_name(nameserver)}.tar"
    if tarball.exists():
        return tarball
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Concurrent builders (parallel test workers) wait for the first one's tarball.
    with (cache_dir / f".build-{key[:16]}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.exists():
            return tarball
        _build(tarball, cache_dir / f"build-{key[:16]}", nameserver, mirror, progress)
    return tarball


def _build(
    tarball: Path,
    work: Path,
    nameserver: str,
    mirror: str | None,
    progress: Callable[[str], None],
) -> None:
    shutil.rmtree(work, ignore_errors=True)
    rootfs = work / "rootfs"
    try:
        progress("debootstrap (about a minute)")
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(IMAGE_PACKAGES)}",
                SUITE,
                str(rootfs),
                mirror or apt_mirror(),
            ],
            "debootstrap",
        )
        _configure(rootfs, nameserver)
        progress("packing the image")
        partial = tarball.with_suffix(".partial")
        with tarfile.open(partial, "w") as tar:
            _add_bytes(tar, "metadata.yaml", _metadata(f"Runecraft machine ({SUITE})"))
            _add_bytes(tar, "templates/hostname.tpl", b"{{ container.name }}\n")
            tar.add(rootfs, arcname="rootfs")
        partial.replace(tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)
