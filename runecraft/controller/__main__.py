"""`python -m runecraft.controller COMMAND`: the controller, run as its own program.

`serve --home DIR` runs a bootstrapped controller. The other commands are what the CLI
asks of the controller package, run here so that the CLI's process never loads controller
code: `bootstrap`, `start` and `kill` a home's controller, and LXD's bridge address and
machine image. They answer in JSON lines on stdout: `{"progress": TEXT}` while working,
then `{"result": VALUE}` (exit 0) or `{"error": {"code": CODE, "message": TEXT}}` (exit 1),
where CODE names a class of `runecraft.errors`. Log lines go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runecraft import _logging, _tracing, errors, settings
from runecraft.controller import _config, _lifecycle

__all__ = ["main"]


def _emit(**line: Any) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _progress(text: str) -> None:
    _emit(progress=text)


def _serve(args: argparse.Namespace) -> None:
    from runecraft.controller import _process  # noqa: PLC0415 (only `serve` needs the server)

    _process.serve(args.home)


def _options(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The named options of a command, as the keyword arguments they stand for."""
    return {name: getattr(args, name) for name in names}


def _bootstrap(args: argparse.Namespace) -> Any:
    options = _options(args, "name", "database", "broker", "api_port", "host", "log_format")
    return _lifecycle.bootstrap(
        args.home, tls=not args.no_tls, progress=_progress, **options
    ).model_dump(mode="json")


def _start(args: argparse.Namespace) -> Any:
    return _lifecycle.start(args.home, _progress).model_dump(mode="json")


def _kill(args: argparse.Namespace) -> Any:
    _lifecycle.kill(args.home, args.name)
    return None


def _lxd_bridge_address(args: argparse.Namespace) -> Any:
    from runecraft.controller.providers import lxd  # noqa: PLC0415 (pylxd only for LXD)
    from runecraft.settings import LxdSettings  # noqa: PLC0415

    return lxd.bridge_address(LxdSettings())


def _lxd_build_image(args: argparse.Namespace) -> Any:
    from runecraft.controller.providers import lxd  # noqa: PLC0415
    from runecraft.settings import LxdSettings  # noqa: PLC0415

    options = _options(args, "mirror", "rebuild")
    return lxd.ensure_image(LxdSettings(), args.cache_dir, progress=_progress, **options)


def _lxd_remove_image(args: argparse.Namespace) -> Any:
    from runecraft.controller.providers import lxd  # noqa: PLC0415
    from runecraft.settings import LxdSettings  # noqa: PLC0415

    return lxd.remove_image(LxdSettings(), args.image)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runecraft.controller")
    parser.add_argument("--log-level", default="INFO")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, run: Callable[[argparse.Namespace], Any], what: str) -> Any:
        sub = commands.add_parser(name, help=what, description=what)
        sub.set_defaults(run=run)
        return sub

    command("serve", _serve, "run the bootstrapped controller of a home").add_argument(
        "--home", required=True, type=Path, help="the Runecraft home"
    )
    boot = command("bootstrap", _bootstrap, "make and start a controller in a home")
    boot.add_argument("--home", required=True, type=Path)
    boot.add_argument("--name", required=True)
    boot.add_argument("--database")
    boot.add_argument("--broker")
    boot.add_argument("--api-port", type=int)
    boot.add_argument("--host", default="127.0.0.1")
    boot.add_argument("--no-tls", action="store_true")
    boot.add_argument("--log-format", choices=_logging.LOG_FORMATS, default="text")
    start = command("start", _start, "start a home's controller and wait until it answers")
    start.add_argument("--home", required=True, type=Path)
    kill = command("kill", _kill, "stop a home's controller and all it started; forget it")
    kill.add_argument("--home", required=True, type=Path)
    kill.add_argument("--name", required=True)
    command("lxd-bridge-address", _lxd_bridge_address, "the IPv4 address of the LXD bridge")
    build = command("lxd-build-image", _lxd_build_image, "build and import the LXD image")
    build.add_argument("--cache-dir", required=True, type=Path)
    build.add_argument("--mirror")
    build.add_argument("--rebuild", action="store_true")
    remove = command("lxd-remove-image", _lxd_remove_image, "delete an image Runecraft made")
    remove.add_argument("image", nargs="?")
    return parser


def _log_format(args: argparse.Namespace) -> str:
    """`RUNECRAFT_LOG_FORMAT`, else (serving) the controller's `log_format`, else `text`."""
    chosen = settings.log_format()
    if chosen is not None and chosen not in _logging.LOG_FORMATS:
        raise errors.InvalidSpecError(
            f'invalid RUNECRAFT_LOG_FORMAT "{chosen}": expected one of '
            + ", ".join(_logging.LOG_FORMATS)
        )
    if chosen is None and args.command == "serve":
        with contextlib.suppress(Exception):  # `serve` itself says what is wrong with it
            chosen = _config.load_config(args.home / "controller").log_format
    return chosen or "text"


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        log_format = _log_format(args)
    except errors.RunecraftError as exc:
        _emit(error={"code": exc.code, "message": exc.message})
        sys.exit(1)
    _logging.configure(args.log_level, process="controller", log_format=log_format)
    if args.command == "serve":
        _tracing.setup("runecraft-controller")
        _serve(args)
        return
    try:
        result = args.run(args)
    except errors.RunecraftError as exc:
        _emit(error={"code": exc.code, "message": exc.message})
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    _emit(result=result)


if __name__ == "__main__":
    main()
