"""Lossless fan-out at 1,000 agents: the embedded broker against a real mosquitto.

The load of `tests/component/test_bus_fanout.py` (`tests/component/_busload.py`), larger:
each agent's `BusClient` lives through `--rounds` sessions, exchanging `--messages` QoS 1
messages each way with the controller's `ControllerBus` per session, while churners send
bursts as they leave. The embedded broker runs in a process of its own (as mosquitto does,
so the clients' work is not in its figure) and reports its delivery counts on the way out.
Printed per broker: messages, lost, duplicated, the broker's dropped count (embedded only),
seconds and messages per second; then the embedded broker's throughput as a share of
mosquitto's.

    python benchmarks/bus_fanout.py [--agents 1000] [--rounds 2] [--messages 5]
        [--churners 20] [--no-mosquitto]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import shutil
import socket
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from runecraft.controller import _passwords, bus
from tests.component import _busload


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_embedded(port: int, stored: dict[str, str], control: Connection) -> None:
    """The child process: the embedded broker until told to stop, then its counts."""

    async def verify(user: str, password: str) -> bool:
        return _passwords.verify_password(password, stored.get(user))

    async def main() -> None:
        broker = bus.EmbeddedBroker("127.0.0.1", port, verify)
        await broker.start()
        control.send("started")
        await asyncio.to_thread(control.recv)
        await broker.stop()
        control.send(dataclasses.asdict(broker.deliveries))

    asyncio.run(main())


async def _on_embedded(
    load: _busload.Load, passwords: dict[str, str], stored: dict[str, str]
) -> tuple[_busload.Outcome, dict[str, Any]]:
    port = _free_port()
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=_serve_embedded, args=(port, stored, theirs), daemon=True
    )
    child.start()
    try:
        assert await asyncio.to_thread(ours.recv) == "started"
        outcome = await _busload.run("127.0.0.1", port, passwords, load)
        ours.send("stop")
        counts: dict[str, Any] = await asyncio.to_thread(ours.recv)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    return outcome, counts


async def _on_mosquitto(
    load: _busload.Load, passwords: dict[str, str], stored: dict[str, str]
) -> _busload.Outcome:
    directory = Path(tempfile.mkdtemp(dir="/tmp", prefix="fanout-"))
    port = _free_port()
    mosquitto = bus.ManagedMosquitto(directory / "mosquitto", "127.0.0.1", port, None)
    try:
        await mosquitto.start(stored.items())
        return await _busload.run("127.0.0.1", port, passwords, load)
    finally:
        await mosquitto.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _report(name: str, outcome: _busload.Outcome, dropped: object) -> float:
    rate = outcome.messages / outcome.seconds
    print(
        f"{name:<10} messages {outcome.messages:>6}  lost {len(outcome.lost):>4}  "
        f"duplicated {len(outcome.duplicated):>3}  changed {len(outcome.changed):>3}  "
        f"dropped {dropped!s:>3}  {outcome.seconds:6.1f} s  {rate:7.0f} msg/s"
    )
    if outcome.controller_sessions > 1:
        print(
            f"           the controller's client reconnected {outcome.controller_sessions - 1} "
            "times (the clients' process fell behind): lost figures are not the broker's"
        )
    return rate


async def main(args: argparse.Namespace) -> None:
    load = _busload.Load(
        agents=args.agents,
        rounds=args.rounds,
        messages=args.messages,
        churners=args.churners,
        wave=100,
        stall=30.0,
    )
    names = [bus.CONTROLLER_USER, *load.agent_names(), *load.churner_names()]
    passwords = {name: f"{name}-secret" for name in names}
    stored = {name: _passwords.hash_password(password) for name, password in passwords.items()}
    print(
        f"{load.agents} agents x {load.rounds} sessions x {load.messages} messages each way, "
        f"{load.churners} churners sending bursts of {load.burst}"
    )
    outcome, counts = await _on_embedded(load, passwords, stored)
    embedded = _report("embedded", outcome, counts["dropped"])
    print(f"           broker counts: {counts}")
    if args.no_mosquitto or shutil.which("mosquitto") is None:
        return
    mosquitto = _report("mosquitto", await _on_mosquitto(load, passwords, stored), "-")
    print(f"embedded / mosquitto throughput: {embedded / mosquitto:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--churners", type=int, default=20)
    parser.add_argument("--no-mosquitto", action="store_true")
    asyncio.run(main(parser.parse_args()))
