"""Serve the test cluster until SIGTERM: `python -m tests.k8s_cluster --kubeconfig PATH`.

Prints one JSON line once the API answers (`{"ready": true, "url": ..., "kubeconfig": ...}`),
so a benchmark can start it, wait for that line, and point programs at the kubeconfig.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from tests.k8s_cluster.cluster import KubeCluster


async def serve(kubeconfig: Path, workdir: Path, backoff: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with KubeCluster.start(workdir, backoff=backoff) as cluster:
        kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cluster.kubeconfig, kubeconfig)
        ready = {"ready": True, "url": cluster.url, "kubeconfig": str(kubeconfig)}
        print(json.dumps(ready), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.k8s_cluster", description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True, help="where to write it")
    parser.add_argument("--workdir", type=Path, help="pods' directories (default: a temp dir)")
    parser.add_argument("--backoff", type=float, default=1.0, help="crash-loop back-off base")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="k8s-cluster-") as scratch:
        workdir = args.workdir or Path(scratch)
        asyncio.run(serve(args.kubeconfig.resolve(), workdir, args.backoff))
    return 0


if __name__ == "__main__":
    sys.exit(main())
