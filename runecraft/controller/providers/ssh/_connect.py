"""SSH connections to enlisted machines: host-key verification, login, remote commands.

A host key is trusted when a known_hosts file lists it (the controller's own store first,
then the user's); an unlisted key is accepted only when the user said so, either by its
fingerprint or by trusting on first use, and is then stored. A listed host with another key
is refused. Every asyncssh and socket failure leaves as a `RunecraftError` that says which
machine, what went wrong and what to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from runecraft import errors
from runecraft.schemas.ssh_target import SshTarget

__all__ = [
    "TRUST_ON_FIRST_USE",
    "Connection",
    "HostKeys",
    "connect",
    "fingerprint",
    "run",
]

TRUST_ON_FIRST_USE = "trust-on-first-use"
CONNECT_TIMEOUT = 10.0

Connection = asyncssh.SSHClientConnection


def fingerprint(key: asyncssh.SSHKey) -> str:
    """`SHA256:…`, as `ssh-keygen -lf` prints it."""
    return str(key.get_fingerprint("sha256"))


@dataclass(frozen=True)
class HostKeys:
    """Where host keys are trusted from and stored."""

    store: Path
    """The controller's known_hosts file: keys accepted on first use are added here."""
    user_files: tuple[Path, ...] = ()
    """Further known_hosts files to trust (read-only)."""

    def known(self, target: SshTarget) -> list[asyncssh.SSHKey]:
        """Every key a known_hosts file lists for the target."""
        found: list[asyncssh.SSHKey] = []
        for path in (self.store, *self.user_files):
            if not path.is_file():
                continue
            try:
                hosts = asyncssh.read_known_hosts(str(path))
            except (OSError, ValueError, asyncssh.KeyImportError):
                continue
            host_keys, *_ = hosts.match(target.host, target.host, target.port)
            found.extend(host_keys)
        return found

    def remember(self, target: SshTarget, key: asyncssh.SSHKey) -> None:
        self.store.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        line = f"{target.known_hosts_name} {key.export_public_key().decode().strip()}\n"
        with self.store.open("a") as handle:
            handle.write(line)
        self.store.chmod(0o600)


def _unreachable(target: SshTarget, exc: BaseException) -> errors.TemporaryError:
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError):
        reason = f"no answer within {CONNECT_TIMEOUT:.0f} s"
    return errors.TemporaryError(f"cannot reach {target}: {reason}")


async def _server_key(target: SshTarget) -> asyncssh.SSHKey:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            key = await asyncssh.get_server_host_key(target.host, target.port)
    except (OSError, TimeoutError, asyncssh.Error) as exc:
        raise _unreachable(target, exc) from exc
    if key is None:
        raise errors.PermanentError(f"{target} offered no host key")
    return key


def _trusted_key(
    target: SshTarget, offered: asyncssh.SSHKey, keys: HostKeys, accept: str | None
) -> tuple[asyncssh.SSHKey, bool]:
    """The key to pin and whether it is new; raises if it may not be trusted."""
    known = keys.known(target)
    shown = f"{offered.get_algorithm()} {fingerprint(offered)}"
    if any(k.public_data == offered.public_data for k in known):
        return offered, False
    if known:
        raise errors.PermissionDeniedError(
            f"the host key of {target} has changed: it offers {shown}, which does not match "
            "the key on record; if the machine was reinstalled, remove its old line from "
            f"{keys.store} (or your known_hosts) and run the command again"
        )
    if accept in (TRUST_ON_FIRST_USE, fingerprint(offered)):
        return offered, True
    if accept is not None:
        raise errors.PermissionDeniedError(
            f"the host key of {target} is {shown}, not the {accept} you gave; nothing was changed"
        )
    raise errors.PermissionDeniedError(
        f"the host key of {target} is not known: it offers {shown}; check that fingerprint on "
        f"the machine (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and run again with "
        f"--host-key {fingerprint(offered)} (or --trust-on-first-use)"
    )


def _client_keys(target: SshTarget, private_key: str | None) -> list[asyncssh.SSHKey] | None:
    if private_key is None:
        return None  # the controller user's default keys and ssh-agent
    try:
        return [asyncssh.read_private_key(private_key)]
    except (OSError, ValueError, asyncssh.KeyImportError) as exc:
        raise errors.InvalidSpecError(
            f"cannot use private key {private_key} for {target}: {exc}"
        ) from exc


@asynccontextmanager
async def connect(
    target: SshTarget,
    *,
    private_key: str | None,
    keys: HostKeys,
    accept: str | None = None,
) -> AsyncIterator[tuple[Connection, str]]:
    """An authenticated connection and the host key's fingerprint (stored when new)."""
    client_keys = _client_keys(target, private_key)
    offered = await _server_key(target)
    pinned, new = _trusted_key(target, offered, keys, accept)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            conn = await asyncssh.connect(
                target.host,
                target.port,
                username=target.user,
                client_keys=client_keys,
                known_hosts=([pinned], [], []),
                config=[],
                connect_timeout=CONNECT_TIMEOUT,
            )
    except asyncssh.PermissionDenied as exc:
        key = private_key or "the controller user's default keys"
        raise errors.PermissionDeniedError(
            f"{target} refused the login with {key}: add the matching public key to "
            f"~{target.user}/.ssh/authorized_keys on the machine, or pass the right --private-key"
        ) from exc
    except asyncssh.HostKeyNotVerifiable as exc:
        raise errors.PermissionDeniedError(
            f"the host key of {target} changed while connecting: {exc.reason}"
        ) from exc
    except (OSError, TimeoutError, asyncssh.Error) as exc:
        raise _unreachable(target, exc) from exc
    if new:
        keys.remember(target, pinned)
    try:
        yield conn, fingerprint(pinned)
    finally:
        conn.close()
        await conn.wait_closed()


async def run(
    conn: Connection, target: SshTarget, script: str, *, doing: str, timeout: float = 300.0
) -> asyncssh.SSHCompletedProcess:
    """Run a POSIX sh script on the machine; a lost connection says what was under way."""
    try:
        async with asyncio.timeout(timeout):
            result = await conn.run("sh -s", input=script, check=False)
    except TimeoutError as exc:
        raise errors.TemporaryError(
            f"{doing} on {target} took longer than {timeout:.0f} s"
        ) from exc
    except (OSError, asyncssh.Error) as exc:
        raise errors.TemporaryError(
            f"lost the connection to {target} while {doing}: {exc or type(exc).__name__}"
        ) from exc
    if result.exit_status is None:  # the channel closed without an exit status
        reason = result.exit_signal[0] if result.exit_signal else "the session was closed"
        raise errors.TemporaryError(f"lost the connection to {target} while {doing}: {reason}")
    return result
