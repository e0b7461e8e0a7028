"""The Pebble agent under ops' own client: request rate, exec round trips, file throughput,
replan and notices, against `python -m runecraft.agents.pebble run` on a unix socket.

    python benchmarks/pebble.py [--requests 500] [--execs 50] [--megabytes 10]

Every figure is ops' `pebble.Client` end to end (it opens a new connection per request,
as it does in a charm), so it is what a sidecar charm's hook pays.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import ops.pebble


def start(directory: Path) -> tuple[subprocess.Popen[bytes], Path]:
    path = directory / "pebble.socket"
    env = dict(os.environ, PEBBLE=str(directory / "pebble"), PEBBLE_SOCKET=str(path))
    process = subprocess.Popen(
        [sys.executable, "-m", "runecraft.agents.pebble", "run", "--create-dirs"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    client = ops.pebble.Client(socket_path=str(path))
    while True:
        try:
            client.get_system_info()
            return process, path
        except (ops.pebble.ConnectionError, FileNotFoundError):
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("the Pebble agent did not start") from None
            time.sleep(0.05)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost")
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(self._path))


def raw_pull(path: Path, name: str) -> int:
    """The same pull without ops' multipart parser: what the agent itself costs."""
    connection = _UnixConnection(path)
    query = urllib.parse.urlencode({"action": "read", "path": name})
    connection.request("GET", f"/v1/files?{query}", headers={"Accept": "multipart/form-data"})
    size = len(connection.getresponse().read())
    connection.close()
    return size


def timed(count: int, call: object) -> list[float]:
    assert callable(call)
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return samples


def summary(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1] if len(ms) > 1 else ms[0]
    print(f"{name:<28} n={len(ms):<5} median {statistics.median(ms):7.2f} ms  p95 {p95:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--execs", type=int, default=50)
    parser.add_argument("--megabytes", type=int, default=10)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="pb-bench-"))
    process, path = start(directory)
    client = ops.pebble.Client(socket_path=str(path))
    blob = str(directory / "blob")
    try:
        samples = timed(args.requests, client.get_system_info)
        summary("system-info", samples)
        print(f"{'':<28} {len(samples) / sum(samples):7.0f} requests/s (one connection each)")
        summary("exec true", timed(args.execs, lambda: client.exec(["true"]).wait()))
        data = os.urandom(args.megabytes * 1024 * 1024)
        push = timed(3, lambda: client.push(blob, data))
        pull = timed(3, lambda: client.pull(blob, encoding=None).read())
        raw = timed(3, lambda: raw_pull(path, blob))
        for name, got in (("push", push), ("pull", pull), ("pull, raw HTTP", raw)):
            rate = args.megabytes / statistics.median(got)
            print(f"{name + f' {args.megabytes} MB':<28} median {rate:7.1f} MB/s")
        layer = {"services": {"s": {"override": "replace", "command": "sleep 600"}}}
        client.add_layer("bench", layer)  # type: ignore[arg-type]
        summary("start (1 s okay delay)", timed(1, lambda: client.start_services(["s"])))
        summary("stop", timed(1, lambda: client.stop_services(["s"])))
        summary(
            "notify",
            timed(
                args.execs,
                lambda: client.notify(ops.pebble.NoticeType.CUSTOM, "bench.example.com/n"),
            ),
        )
        summary("get_notices", timed(args.execs, client.get_notices))
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
