"""Where an enlisted machine is: `ssh:[user@]host[:port]`, parsed once at the edge."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from runecraft import errors

__all__ = ["SshTarget", "parse_target"]

_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}\Z")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z"
)


@dataclass(frozen=True)
class SshTarget:
    """An SSH login: user, host (name or IP) and port."""

    user: str
    host: str
    port: int = 22

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}:{self.port}"

    @property
    def known_hosts_name(self) -> str:
        """The host as a known_hosts line names it (`[host]:port` off port 22)."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def parse_target(text: str) -> SshTarget:
    """Parse `ssh:[user@]host[:port]` (IPv6 as `[addr]` or `[addr]:port`); user defaults to root."""
    if not text.startswith("ssh:"):
        raise errors.InvalidSpecError(
            f'invalid machine "{text}": expected ssh:[user@]host[:port], e.g. ssh:root@10.0.0.5'
        )
    rest = text[len("ssh:") :]
    user = "root"
    if "@" in rest:
        user, _, rest = rest.rpartition("@")
        if not _USER.match(user):
            raise errors.InvalidSpecError(f'invalid machine "{text}": bad user name "{user}"')
    port_text = ""
    if rest.startswith("["):
        host, sep, after = rest[1:].partition("]")
        if not sep or (after and not after.startswith(":")):
            raise errors.InvalidSpecError(f'invalid machine "{text}": unclosed "[" in the host')
        port_text = after[1:] if after else ""
        _check_ip(text, host)
    elif rest.count(":") > 1:
        host = rest
        _check_ip(text, host)
    else:
        host, _, port_text = rest.partition(":")
        if not _HOSTNAME.match(host):
            raise errors.InvalidSpecError(f'invalid machine "{text}": bad host "{host}"')
    port = 22
    if port_text or rest.endswith(":"):
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise errors.InvalidSpecError(
                f'invalid machine "{text}": port must be a number from 1 to 65535'
            )
        port = int(port_text)
    return SshTarget(user=user, host=host, port=port)


def _check_ip(text: str, host: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError as exc:
        raise errors.InvalidSpecError(
            f'invalid machine "{text}": bad IPv6 address "{host}"'
        ) from exc
