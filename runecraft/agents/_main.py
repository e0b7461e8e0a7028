"""The machine agent's command line (`python -m runecraft.agents`, see `__main__`)."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path

import pydantic

from runecraft import _logging, _tracing
from runecraft.agents import machine
from runecraft.schemas import agent as agent_schema

logger = _logging.get_logger(__name__)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m runecraft.agents", description="Run a Runecraft machine agent."
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="path of agent.json")
    source.add_argument("--config-dir", type=Path, help="directory of unit-<number>.json (pods)")
    parser.add_argument("--pod", help="the pod's name, whose ordinal picks the config")
    parser.add_argument("--data-dir", type=Path, help="where the agent keeps its state")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    return parser.parse_args(argv)


async def _serve(config: agent_schema.AgentConfig, *, pod: bool) -> int:
    agent, charms = machine.build(config, pod=pod)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, agent.stop)
    try:
        await agent.run()
    finally:
        await charms.aclose()
    logger.info("machine agent stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the machine agent until signalled; returns the exit code."""
    args = _parse(argv)
    _logging.configure_plain(args.log_level, process="machine-agent")
    path = _config_path(args)
    if path is None:
        logger.error("--config-dir needs --pod NAME ending in the unit's number", pod=args.pod)
        return 2
    try:
        config = agent_schema.AgentConfig.model_validate_json(path.read_bytes())
    except (OSError, pydantic.ValidationError) as exc:
        logger.error("cannot read agent config", path=str(path), error=str(exc))
        return 2
    if args.data_dir is not None:
        config = config.model_copy(update={"data_dir": str(_own_dir(args.data_dir, config.agent))})
    _tracing.setup("runecraft-agent")
    return asyncio.run(_serve(config, pod=args.pod is not None))


def _own_dir(volume: Path, agent: str) -> Path:
    """This agent's directory on the pod's volume. The volume outlives the unit (a
    StatefulSet keeps its claim when scaled down), and a unit made again under the same
    name is a new machine with a new agent: it starts clean, and what an earlier agent
    left on the volume goes."""
    own = volume / agent
    for earlier in volume.glob("*"):
        if earlier != own and earlier.is_dir():
            shutil.rmtree(earlier, ignore_errors=True)
    own.mkdir(parents=True, exist_ok=True, mode=0o700)
    return own


def _config_path(args: argparse.Namespace) -> Path | None:
    if args.config is not None:
        config: Path = args.config
        return config
    _, _, number = (args.pod or "").rpartition("-")
    if not number.isdigit():
        return None
    directory: Path = args.config_dir
    return directory / f"unit-{int(number)}.json"
