"""`rune-pebble`: the agent's command line, in Pebble's words.

* `run [--create-dirs] [--hold] [--http ADDR] [--verbose] [--root DIR] [--unit NAME]
  [--identities FILE]` serves the API (reads `PEBBLE`, `PEBBLE_SOCKET`, `PEBBLE_COPY_ONCE`).
* `notify KEY [NAME=VALUE ...] [--repeat-after DUR]` records a custom notice, as a workload
  does with `pebble notify` (prints `Recorded notice N`).
* `install DEST` writes the agent as a zipapp (for a workload image that has python3).

Usage errors exit 2; a failed request or daemon exits 1 with `error: ...` on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import importlib
import json
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runecraft.agents.pebble import _durations

__all__ = ["main", "request"]

DEFAULT_PEBBLE = "/var/lib/pebble/default"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "notify":
        return _notify(parser, args)
    if args.command == "install":
        return _install(Path(args.dest))
    return _run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pebble", description="A Pebble-compatible workload agent."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the daemon (the API on $PEBBLE_SOCKET)")
    run.add_argument("--create-dirs", action="store_true", help="create $PEBBLE if missing")
    run.add_argument("--hold", action="store_true", help="do not start default services")
    run.add_argument("--http", metavar="ADDR", help="also listen on TCP [HOST]:PORT")
    run.add_argument("--verbose", action="store_true", help="services' output on stdout")
    run.add_argument("--root", metavar="DIR", default="/", help="the container's root (/)")
    run.add_argument("--unit", metavar="NAME", help="refuse callers acting for other units")
    run.add_argument("--identities", metavar="FILE", help="identities to load at start-up")
    notify = commands.add_parser("notify", help="record a custom notice")
    notify.add_argument("key", help="the notice key, e.g. example.com/thing")
    notify.add_argument("data", nargs="*", metavar="NAME=VALUE", help="notice data")
    notify.add_argument("--repeat-after", metavar="DUR", help="repeat no sooner than DUR")
    install = commands.add_parser("install", help="write the agent as a zipapp")
    install.add_argument("dest", help="where to write it")
    return parser


def _install(dest: Path) -> int:
    # Imported only here: building a zipapp is not the daemon's business.
    try:
        zipapp = importlib.import_module("runecraft.agents.pebble._zipapp")
    except ModuleNotFoundError:
        print("error: this build cannot install itself (no zipapp builder)", file=sys.stderr)
        return 1
    try:
        zipapp.build(dest)
    except OSError as exc:
        print(f"error: cannot install to {dest}: {exc}", file=sys.stderr)
        return 1
    return 0


def _pebble_dir() -> Path:
    return Path(os.environ.get("PEBBLE") or DEFAULT_PEBBLE)


def _socket_path() -> Path:
    return Path(os.environ.get("PEBBLE_SOCKET") or _pebble_dir() / ".pebble.socket")


def _run(args: argparse.Namespace) -> int:
    from runecraft.agents.pebble import _daemon, _plan  # noqa: PLC0415 - notify need not

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s [pebble] %(message)s",
        stream=sys.stderr,
    )
    copy_from = os.environ.get("PEBBLE_COPY_ONCE")
    daemon = _daemon.Daemon(
        _pebble_dir(),
        _socket_path(),
        root=Path(args.root),
        unit=args.unit or None,
        hold=args.hold,
        http_address=args.http,
        create_dirs=args.create_dirs,
        copy_from=Path(copy_from) if copy_from else None,
        identities_file=Path(args.identities) if args.identities else None,
        verbose=args.verbose,
    )
    try:
        asyncio.run(daemon.run())
    except (OSError, ValueError, _plan.PlanError) as exc:
        print(f"cannot run daemon: {exc}", file=sys.stderr)
        return 1
    return 0


def _notify(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    data: dict[str, str] = {}
    for pair in args.data:
        name, sep, value = pair.partition("=")
        if not sep:
            parser.error(f'data args must be in "name=value" format, not "{pair}"')
        data[name] = value
    body: dict[str, Any] = {"action": "add", "type": "custom", "key": args.key}
    if data:
        body["data"] = data
    if args.repeat_after:
        try:
            _durations.parse_duration(args.repeat_after)
        except ValueError as exc:
            parser.error(f"invalid --repeat-after {args.repeat_after!r}: {exc}")
        body["repeat-after"] = args.repeat_after
    try:
        reply = request(_socket_path(), "POST", "/v1/notices", body)
    except OSError as exc:
        print(f"error: cannot communicate with server: {exc}", file=sys.stderr)
        return 1
    if reply.get("type") == "error":
        message = (reply.get("result") or {}).get("message", "unknown error")
        print(f"error: {message}", file=sys.stderr)
        return 1
    print(f"Recorded notice {reply['result']['id']}")
    return 0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: Path) -> None:
        super().__init__("localhost")
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self._socket_path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


def request(socket_path: Path, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """One JSON request to the daemon; the decoded envelope (OSError if unreachable)."""
    connection = _UnixConnection(socket_path)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        reply = json.loads(raw)
    except ValueError:
        raise OSError(f"invalid reply from server ({response.status})") from None
    return reply if isinstance(reply, dict) else {}


if __name__ == "__main__":
    sys.exit(main())
