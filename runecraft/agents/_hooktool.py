#!/usr/bin/env python3
"""The hook-tool client: one script, installed once per unit, symlinked as every tool.

Hooks call it very often (ops runs `juju-log` for every log record), so it must start fast:
it imports only the standard library and is installed with a `-IS` shebang (no site, no
user paths, no environment-driven imports). It sends the tool name (argv[0]), the arguments,
the cwd, the hook's context id and, only for tools told to read it (`--file -`), stdin to
the unit agent's socket, then prints the reply's stdout/stderr and exits with its code.

Wire format, both ways: a 4-byte big-endian length, then a UTF-8 JSON object. Request:
`{"context", "tool", "args", "cwd", "stdin"}` (stdin base64 or null); reply:
`{"code", "stdout", "stderr"}` (both base64).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import sys

MAX_REPLY = 256 * 1024 * 1024


def wants_stdin(args: list[str]) -> bool:
    """True when the call reads a file from stdin (`--file -` or `--file=-`)."""
    for index, arg in enumerate(args):
        if arg == "--":
            return False
        if arg == "--file=-" or (arg == "--file" and args[index + 1 : index + 2] == ["-"]):
            return True
    return False


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise ConnectionError("unit agent closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def call(address: str, request: dict[str, object]) -> dict[str, object]:
    """Send one request and return the decoded reply."""
    payload = json.dumps(request).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(address)
        sock.sendall(struct.pack(">I", len(payload)) + payload)
        (size,) = struct.unpack(">I", _recv_exact(sock, 4))
        if size > MAX_REPLY:
            raise ConnectionError(f"reply of {size} bytes is too large")
        reply: dict[str, object] = json.loads(_recv_exact(sock, size))
        return reply


def main() -> int:
    """Run the tool named by argv[0]; returns the exit code."""
    tool = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    context = os.environ.get("JUJU_CONTEXT_ID", "")
    address = os.environ.get("JUJU_AGENT_SOCKET_ADDRESS", "")
    if not context or not address:
        sys.stderr.write("ERROR JUJU_CONTEXT_ID and JUJU_AGENT_SOCKET_ADDRESS must be set\n")
        return 1
    stdin = sys.stdin.buffer.read() if wants_stdin(args) else None
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = "/"
    request: dict[str, object] = {
        "context": context,
        "tool": tool,
        "args": args,
        "cwd": cwd,
        "stdin": None if stdin is None else base64.b64encode(stdin).decode(),
    }
    try:
        reply = call(address, request)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"ERROR cannot reach the unit agent at {address}: {exc}\n")
        return 1
    sys.stdout.buffer.write(base64.b64decode(str(reply.get("stdout", ""))))
    sys.stdout.flush()
    sys.stderr.buffer.write(base64.b64decode(str(reply.get("stderr", ""))))
    sys.stderr.flush()
    code = reply.get("code", 1)
    return code if isinstance(code, int) else 1


if __name__ == "__main__":
    sys.exit(main())
