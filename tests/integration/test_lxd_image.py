"""The LXD base image, for real: built with debootstrap (cached across runs), imported into
a real LXD, and a container from it boots systemd and runs python3."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from runecraft import errors
from runecraft.controller.providers import lxd

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
