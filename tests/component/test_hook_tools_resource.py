"""`resource-get` through the real client: download once, re-download on a new revision."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runecraft import errors
from runecraft.schemas.resources import ResourceRemote

from .test_hook_tools import Harness, make_harness

V1, V2 = b"first\n", b"second\n"
BLOBS = {hashlib.sha256(data).hexdigest(): data for data in (V1, V2)}


def remote(data: bytes, revision: int, filename: str = "motd.txt") -> ResourceRemote:
    return ResourceRemote(
        name="motd", filename=filename, sha256=hashlib.sha256(data).hexdigest(), revision=revision
    )


def tmp_root(harness: Harness) -> Path:
    assert harness.ctx.resource_root is not None
    return harness.ctx.resource_root


@dataclass
class Controller:
    """Serves the blobs, remembering what was asked for."""

    fetched: list[str] = field(default_factory=list)

    async def fetch(self, sha256: str) -> bytes:
        self.fetched.append(sha256)
        if sha256 not in BLOBS:
            raise errors.NotFoundError(f"resource {sha256} not found on the controller")
        return BLOBS[sha256]


CONTROLLER = Controller()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    CONTROLLER.fetched.clear()
    async for h in make_harness(tmp_path, leader=False):
        h.ctx.resources = {"motd": remote(V1, 1)}
        h.ctx.resource_root = tmp_path / "u" / "resources"
        h.ctx.resource_fetch = CONTROLLER.fetch
        yield h


async def test_resource_get_downloads_once_and_prints_the_path(harness: Harness) -> None:
    code, out, err = await harness.run("resource-get", "motd")
    assert (code, err) == (0, "")
    path = Path(out.strip())
    assert path == tmp_root(harness) / "motd" / "motd.txt"
    assert path.read_bytes() == V1
    assert (await harness.run("resource-get", "motd"))[1] == out
    assert len(CONTROLLER.fetched) == 1

    harness.ctx.resources = {"motd": remote(V2, 2)}
    assert (await harness.run("resource-get", "motd"))[1] == out
    assert path.read_bytes() == V2
    assert len(CONTROLLER.fetched) == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nope"], 1, 'could not download resource: resource "nope" not found'),
        ([], 2, "missing required resource name"),
        (["motd", "extra"], 2, "unrecognized args"),
    ],
)
async def test_resource_get_bad_calls(
    harness: Harness, args: list[str], code: int, message: str
) -> None:
    got, out, err = await harness.run("resource-get", *args)
    assert (got, out) == (code, "")
    assert message in err


async def test_resource_that_cannot_be_fetched_or_named_badly(harness: Harness) -> None:
    harness.ctx.resources = {
        "motd": ResourceRemote(name="motd", filename="m", sha256="0" * 64, revision=1)
    }
    code, _, err = await harness.run("resource-get", "motd")
    assert code == 1 and "could not download resource" in err and "not found" in err
    harness.ctx.resources = {"motd": remote(V1, 1, filename="../escape")}
    code, _, err = await harness.run("resource-get", "motd")
    assert code == 1 and "bad file name" in err
    assert not (tmp_root(harness).parent / "escape").exists()
