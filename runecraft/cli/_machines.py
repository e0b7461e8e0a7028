"""`add-machine`, `remove-machine` and `machines`: new machines on the model's cloud, and
enlisting existing machines over SSH."""

from __future__ import annotations

import time
from pathlib import Path

import click

from runecraft import errors
from runecraft.cli import _output
from runecraft.cli._common import _juju_flags, _model, _run
from runecraft.client import Client
from runecraft.schemas import machines

__all__ = ["add_machine", "list_machines", "remove_machine"]

TRUST_ON_FIRST_USE = "trust-on-first-use"


@click.command("add-machine")
@click.argument("target", required=False)
@click.option("-n", "count", type=click.IntRange(min=1), default=1, help="How many machines.")
@click.option("--base", help="Accepted for Juju compatibility (the substrate's own base).")
@click.option("--constraints", multiple=True, help="Accepted for Juju compatibility.")
@click.option("--disks", help="Not supported: refused when given.")
@click.option(
    "--public-key",
    type=click.Path(path_type=Path),
    help="Accepted for Juju compatibility (the pair of --private-key).",
)
@click.option(
    "--private-key",
    type=click.Path(path_type=Path),
    help="SSH private key to log in with (default: the controller user's keys).",
)
@click.option(
    "--host-key",
    metavar="SHA256:…",
    help="Accept the machine's host key if it has this fingerprint (when known_hosts lacks it).",
)
@click.option(
    "--trust-on-first-use",
    is_flag=True,
    help="Accept an unknown host key without checking it; its fingerprint is shown and stored.",
)
@click.option(
    "--install-dir",
    help="Directory on the machine for Runecraft's files (default: /var/lib/runecraft).",
)
def add_machine(
    target: str | None,
    count: int,
    base: str | None,
    constraints: tuple[str, ...],
    disks: str | None,
    public_key: Path | None,
    private_key: Path | None,
    host_key: str | None,
    trust_on_first_use: bool,
    install_dir: str | None,
) -> None:
    """Add a machine: with no TARGET, a new one on the model's cloud (`lxd`: an LXD
    container), kept while empty; or enlist an existing one: `ssh:[user@]host[:port]`.

    Runecraft logs in over SSH (verifying the host key), installs its machine agent in a
    private Python environment and starts it; units go there with `deploy --to N`.
    """
    del base, constraints, public_key
    if disks is not None:
        raise errors.UsageError("add-machine --disks is not supported: machines have no disks")
    if target is None or target == "lxd":
        _new_machines(count, target)
        return
    if count != 1:
        raise errors.UsageError("-n is for new machines: enlist one ssh: machine at a time")
    if host_key and trust_on_first_use:
        raise errors.UsageError("give --host-key or --trust-on-first-use, not both")
    key_path: str | None = None
    if private_key is not None:
        resolved = private_key.expanduser().resolve()
        if not resolved.is_file():
            raise errors.InvalidSpecError(f"private key {private_key} not found")
        key_path = str(resolved)
    request = machines.AddMachineRequest(
        target=target,
        private_key=key_path,
        host_key=TRUST_ON_FIRST_USE if trust_on_first_use else host_key,
        install_dir=install_dir,
    )
    model = _model()
    with _output.err_console.status(f"enlisting {target}"):
        added = _run(lambda c: c.add_machine(model, request))
    _output.err_console.print(f"host key {added.fingerprint} ({added.hostname})", markup=False)
    _output.err_console.print(f"created machine {added.machine}")


def _new_machines(count: int, substrate: str | None) -> None:
    model = _model()
    for number in _run(lambda c: c.new_machines(model, count, substrate)):
        _output.err_console.print(f"created machine {number}")


@click.command("remove-machine")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Remove its units too; forget an unreachable host.")
@click.option("--no-wait", is_flag=True, help="Return before the machine is gone.")
@_juju_flags("--no-prompt")
def remove_machine(numbers: tuple[str, ...], force: bool, no_wait: bool) -> None:
    """Stop a machine's agent and remove what Runecraft installed there."""
    for number in numbers:
        if not number.isdigit():
            raise errors.InvalidSpecError(f'invalid machine "{number}": expected a number')
    model = _model()

    async def go(client: Client) -> None:
        for number in numbers:
            result = await client.remove_machine(model, number, force=force)
            if result.outcome == "dying" and not no_wait:
                await _wait_gone(client, model, number)
            _output.err_console.print(f"removed machine {number}")

    _run(go)


async def _wait_gone(client: Client, model: str, number: str, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    status = await client.status(model)
    while number in status.get("machines", {}):
        left = deadline - time.monotonic()
        if left <= 0:
            raise errors.TemporaryError(f"machine {number} is still being removed")
        generation = int(status["model"]["generation"])
        status = await client.status(model, after=generation, timeout=min(left, 10.0))


@click.command("machines")
@_output.FORMAT_OPTION
def list_machines(output_format: str) -> None:
    """List the model's machines (a k8s model has none: its units run in pods)."""
    model = _model()
    status = _run(lambda c: c.status(model))
    if status.get("model", {}).get("type") == "caas":
        raise errors.InvalidSpecError(
            f'Juju command "machines" not supported on container models: model "{model}" '
            "is a k8s model, whose units run in pods, not on machines"
        )
    document = {"machines": status.get("machines", {})}
    if _output.emit(document, output_format):
        return
    table = _output.status_tables({"machines": document["machines"]})
    for item in table:
        _output.console.print(item)
