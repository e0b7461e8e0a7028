"""A real `rune-pebble run` for tests: the installed console script as a subprocess, in a
short temporary directory (AF_UNIX paths are limited to 107 bytes), driven by ops' client."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ops.pebble

RUNE_PEBBLE = Path(sys.executable).parent / "rune-pebble"
START_TIMEOUT = 30.0


@dataclass
class Agent:
    """A running agent: its directories, socket, process and what it logged."""

    pebble_dir: Path
    socket: Path
    root: Path
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def client(self, timeout: float = 5.0) -> ops.pebble.Client:
        return ops.pebble.Client(socket_path=str(self.socket), timeout=timeout)

    def env(self, **extra: str) -> dict[str, str]:
        """An environment that reaches this agent (as a workload's would)."""
        return {
            **os.environ,
            "PEBBLE": str(self.pebble_dir),
            "PEBBLE_SOCKET": str(self.socket),
            **extra,
        }

    def wait_for_log(self, text: str, timeout: float = START_TIMEOUT) -> str:
        """The first (new) log line containing `text`; AssertionError if the agent exits
        or the deadline passes first."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no log line with {text!r}; log:\n" + "".join(self.log))
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    f"agent exited ({self.process.wait()}) before {text!r}; log:\n"
                    + "".join(self.log)
                )
            if text in line:
                return line

    def stop(self) -> int:
        """SIGTERM, then the exit status (killed if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("agent did not stop on SIGTERM") from None
        return self.process.returncode


def short_dir() -> Path:
    """A fresh directory short enough for a unix socket path."""
    return Path(tempfile.mkdtemp(prefix="pb", dir="/tmp"))


def gone(pid: int) -> bool:
    """No such process, or a zombie (an orphan waits for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def wait_until(condition: Callable[[], object], message: str, timeout: float = 30.0) -> None:
    """Check `condition` until it holds; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.02)


def launch(
    pebble_dir: Path,
    socket: Path,
    root: Path,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Agent:
    """Start `rune-pebble run --create-dirs --root ROOT ARGS` (not waiting for it)."""
    environment = {**os.environ, "PEBBLE": str(pebble_dir), "PEBBLE_SOCKET": str(socket)}
    environment.update(env or {})
    process = subprocess.Popen(
        [str(RUNE_PEBBLE), "run", "--create-dirs", "--root", str(root), *args],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    agent = Agent(pebble_dir=pebble_dir, socket=socket, root=root, process=process)

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            agent.log.append(line)
            agent._lines.put(line)
        agent._lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return agent


@contextmanager
def running_agent(
    root: Path, args: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> Iterator[Agent]:
    """A started agent (its socket answers), stopped and cleaned up afterwards."""
    base = short_dir()
    agent = launch(base / "pebble", base / "pebble.socket", root, args, env)
    try:
        agent.wait_for_log("Started daemon")
        yield agent
    finally:
        try:
            status = agent.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)
    assert status == 0, "".join(agent.log)
