"""Waiting for a process to exit: told by its pidfd, or at once when it is gone already."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from runecraft import _pidfd


async def test_returns_once_the_process_exits() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        waiting = asyncio.create_task(_pidfd.exited(process.pid, lambda: process.poll() is None))
        await asyncio.sleep(0)
        assert not waiting.done()
        assert process.stdin is not None
        process.stdin.close()  # it reads to the end, and exits
        async with asyncio.timeout(30):
            await waiting
    finally:
        process.kill()
        process.wait()


async def test_a_process_that_is_no_longer_the_one_meant_is_not_waited_for() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        async with asyncio.timeout(30):
            await _pidfd.exited(process.pid, lambda: False)
    finally:
        process.kill()
        process.wait()
