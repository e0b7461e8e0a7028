"""A real, small tmpfs for resource-fault tests (root only), and a file that fills it."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["fill", "small_tmpfs"]


@contextlib.contextmanager
def small_tmpfs(size: str = "16m", mode: str = "0755", at: Path | None = None) -> Iterator[Path]:
    """A tmpfs of `size` mounted on a fresh directory (or on `at`, made if absent),
    unmounted (even if the test fails) and removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if at is not None:
        at.mkdir(parents=True, exist_ok=True)
    where = at or Path(tempfile.mkdtemp(prefix="rc-tmpfs-", dir="/tmp"))
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode={mode}", "tmpfs", str(where)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        with contextlib.suppress(OSError):
            where.rmdir()
        pytest.skip(f"cannot mount a tmpfs: {exc}")
    try:
        yield where
    finally:
        # Lazily: a process the test started may still hold a file open there.
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)
        shutil.rmtree(where, ignore_errors=True)


def fill(directory: Path) -> Path:
    """A file that takes every free byte of `directory`'s file system; delete it to give
    the space back."""
    filler = directory / "filler"
    block = b"\0" * (1 << 16)
    with filler.open("wb", buffering=0) as file:
        while True:
            try:
                file.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        for size in (4096, 512, 1):  # the last partial block too
            with contextlib.suppress(OSError):
                while file.write(b"\0" * size):
                    pass
    return filler
