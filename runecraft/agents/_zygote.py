"""The hook fork server's own process: `ops` imported once, one `fork()` per hook.

Run by `_forkserver` with the interpreter the charm's entrypoint names, in the charm dir,
with `PYTHONPATH=lib:venv` (as the charm's `dispatch` runs it), as
`python3 -c <this file> SOCKET ENTRYPOINT IDLE`. It imports `ops` from the charm's own
`venv/` (whatever version the charm packs), says `ready` on stdout, then serves one hook at
a time on the unix socket SOCKET, and exits after IDLE seconds without one.

A request is a 4-byte big-endian length and a JSON body `{"env": {...}, "cwd": "..."}`,
sent with the hook's stdin, stdout and stderr as SCM_RIGHTS descriptors. The answer is
`pid N\\n` once the hook process (in a session of its own) exists; it runs only when the
agent answers `go\\n` (it has put the session on record by then), and is killed if the
agent hangs up instead. Then comes `exit CODE\\n` when it ended (CODE as `subprocess`
gives it: negative for a signal). The hook process takes the descriptors as 0/1/2, the
environment and cwd it was given, and runs ENTRYPOINT as `__main__` exactly as
`python3 ENTRYPOINT` would (sys.argv, sys.path[0], SystemExit, tracebacks, atexit).

Off Kubernetes the Pebble sockets are not at `/charm/containers` (pebble.md §1.3): when a
hook's `RUNECRAFT_CONTAINERS_DIR` names another directory, `ops.pebble.Client` is given
the socket path under it instead (read at each call: one server serves many hooks).

Only the standard library: this runs in the charm's Python, not the agent's.
"""

import atexit
import builtins
import contextlib
import functools
import importlib.machinery
import json
import os
import signal
import socket
import sys
import traceback
import types
from typing import Any


def _exit_code(exc: SystemExit) -> int:
    """What the interpreter would exit with for `SystemExit(exc.code)`."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _run_main(script: str) -> None:
    """Run `script` as the interpreter runs `python3 SCRIPT`: a fresh `__main__`."""
    with open(script, "rb") as file:
        code = compile(file.read(), script, "exec")
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__dict__.update(
        __cached__=None,
        __loader__=importlib.machinery.SourceFileLoader("__main__", script),
        __builtins__=builtins,
    )
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _run_hook(fds: list[int], env: dict[str, str], cwd: str, entry: str) -> None:
    """In the forked child: become the hook process, run the charm, never return."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        script = os.path.join(os.getcwd(), entry)  # `__main__.__file__`, unnormalised
        sys.argv = [entry]
        sys.path[0] = os.path.dirname(os.path.realpath(script))
        try:
            _run_main(script)
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc)
        except BaseException as exc:
            # As the interpreter does: the hook (ops installs one) sees the charm's frames.
            tb = exc.__traceback__
            while tb is not None and tb.tb_frame.f_code.co_filename != script:
                tb = tb.tb_next
            tb = tb or exc.__traceback__
            sys.excepthook(type(exc), exc.with_traceback(tb), tb)
            code = 1
        try:
            atexit._run_exitfuncs()
        except BaseException:
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


def _read_request(conn: socket.socket) -> tuple[dict[str, object], list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    if len(fds) != 3 or len(data) < 4:
        for fd in fds:
            os.close(fd)
        raise ValueError("a request carries a length, a body and 3 descriptors")
    size = int.from_bytes(data[:4], "big")
    body = data[4:]
    while len(body) < size:
        more = conn.recv(size - len(body))
        if not more:
            raise ValueError("request cut short")
        body += more
    return json.loads(body), fds


def _read_line(conn: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        more = conn.recv(1)
        if not more:
            return b""
        line += more
    return line[:-1]


def _serve_one(conn: socket.socket, listener: socket.socket, entry: str) -> None:
    request, fds = _read_request(conn)
    env = {str(k): str(v) for k, v in dict(request["env"]).items()}  # type: ignore[call-overload]
    cwd = str(request["cwd"])
    gate_r, gate_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        listener.close()
        conn.close()
        os.close(gate_w)
        os.setsid()
        if os.read(gate_r, 3) != b"go\n":  # the server is gone: never run unsupervised
            os._exit(111)
        os.close(gate_r)
        _run_hook(fds, env, cwd, entry)
    os.close(gate_r)
    for fd in fds:
        os.close(fd)
    try:
        conn.sendall(f"pid {pid}\n".encode())
        if _read_line(conn) != b"go":
            raise OSError("the agent hung up before the hook was on record")
        os.write(gate_w, b"go\n")
    except OSError:
        # The agent is gone (cancelled): nobody would supervise or stop this hook.
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(gate_w)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    conn.sendall(f"exit {code}\n".encode())


_CONTAINERS = "/charm/containers"


def _rerouted(path: object) -> object:
    """A socket path under `/charm/containers/` moved to `$RUNECRAFT_CONTAINERS_DIR`."""
    real = os.environ.get("RUNECRAFT_CONTAINERS_DIR", "")
    if not real or real == _CONTAINERS or not isinstance(path, str):
        return path
    if path.startswith(_CONTAINERS + "/"):
        return real.rstrip("/") + path[len(_CONTAINERS) :]
    return path


def _reroute_pebble() -> None:
    """Wrap `ops.pebble.Client.__init__` so ops' hard-coded socket paths are rerouted."""
    try:
        from ops import pebble  # noqa: PLC0415 (the charm's own ops, already imported)
    except Exception:  # an ops without pebble: nothing to reroute
        return
    original: Any = pebble.Client.__init__

    @functools.wraps(original)
    def rerouting_init(self: object, *args: Any, **kwargs: Any) -> None:
        if "socket_path" in kwargs:
            kwargs["socket_path"] = _rerouted(kwargs["socket_path"])
        elif args:
            args = (_rerouted(args[0]), *args[1:])
        original(self, *args, **kwargs)

    setattr(pebble.Client, "__init__", rerouting_init)  # noqa: B010 (mypy: no method-assign)


def _die_with_parent() -> None:
    """Linux: end with the agent that started us, rather than IDLE seconds later."""
    parent = os.getppid()
    try:
        import ctypes  # noqa: PLC0415 (only here, once)

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request took
        sys.exit(0)


def main() -> int:
    path, entry, idle = sys.argv[1], sys.argv[2], float(sys.argv[3])
    _die_with_parent()
    sys.path[0] = os.path.dirname(os.path.realpath(entry))
    import ops  # noqa: F401, PLC0415 (after the path is the charm's; hooks find it imported)

    _reroute_pebble()

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(8)
    listener.settimeout(idle)
    print("ready", flush=True)
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            return 0
        with conn:
            conn.settimeout(None)
            try:
                _serve_one(conn, listener, entry)
            except (OSError, ValueError) as exc:
                print(f"bad request: {exc}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
