#!/usr/bin/env python3
"""The hook-tool client: one script, installed once per unit, symlinked as every tool.

This is the fallback for a machine without perl; `jujuc.pl` (perl-base, a few ms a call)
speaks the same wire format and is installed where perl is.

Hooks call it very often (ops runs `juju-log` for every log record), so it must start fast:
it is installed with a `-IS` shebang (no site, no user paths, no environment-driven
imports) and imports only built-in modules that an isolated interpreter has already loaded
or that are pure C (`_socket`, `posix`, `sys`): no `socket.py` (which pulls in `enum` and
`selectors`), no `json`, no `base64`. It sends the tool name (argv[0]), the arguments, the
cwd, the hook's context id and, only for tools told to read it (`--file -`), stdin to the
unit agent's socket, then prints the reply's stdout/stderr and exits with its code.

Wire format (no field can contain NUL: they come from argv, the environment and getcwd).
Request: a 4-byte big-endian length, then
`context NUL tool NUL cwd NUL nargs NUL arg1 NUL … argN NUL has-stdin(0|1) NUL stdin-bytes`.
Reply: a 4-byte big-endian signed exit code, a 4-byte stdout length, stdout, then stderr
up to the end of the stream (the agent closes the connection).
"""

import _socket
import posix
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


def _fail(message: str) -> int:
    sys.stderr.write(f"ERROR {message}\n")
    return 1


def main() -> int:
    """Run the tool named by argv[0]; returns the exit code."""
    environ = posix.environ
    context = environ.get(b"JUJU_CONTEXT_ID", b"")
    address = environ.get(b"JUJU_AGENT_SOCKET_ADDRESS", b"")
    if not context or not address:
        return _fail("JUJU_CONTEXT_ID and JUJU_AGENT_SOCKET_ADDRESS must be set")
    argv = sys.argv
    args = argv[1:]
    stdin: bytes | None = None
    if wants_stdin(args):
        stdin = sys.stdin.buffer.read() if sys.stdin is not None else b""
    try:
        cwd = posix.getcwdb()
    except OSError:
        cwd = b"/"
    fields = [context, argv[0].rpartition("/")[2].encode(), cwd, str(len(args)).encode()]
    fields += [arg.encode("utf-8", "surrogateescape") for arg in args]
    fields += [b"0" if stdin is None else b"1", stdin or b""]
    body = b"\0".join(fields)
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(address)
            sock.sendall(len(body).to_bytes(4, "big") + body)
            chunks: list[bytes] = []
            size = 0
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_REPLY:
                    return _fail("reply from the unit agent is too large")
                chunks.append(chunk)
        finally:
            sock.close()
    except OSError as exc:
        return _fail(f"cannot reach the unit agent at {address.decode(errors='replace')}: {exc}")
    reply = b"".join(chunks)
    if len(reply) < 8:
        return _fail("the unit agent closed the connection")
    code = int.from_bytes(reply[:4], "big", signed=True)
    out_size = int.from_bytes(reply[4:8], "big")
    sys.stdout.buffer.write(reply[8 : 8 + out_size])
    sys.stdout.flush()
    sys.stderr.buffer.write(reply[8 + out_size :])
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
