"""A real mosquitto run and configured by the controller.

Runecraft writes the password file (mosquitto's own `$7$` PBKDF2 hashes, straight from the
database) and the topic ACL, and sends SIGHUP to reload them when a credential changes. A
mosquitto left running by a controller that crashed is found by pid file and adopted.
`exited` waits for either kind to exit (through a pidfd, so an adopted one, not our child,
is watched as closely), for the controller's `BrokerWatch` to start it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path

import structlog

from runecraft import _pidfd, errors
from runecraft.controller import _tls
from runecraft.controller._daemon import spawn
from runecraft.controller.bus import _acl

__all__ = ["ManagedMosquitto"]

logger = structlog.get_logger(__name__)


class ManagedMosquitto:
    """mosquitto with `allow_anonymous false`, a password file and an ACL file."""

    def __init__(
        self, directory: Path, host: str, port: int, tls: _tls.TlsFiles | None = None
    ) -> None:
        self.directory = directory
        self.tls = tls
        """The listener's certificate, key and CA (None: plain TCP, on loopback only)."""
        self.host = host
        self.port = port
        self.conf = directory / "mosquitto.conf"
        self.passwd = directory / "passwd"
        self.acl = directory / "acl"
        self.pid_file = directory / "mosquitto.pid"
        self._process: subprocess.Popen[bytes] | None = None

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"mosquitto" in cmdline and str(self.conf).encode() in cmdline else None

    def _running_pid(self) -> int | None:
        """The pid of the mosquitto running now: started here, else adopted by pid file."""
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        return self._pid()

    async def exited(self) -> str:
        """Return once the mosquitto running now (started here or adopted) has exited,
        saying how (at once if none runs). One started here that died before this was
        called still has its exit status told."""
        child = self._process
        if child is not None and child.returncode is None:  # ours, and not reaped yet
            pid = child.pid
            await _pidfd.exited(pid, lambda: child.poll() is None)
            code = await asyncio.to_thread(child.wait)  # reaped: its pid is free for reuse
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        else:
            adopted = self._pid()
            if adopted is None:
                return "mosquitto is not running"
            pid = adopted
            await _pidfd.exited(pid, lambda: self._pid() == pid)
            how = "exited"
        logger.warning("mosquitto stopped", pid=pid, how=how)
        return f"mosquitto (pid {pid}) {how}"

    async def start(self, credentials: Iterable[tuple[str, str]]) -> None:
        binary = shutil.which("mosquitto") or next(
            (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None
        )
        if binary is None:
            raise errors.PermanentError(
                "mosquitto is not installed: install it (apt-get install mosquitto) or "
                "bootstrap with the embedded broker"
            )
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.write_credentials(credentials)
        self.acl.write_text(_acl.MOSQUITTO_ACL)
        self.conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} {self.host}",
                    *self._tls_lines(),
                    "allow_anonymous false",
                    # A client's id is its username, whatever its CONNECT says: no credential
                    # can take over another client's session.
                    "use_username_as_clientid true",
                    f"password_file {self.passwd}",
                    f"acl_file {self.acl}",
                    "persistence false",
                    f"pid_file {self.pid_file}",
                    "user root",
                    "max_queued_messages 100000",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "",
                ]
            )
        )
        if self._pid() is not None:
            self.reload()
            return
        with socket.socket(
            socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM
        ) as probe:  # else the readiness check below would talk to whoever holds the port
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise errors.PermanentError(
                    f"cannot listen on {self.host}:{self.port} for the broker: "
                    f"{(exc.strerror or str(exc)).lower()}"
                ) from exc
        self._process = spawn([binary, "-c", str(self.conf)], self.directory / "mosquitto.log")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while loop.time() < deadline:
            if self._process.poll() is not None:
                raise errors.PermanentError(
                    f"mosquitto exited with {self._process.returncode}; see "
                    f"{self.directory / 'mosquitto.log'}"
                )
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(self.host, self.port)
                writer.close()
                logger.info("mosquitto started", port=self.port, pid=self._process.pid)
                return
            await asyncio.sleep(0.02)
        raise errors.TemporaryError(f"mosquitto did not listen on port {self.port} within 10 s")

    def _tls_lines(self) -> list[str]:
        if self.tls is None:
            return []
        return [
            f"cafile {self.tls.ca_cert}",
            f"certfile {self.tls.cert}",
            f"keyfile {self.tls.key}",
        ]

    def write_credentials(self, credentials: Iterable[tuple[str, str]]) -> None:
        """Rewrite the password file from `(username, $7$ hash)` pairs, atomically."""
        tmp = self.passwd.with_suffix(".tmp")
        tmp.write_text("".join(f"{user}:{hashed}\n" for user, hashed in credentials))
        tmp.chmod(0o600)
        tmp.replace(self.passwd)

    def reload(self) -> None:
        pid = self._running_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    async def stop(self) -> None:
        pid = self._running_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if self._process is not None:
            await asyncio.to_thread(self._process.wait)
