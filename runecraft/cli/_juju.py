"""Juju's name and version: `rune-juju` is `rune` answering as `juju`, so tools that run the
`juju` CLI (jubilant) drive Runecraft when a `juju` link to it is first on `PATH`."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from runecraft import __version__, errors
from runecraft.cli import _output
from runecraft.schemas.juju import JUJU_VERSION

if TYPE_CHECKING:
    from runecraft.client import Client

__all__ = [
    "check_controller",
    "config_document",
    "deploy_settings",
    "juju_version",
    "timestamp",
    "version",
]

_ARCHES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "ppc64le": "ppc64el",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def juju_version(system: str | None = None, machine: str | None = None) -> str:
    """`3.6.12-ubuntu-amd64`: the Juju version whose contracts Runecraft honours, with the
    OS and architecture in Juju's spelling (`MAJOR.MINOR.PATCH-RELEASE-ARCH`)."""
    import platform  # noqa: PLC0415 (`status` imports this module too, and needs none)

    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    release = "ubuntu" if system == "linux" else system or "unknown"
    arch = _ARCHES.get(machine, machine.replace("-", "_") or "unknown")
    return f"{JUJU_VERSION}-{release}-{arch}"


def deploy_settings(constraints: Sequence[str], base: str | None, trust: bool) -> dict[str, Any]:
    """Keyword arguments of `Client.set_application_settings` for `deploy`'s
    `--constraints/--base/--trust` (empty: nothing to set); bad values are refused here,
    before anything is packed or deployed."""
    from runecraft.schemas.constraints import check_base, parse_constraints  # noqa: PLC0415

    try:
        if constraints:
            parse_constraints(constraints)
        if base:
            check_base(base)
    except ValueError as exc:
        raise errors.InvalidSpecError(str(exc)) from exc
    settings: dict[str, Any] = {}
    if constraints:
        settings["constraints_items"] = list(constraints)
    if base:
        settings["base"] = base
    if trust:
        settings["trust"] = True
    return settings


async def config_document(client: Client, model: str, application: str) -> dict[str, Any]:
    """Juju's `config --format json` document, its `application-config.trust` the stored
    trust (`trust APP`, `deploy --trust`)."""
    document = await client.get_config(model, application)
    settings = await client.application_settings(model, application)
    document.setdefault("application-config", {})["trust"] = {
        "value": settings.trust,
        "type": "bool",
        "source": "user" if settings.trust else "default",
        "default": False,
        "description": "Does this application have access to trusted credentials",
    }
    return document


def check_controller(given: str | None) -> str:
    """This home's controller name; a different `--controller` (or `CTRL:` prefix) names a
    controller that does not exist here."""
    from runecraft.cli._common import _client_config  # noqa: PLC0415 (`version` stays light)

    ours = _client_config().controller
    if given and given != ours:
        raise errors.NotFoundError(f'controller "{given}" not found (this one is "{ours}")')
    return ours


def timestamp() -> str:
    """Juju's status timestamp (`controller.timestamp`, the Model table): UTC `HH:MM:SSZ`."""
    return datetime.datetime.now(datetime.UTC).strftime("%H:%M:%SZ")


@click.command()
@click.option(
    "--format", "output_format", type=click.Choice(["smart", "json", "yaml"]), default="smart"
)
@click.option("--all", "show_all", is_flag=True, help="Also show Runecraft's own version.")
def version(output_format: str, show_all: bool) -> None:
    """Print the Juju version whose CLI this is (`3.6.12-ubuntu-amd64`); with --all, also
    Runecraft's own version."""
    text = juju_version()
    if not show_all:
        if not _output.emit(text, output_format):
            click.echo(text)
        return
    document = {"version": text, "git-commit": "", "runecraft-version": __version__}
    _output.emit(document, "yaml" if output_format == "smart" else output_format)
