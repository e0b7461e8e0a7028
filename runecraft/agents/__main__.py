"""`python -m runecraft.agents --config <machine dir>/agent.json`: the machine agent process.

Logs go to stderr as key-value lines (the provider redirects them to a file). SIGTERM or
SIGINT stops the unit tasks cleanly and exits 0; a config that cannot be read exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import pydantic
import structlog

from runecraft import _logging
from runecraft.agents import machine
from runecraft.schemas import agent as agent_schema

logger = structlog.get_logger(__name__)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m runecraft.agents", description="Run a Runecraft machine agent."
    )
    parser.add_argument("--config", required=True, type=Path, help="path of agent.json")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    return parser.parse_args(argv)


async def _serve(config: agent_schema.AgentConfig) -> int:
    agent, charms = machine.build(config)
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
    _logging.configure(args.log_level, process="machine-agent")
    try:
        config = agent_schema.AgentConfig.model_validate_json(args.config.read_bytes())
    except (OSError, pydantic.ValidationError) as exc:
        logger.error("cannot read agent config", path=str(args.config), error=str(exc))
        return 2
    return asyncio.run(_serve(config))


if __name__ == "__main__":
    sys.exit(main())
