"""The LXD base image, for real: built with debootstrap (cached across runs), imported into
a real LXD, and a container from it boots systemd and runs python3."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from runecraft import errors
from runecraft.controller.providers import lxd
from tests.integration.conftest import Rune

IMAGE_CACHE = Path(os.environ.get("RUNECRAFT_TEST_IMAGE_CACHE", "/var/cache/runecraft-test/lxd"))
BRIDGE = os.environ.get("RUNECRAFT_LXD_BRIDGE", "runecraft0")
NAMESERVER = "10.201.0.1"


def test_apt_mirror_is_read_from_the_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm\n"
    )
    assert lxd.apt_mirror(tmp_path) == "http://mirror.invalid/debian"
    with pytest.raises(errors.PermanentError, match="cannot find a Debian mirror"):
        lxd.apt_mirror(tmp_path / "nothing")


async def test_image_boots_systemd_and_python() -> None:
    api = lxd.LxdApi()
    await api.ping()
    tarball = lxd.build_image_tarball(IMAGE_CACHE, nameserver=NAMESERVER)
    assert lxd.build_image_tarball(IMAGE_CACHE, nameserver=NAMESERVER) == tarball
    alias = f"runecraft-test/{tarball.stem}"
    if not await api.has_image(alias):
        await api.import_image(tarball, alias)
    name = f"rc-img-{uuid.uuid4().hex[:8]}"
    try:
        await api.launch(name, alias, {"limits.memory": "512MiB"}, BRIDGE)
        assert await api.status(name) == "Running"
        result = await api.execute(
            name, ["python3", "-c", "import sys, venv; print(sys.version_info[:2])"]
        )
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip() == "(3, 11)"
        state = await api.execute(name, ["systemctl", "is-system-running", "--wait"])
        assert state.stdout.strip() in {"running", "degraded"}, state
        await api.push(name, "/root/hello.txt", b"hi")
        assert (await api.execute(name, ["cat", "/root/hello.txt"])).stdout == "hi"
        await api.delete(name)
        assert await api.status(name) is None
    finally:
        await api.delete(name)
        api.close()


async def test_unreachable_lxd_is_a_clear_temporary_error(tmp_path: Path) -> None:
    api = lxd.LxdApi(endpoint=f"http+unix://{str(tmp_path / 'no.sock').replace('/', '%2F')}")
    with pytest.raises(errors.TemporaryError, match="LXD is unreachable"):
        await api.ping()
    api.close()


def _tiny_image(path: Path) -> Path:
    """A unified image tarball of a few bytes (unique content, so a unique fingerprint)."""
    with tarfile.open(path, "w") as tar:
        for name, data in (
            ("metadata.yaml", b"architecture: x86_64\ncreation_date: 1\n"),
            ("rootfs/id", uuid.uuid4().hex.encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_remove_image_deletes_only_what_runecraft_imported(rune: Rune, tmp_path: Path) -> None:
    ours = f"runecraft-test/tiny-{uuid.uuid4().hex[:8]}"
    theirs = f"someone/tiny-{uuid.uuid4().hex[:8]}"

    async def lookup(name: str) -> lxd.ImageInfo | None:
        api = lxd.LxdApi()
        try:
            return await api.image(name)
        finally:
            api.close()

    async def import_ours() -> str:
        api = lxd.LxdApi()
        try:
            return await api.import_image(_tiny_image(tmp_path / "ours.tar"), ours)
        finally:
            api.close()

    fingerprints = [asyncio.run(import_ours())]
    subprocess.run(
        ["lxc", "image", "import", str(_tiny_image(tmp_path / "theirs.tar")), "--alias", theirs],
        check=True,
        capture_output=True,
    )
    foreign = asyncio.run(lookup(theirs))
    assert foreign is not None
    fingerprints.append(foreign.fingerprint)
    try:
        refused = rune("lxd", "remove-image", theirs, check=False)
        assert refused.returncode == 1
        assert (
            f'ERROR LXD image "{theirs}" (fingerprint {foreign.fingerprint[:12]}) was not '
            "imported by Runecraft: it is left alone" in refused.stderr
        )
        assert asyncio.run(lookup(theirs)) == foreign

        missing = rune("lxd", "remove-image", f"{ours}-none", check=False)
        assert missing.returncode == 1
        assert f'ERROR LXD has no image "{ours}-none"' in missing.stderr

        found = asyncio.run(lookup(ours))
        assert found is not None
        assert found.properties[lxd.IMAGE_TAG] == ours
        removed = rune("lxd", "remove-image", ours)
        assert f'Removed LXD image "{ours}" (fingerprint {fingerprints[0][:12]}).' in removed.stderr
        assert asyncio.run(lookup(ours)) is None
        assert asyncio.run(lookup(fingerprints[0])) is None
    finally:
        for fingerprint in fingerprints:
            subprocess.run(
                ["lxc", "image", "delete", fingerprint], capture_output=True, check=False
            )
