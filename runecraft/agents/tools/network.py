"""Ports, networking and the remaining tools: `open-port`, `close-port`, `opened-ports`,
`network-get`, `unit-get`, `goal-state`, `credential-get`, `juju-reboot`.

Port changes are buffered and committed with the hook; `opened-ports` includes this hook's
pending changes (Juju's `mergeWithPendingChanges`). Networking answers from the unit's one
address (`UnitRemoteState.private_address`). `credential-get` asks the controller, which
answers only a trusted application; `juju-reboot` is not supported.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from pathlib import Path
from typing import Any

from runecraft import errors
from runecraft.agents import _context, _toolargs
from runecraft.agents.tools._registry import (
    ToolCall,
    bool_flag,
    no_more,
    relation_flag,
    relation_id,
    tool,
)

__all__ = ["PORT_FORMAT", "format_port", "local_interface", "parse_port"]

PORT_FORMAT = "<port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp"
_PORT_RE = re.compile(r"^(?:icmp|[0-9]+(?:-[0-9]+)?(?:/[a-z0-9]+)?)\Z")


def format_port(from_port: int, to_port: int, protocol: str) -> str:
    """Juju's `PortRange.String()`: `icmp`, `80/tcp`, `1000-2000/udp`."""
    if protocol == "icmp":
        return "icmp"
    if from_port == to_port:
        return f"{from_port}/{protocol}"
    return f"{from_port}-{to_port}/{protocol}"


def _check_range(from_port: int, to_port: int, protocol: str) -> None:
    if protocol == "icmp":
        return
    if from_port > to_port:
        raise errors.UsageError(
            f"invalid port range {from_port}-{to_port}/{protocol}; expected fromPort <= toPort"
        )
    for name, port in (("port", from_port), ("port", to_port)):
        if not 1 <= port <= 65535:
            raise errors.UsageError(f'{name} must be in the range [1, 65535]; got "{port}"')
    if protocol not in ("tcp", "udp"):
        raise errors.UsageError(f'protocol must be "tcp", "udp", or "icmp"; got "{protocol}"')


def parse_port(text: str) -> str:
    """Validate an `open-port`/`close-port` argument and return its canonical form.

    Raises:
        errors.UsageError: not a port, range or `icmp`, or out of range (exit 2).
    """
    lowered = text.lower()
    if not _PORT_RE.match(lowered):
        raise errors.UsageError(f'expected {PORT_FORMAT}; got "{text}"')
    ports, _, protocol = lowered.partition("/")
    if ports == "icmp":
        return "icmp"
    protocol = protocol or "tcp"
    low, _, high = ports.partition("-")
    from_port = int(low)
    to_port = int(high) if high else from_port
    _check_range(from_port, to_port, protocol)
    return format_port(from_port, to_port, protocol)


def _sort_key(port_range: str) -> tuple[str, int, int]:
    """Juju `SortPortRanges`: by protocol, then from-port, then to-port."""
    if port_range == "icmp":
        return ("icmp", -1, -1)
    ports, _, protocol = port_range.partition("/")
    low, _, high = ports.partition("-")
    return (protocol, int(low), int(high or low))


def _port_flags() -> tuple[_toolargs.Flag, ...]:
    return (
        _toolargs.Flag(
            names=("endpoints",),
            default="",
            help="a comma-delimited list of application endpoints to target with this operation",
        ),
        _toolargs.Flag(names=("format",), default="", help="deprecated format flag"),
    )


def _port_change(ctx: _context.HookContext, call: ToolCall, *, opening: bool) -> None:
    if not call.args:
        raise errors.UsageError("no port or range specified")
    port_range = parse_port(call.args[0])
    no_more(call.args[1:])
    name = "open-port" if opening else "close-port"
    if call.flag("format"):
        call.notes.append(f'--format flag deprecated for command "{name}"')
    endpoints = tuple(e.strip() for e in str(call.flag("endpoints")).split(",") if e.strip())
    known = set(ctx.bindings())
    for endpoint in endpoints:
        if endpoint not in known:
            raise errors.NotFoundError(f'endpoint "{endpoint}" for unit "{ctx.unit}" not found')
    ctx.port_ops.append((opening, port_range, endpoints))


@tool("open-port", args=PORT_FORMAT, flags=_port_flags())
async def _open_port(ctx: _context.HookContext, call: ToolCall) -> None:
    """Register a port or range to open."""
    _port_change(ctx, call, opening=True)


@tool("close-port", args=PORT_FORMAT, flags=_port_flags())
async def _close_port(ctx: _context.HookContext, call: ToolCall) -> None:
    """Ensure a port or range is always closed."""
    _port_change(ctx, call, opening=False)


@tool(
    "opened-ports",
    flags=(
        bool_flag(
            "endpoints",
            help="display the list of target application endpoints for each port range",
        ),
    ),
    output="smart",
)
async def _opened_ports(ctx: _context.HookContext, call: ToolCall) -> list[str]:
    """List all ports or port ranges opened by the unit."""
    no_more(call.args)
    by_range: dict[str, set[str]] = {}
    for port_range, endpoint in ctx.current_ports():
        by_range.setdefault(port_range, set()).add(endpoint)
    ranges = sorted(by_range, key=_sort_key)
    if not call.flag("endpoints"):
        return ranges
    shown: list[str] = []
    for port_range in ranges:
        endpoints = by_range[port_range]
        described = "*" if "" in endpoints else ", ".join(sorted(endpoints))
        shown.append(f"{port_range} ({described})")
    return shown


# --- networking ----------------------------------------------------------------------------


def _cidr(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    return f"{ip}/{ip.max_prefixlen}"


_SIOCGIFADDR = 0x8915
"""Linux's ioctl reading an interface's IPv4 address."""


def _ipv4_interface(address: str) -> str:
    import fcntl  # noqa: PLC0415 (Linux only; only network-get asks)
    import socket  # noqa: PLC0415
    import struct  # noqa: PLC0415

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
            except OSError:  # an interface without an IPv4 address
                continue
            if socket.inet_ntoa(answer[20:24]) == address:
                return name
    return ""


def _ipv6_interface(address: ipaddress.IPv6Address) -> str:
    """From `/proc/net/if_inet6`: address (32 hex digits), index, prefix, scope, flags, name."""
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return ""
    wanted = address.exploded.replace(":", "")
    return next((f[5] for f in map(str.split, lines) if len(f) == 6 and f[0] == wanted), "")


def local_interface(address: str) -> tuple[str, str]:
    """The name and MAC address of this machine's interface that holds `address` (the
    unit's own address: the agent runs on the unit's machine); empty when none does."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "", ""
    try:
        name = (
            _ipv6_interface(ip)
            if isinstance(ip, ipaddress.IPv6Address)
            else _ipv4_interface(str(ip))
        )
    except (ImportError, OSError):  # not Linux
        return "", ""
    if not name:
        return "", ""
    try:
        mac = Path(f"/sys/class/net/{name}/address").read_text().strip()
    except OSError:
        mac = ""
    return name, mac


def _network_info(address: str, *, yaml_keys: bool) -> dict[str, Any]:
    """Juju's `NetworkInfoResult` (JSON tags, or the yaml tags `macaddress`/`interfacename`)."""
    mac, interface = (
        ("macaddress", "interfacename") if yaml_keys else ("mac-address", "interface-name")
    )
    cidr = _cidr(address)
    name, mac_address = local_interface(address)
    return {
        "bind-addresses": [
            {
                mac: mac_address,
                interface: name,
                "addresses": [{"hostname": "", "value": address, "cidr": cidr}],
            }
        ],
        "egress-subnets": [cidr] if cidr else [],
        "ingress-addresses": [address],
    }


@tool(
    "network-get",
    args="<binding-name> [--ingress-address] [--bind-address] [--egress-subnets]",
    flags=(
        bool_flag("primary-address", help="(deprecated) get the primary address for the binding"),
        bool_flag(
            "bind-address", help="get the address for the binding on which the unit should listen"
        ),
        bool_flag("ingress-address", help="get the ingress address for the binding"),
        bool_flag("egress-subnets", help="get the egress subnets for the binding"),
        relation_flag(),
    ),
    output="smart",
)
async def _network_get(ctx: _context.HookContext, call: ToolCall) -> Any:
    """Get network config."""
    if call.flag("relation") is not None:
        relation_id(ctx, call)
    if not call.args:
        raise errors.UsageError("no arguments specified")
    binding = call.args[0]
    if not binding:
        raise errors.UsageError("no binding name specified")
    no_more(call.args[1:])
    if binding not in ctx.bindings():
        raise errors.NotFoundError(f'no network config found for binding "{binding}"')
    address = ctx.remote.private_address
    keys = [
        key
        for key, flag in (
            ("bind-address", "bind_address"),
            ("ingress-address", "ingress_address"),
            ("egress-subnets", "egress_subnets"),
        )
        if call.flag(flag)
    ]
    if call.flag("primary_address"):
        if keys:
            raise errors.InvalidSpecError("--primary-address must be the only flag specified")
        return address
    if not keys:
        return _network_info(address, yaml_keys=call.flag("format") != "json")
    cidr = _cidr(address)
    values: dict[str, Any] = {
        "bind-address": address,
        "ingress-address": address,
        "egress-subnets": [cidr] if cidr else [],
    }
    if len(keys) == 1:
        return values[keys[0]]
    return {key: values[key] for key in keys}


@tool("unit-get", args="<setting>", output="smart")
async def _unit_get(ctx: _context.HookContext, call: ToolCall) -> str:
    """Print public-address or private-address."""
    if not call.args:
        raise errors.UsageError("no setting specified")
    setting = call.args[0]
    if setting not in ("private-address", "public-address"):
        raise errors.UsageError(f'unknown setting "{setting}"')
    no_more(call.args[1:])
    return ctx.remote.private_address


def _since() -> str:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


@tool("goal-state", output="yaml")
async def _goal_state(ctx: _context.HookContext, call: ToolCall) -> dict[str, Any]:
    """Print the status of the charm's peers and related units."""
    no_more(call.args)
    since = _since()
    life = "dying" if ctx.remote.life == "dying" else ctx.unit_status.status
    units: dict[str, Any] = {ctx.unit: {"status": life, "since": since}}
    relations: dict[str, dict[str, Any]] = {}
    for view in sorted(ctx.relations.values(), key=lambda v: v.id):
        goals = relations.setdefault(view.endpoint, {})
        if view.peer:
            for member in view.members:
                units.setdefault(member, {"status": "alive", "since": since})
        goals[view.remote_app] = {"status": "joined", "since": since}
        for member in view.members:
            goals[member] = {"status": "joined", "since": since}
    return {"units": units, "relations": relations}


@tool("credential-get", output="smart")
async def _credential_get(ctx: _context.HookContext, call: ToolCall) -> Any:
    """Access cloud credentials (the model's cloud, once the application is trusted)."""
    no_more(call.args)
    if ctx.credential_fetch is None:
        raise errors.PermissionDeniedError("cannot access cloud credentials: permission denied")
    return await ctx.credential_fetch()


@tool(
    "juju-reboot",
    flags=(bool_flag("now", help="reboot immediately, killing the invoking process"),),
)
async def _juju_reboot(ctx: _context.HookContext, call: ToolCall) -> None:
    """Reboot the host machine."""
    no_more(call.args)
    raise errors.PermanentError(
        "juju-reboot is not supported: Runecraft does not reboot machines from hooks"
    )
