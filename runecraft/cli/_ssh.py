"""`rune ssh` and `rune scp`: reach a unit's or machine's host, whatever the substrate.

A local-substrate machine is a directory, so "logging in" is a shell in that directory;
an LXD machine is reached through `lxc exec`/`lxc file`; an enlisted machine through the
system's OpenSSH client. Targets are `UNIT` (`app/0`) or `MACHINE` (`0`), as in Juju.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from runecraft import errors
from runecraft.cli._common import _home, _model, _run
from runecraft.client import Client
from runecraft.schemas.ssh_target import parse_target

__all__ = ["Host", "host_of", "scp", "split_remote", "ssh"]

_REMOTE = re.compile(r"^(?:[^@/:]+@)?(?P<target>[a-z][a-z0-9-]*/\d+|\d+):(?P<path>.*)\Z")


@dataclass(frozen=True)
class Host:
    """Where a machine runs: `kind` is local (a directory), lxd (a container) or ssh."""

    kind: str
    where: str


def host_of(status: dict[str, Any], target: str, home: Path) -> Host:
    """The host of `target` (a unit or a machine number) in a `status` document."""
    target = target.rpartition("@")[2]
    if status.get("model", {}).get("type") == "caas":
        raise errors.InvalidSpecError(
            f'cannot reach "{target}": model "{status["model"].get("name", "")}" is a k8s '
            "model, whose units run in pods (it has no machines, and ssh into pods is not "
            "supported yet)"
        )
    number = target
    if "/" in target:
        app = target.partition("/")[0]
        unit = status.get("applications", {}).get(app, {}).get("units", {}).get(target)
        if unit is None:
            raise errors.NotFoundError(f'unit "{target}" not found')
        number = str(unit.get("machine", ""))
    machine = status.get("machines", {}).get(number)
    if machine is None:
        raise errors.NotFoundError(f'machine "{number}" not found')
    instance = str(machine.get("instance-id", "pending"))
    if instance == "pending":
        raise errors.TemporaryError(f"machine {number} has no instance yet; try again shortly")
    if instance.startswith("local:"):
        model_uuid, _, machine_number = instance[len("local:") :].partition("/")
        return Host("local", str(home / "machines" / model_uuid / machine_number))
    if instance.startswith("ssh:"):
        return Host("ssh", instance)
    return Host("lxd", instance)


def _resolve(target: str) -> Host:
    model = _model()

    async def status(client: Client) -> dict[str, Any]:
        return await client.status(model)

    return host_of(_run(status), target, _home())


def _ssh_login(instance: str) -> list[str]:
    parsed = parse_target(instance)
    return ["-p", str(parsed.port), f"{parsed.user}@{parsed.host}"]


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--container", help="Accepted for Juju compatibility (machine charms only).")
@click.option("--no-host-key-checks", is_flag=True, help="Do not check the host key (ssh).")
@click.argument("target")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def ssh(
    container: str | None, no_host_key_checks: bool, target: str, command: tuple[str, ...]
) -> None:
    """Open a shell on the machine of TARGET (a unit or a machine), or run COMMAND there.

    OpenSSH options before COMMAND (`-i KEY`, `-o K=V`) are passed on for enlisted
    machines and ignored elsewhere. The exit code is the command's.
    """
    del container
    host = _resolve(target)
    options: list[str] = []
    words = list(command)
    while words and words[0].startswith("-"):
        option = words.pop(0)
        options.append(option)
        if option in {"-i", "-o", "-p", "-l", "-F", "-J"} and words:
            options.append(words.pop(0))
    script = " ".join(words)
    if host.kind == "local":
        argv = ["bash", "-c", script] if script else ["bash", "-i"]
        code = subprocess.call(argv, cwd=host.where)
    elif host.kind == "lxd":
        shell = ["bash", "-c", script] if script else ["bash", "-l"]
        code = subprocess.call(["lxc", "exec", host.where, "--", *shell])
    else:
        checks = ["-o", "StrictHostKeyChecking=no"] if no_host_key_checks else []
        code = subprocess.call(["ssh", *checks, *options, *_ssh_login(host.where), *words])
    sys.exit(code)


def split_remote(spec: str) -> tuple[str | None, str]:
    """`[user@]TARGET:PATH` → (TARGET, PATH); anything else is a local path (None, spec)."""
    match = _REMOTE.match(spec)
    if match is None:
        return None, spec
    return match.group("target"), match.group("path")


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--container", help="Accepted for Juju compatibility (machine charms only).")
@click.option("--no-host-key-checks", is_flag=True, help="Do not check the host key (ssh).")
@click.argument("args", nargs=-1, required=True, type=click.UNPROCESSED)
def scp(container: str | None, no_host_key_checks: bool, args: tuple[str, ...]) -> None:
    """Copy SOURCE to DESTINATION; either may be `TARGET:PATH` (a unit or a machine).

    Relative remote paths are relative to the machine's home (the machine directory on
    the local substrate). Options before the paths go to scp for enlisted machines.
    """
    del container
    if len(args) < 2:
        raise errors.UsageError("expected SOURCE and DESTINATION")
    options, (source, destination) = list(args[:-2]), args[-2:]
    (src_target, src_path), (dst_target, dst_path) = split_remote(source), split_remote(destination)
    if src_target is not None and dst_target is not None:
        raise errors.UsageError("copying between two machines is not supported: copy via here")
    if src_target is None and dst_target is None:
        raise errors.UsageError(f'neither "{source}" nor "{destination}" names a unit or machine')
    remote_target = src_target or dst_target
    assert remote_target is not None
    host = _resolve(remote_target)
    remote_path = src_path if src_target else dst_path
    if host.kind == "local":
        path = Path(host.where) / remote_path
        if src_target:
            _copy(path, Path(destination), recursive="-r" in options)
        else:
            _copy(Path(source), path, recursive="-r" in options)
        return
    if host.kind == "lxd":
        remote = f"{host.where}/{remote_path.lstrip('/') or '.'}"
        if not remote_path.startswith("/"):
            remote = f"{host.where}/root/{remote_path}"
        pair = [remote, destination] if src_target else [source, remote]
        recursive = ["-r"] if "-r" in options else []
        code = subprocess.call(["lxc", "file", "pull" if src_target else "push", *recursive, *pair])
        sys.exit(code)
    login = _ssh_login(host.where)
    address = f"{login[2]}:{remote_path}"
    pair = [address, destination] if src_target else [source, address]
    checks = ["-o", "StrictHostKeyChecking=no"] if no_host_key_checks else []
    sys.exit(subprocess.call(["scp", *checks, "-P", login[1], *options, *pair]))


def _copy(source: Path, destination: Path, *, recursive: bool) -> None:
    if source.is_dir():
        if not recursive:
            raise errors.UsageError(f'"{source}" is a directory: use scp -r')
        shutil.copytree(source, destination / source.name if destination.is_dir() else destination)
        return
    if not source.exists():
        raise errors.NotFoundError(f'"{source}" not found')
    shutil.copy2(source, destination)
