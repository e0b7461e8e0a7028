"""Commands of the charm runtime: relations, actions, resolving errors, refreshing charms and
model config — Juju's verbs, flags and output where they overlap."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import click
import yaml

from runecraft import errors
from runecraft.cli import _argv, _output, _run
from runecraft.cli._common import (
    _config_values,
    _juju_flags,
    _model,
    _pack,
    _read_yaml,
    _settings_change,
)
from runecraft.cli._common import _run as _call
from runecraft.client import Client
from runecraft.schemas import api

__all__ = ["integrate", "model_config", "refresh", "remove_relation", "resolve", "run", "show_task"]


# --- relations -----------------------------------------------------------------------------


@click.command()
@click.argument("first")
@click.argument("second")
@click.option("--via", help="Accepted for Juju compatibility (cross-model only).")
def integrate(first: str, second: str, via: str | None) -> None:
    """Integrate two applications: APP[:ENDPOINT] APP[:ENDPOINT] (alias: relate)."""
    del via
    model = _model()
    relation = _call(lambda c: c.integrate(model, first, second))
    _output.err_console.print(f'Integrated "{relation.key}" (relation {relation.id}).')


@click.command("remove-relation")
@click.argument("endpoints", nargs=-1, required=True)
@_juju_flags("--force")
def remove_relation(endpoints: tuple[str, ...]) -> None:
    """Remove a relation: APP[:ENDPOINT] APP[:ENDPOINT], or a relation id."""
    if len(endpoints) > 2:
        raise errors.UsageError("give a relation id, or the two endpoints of the relation")
    model = _model()
    _call(lambda c: c.remove_relation(model, *endpoints))


# --- errors and charms ---------------------------------------------------------------------


@click.command()
@click.argument("units", nargs=-1)
@click.option("--no-retry", is_flag=True, help="Skip the failed hook instead of running it again.")
@click.option("--all", "all_units", is_flag=True, help="Resolve every unit in error.")
def resolve(units: tuple[str, ...], no_retry: bool, all_units: bool) -> None:
    """Retry (or with --no-retry, skip) the failed hook of units in error (alias: resolved)."""
    if all_units == bool(units):
        raise errors.UsageError("give unit names, or --all")
    model = _model()

    async def go(client: Client) -> list[str]:
        chosen = list(units)
        if all_units:
            status = await client.status(model)
            chosen = [
                name
                for app in status["applications"].values()
                for name, unit in app.get("units", {}).items()
                if "error"
                in (unit["workload-status"].get("current"), unit["juju-status"].get("current"))
            ]
            if not chosen:
                return []
        await client.resolve(model, chosen, no_retry=no_retry)
        return chosen

    resolved = _call(go)
    if all_units and not resolved:
        _output.err_console.print("No units in error.")


@click.command()
@click.argument("application")
@click.option("--path", "path", type=click.Path(path_type=Path), help="The new local charm.")
@click.option("--config", "config_items", multiple=True, help="KEY=VALUE, or a YAML file.")
@click.option("--channel", help="Refresh from this Charmhub channel.")
@click.option("--revision", type=click.IntRange(min=0), help="Refresh to this Charmhub revision.")
@click.option("--base", help="For a Charmhub charm: NAME@CHANNEL the revision must run on.")
@click.option("--force", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--force-base", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--force-units", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--trust", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--resource", "resource_items", multiple=True, help="NAME=PATH: a new file.")
@click.option("--storage", "storage_items", multiple=True, help="Not supported yet.")
def refresh(
    application: str,
    path: Path | None,
    config_items: tuple[str, ...],
    channel: str | None,
    revision: int | None,
    base: str | None,
    force: bool,
    force_base: bool,
    force_units: bool,
    trust: bool,
    resource_items: tuple[str, ...],
    storage_items: tuple[str, ...],
) -> None:
    """Move an application to a new version of its charm (units run upgrade-charm): a
    local charm (--path), or a Charmhub channel or revision of the charm it runs; with
    --resource, the new charm's resources are attached as it is."""
    from runecraft.cli import _resources  # noqa: PLC0415 (only a refresh with files needs it)

    del force, force_base, force_units, trust
    if storage_items:
        raise errors.UsageError(
            "refresh --storage is not supported yet: the storage of new units is the "
            "application's as deployed"
        )
    if path is None and channel is None and revision is None:
        raise errors.UsageError(
            "--path, --channel or --revision is required: say which charm to refresh to"
        )
    if path is not None and (channel is not None or revision is not None):
        raise errors.UsageError("--path cannot be combined with --channel or --revision")
    if path is not None and not path.exists():
        raise errors.NotFoundError(f'charm "{path}" not found')
    values = _config_values(config_items, application)
    resource_files = _resources.read_resources(resource_items)  # bad input before any change
    model = _model()
    source, origin = path, None
    if source is None:
        from runecraft.cli import _charmhub  # noqa: PLC0415 (only a Charmhub refresh needs it)

        charm_name, followed = _call(lambda c: _charm_of(c, model, application))
        release, source = _charmhub.fetch(
            charm_name, channel=channel, revision=revision, base=base, require_channel=False
        )
        _output.err_console.print(_charmhub.origin_line(release), markup=False, highlight=False)
        origin = _charmhub.charm_origin(release, channel, followed)
    packed = _pack(source)
    undeclared = sorted(set(resource_files) - set(packed.charm.meta.resources))
    if undeclared:
        raise errors.InvalidSpecError(
            f'charm "{packed.charm.meta.name}" declares no resource "{undeclared[0]}"'
        )

    async def go(client: Client) -> api.RefreshResponse:
        info = await client.upload_charm(packed.data, model)
        uploaded = await _resources.upload_resources(client, resource_files, model)
        result = await client.refresh(model, application, info.sha256, origin)
        if uploaded:
            await client.attach_resources(model, application, uploaded)
        if values:
            await client.set_config(model, application, values)
        return result

    result = _call(go)
    _output.err_console.print(
        f'Refreshed "{result.application}" to charm {result.charm} revision {result.revision}.'
    )


async def _charm_of(client: Client, model: str, application: str) -> tuple[str, str]:
    """The name of the charm `application` runs (what a Charmhub refresh fetches) and the
    Charmhub channel it follows ("" for a local charm)."""
    status = await client.status(model)
    app = status.get("applications", {}).get(application)
    if app is None:
        raise errors.NotFoundError(f'application "{application}" not found')
    return str(app["charm-name"]), str(app.get("charm-channel", ""))


# --- actions -------------------------------------------------------------------------------


def _load_params(path: Path) -> dict[str, Any]:
    document = _read_yaml(path, "params file")
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise errors.InvalidSpecError(f'params file "{path}" must be a mapping')
    return {str(k): v for k, v in document.items()}


async def _await_tasks(
    client: Client, model: str, tasks: list[api.ActionInfo], limit: float | None
) -> tuple[list[api.ActionInfo], bool]:
    """The tasks once finished; the flag says whether every one finished in time."""
    deadline = None if limit is None else time.monotonic() + limit
    done: list[api.ActionInfo] = []
    for task in tasks:
        current = task
        while current.status not in _run.FINISHED:
            remaining = 30.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                break
            current = await client.action(model, current.id, wait=min(remaining, 30.0))
        done.append(current)
    finished = all(t.status in _run.FINISHED for t in done)
    return done, finished


def _print_plain(tasks: list[api.ActionInfo]) -> None:
    for task in tasks:
        if len(tasks) > 1:
            click.echo(f"{task.unit}:")
        results = {
            k: v for k, v in task.results.items() if k not in {"return-code", "stdout", "stderr"}
        }
        if task.message:
            click.echo(f"message: {task.message}")
        if results:
            sys.stdout.write(yaml.safe_dump(results, sort_keys=True))
        stdout = task.results.get("stdout")
        if isinstance(stdout, str) and stdout:
            sys.stdout.write(stdout if stdout.endswith("\n") else stdout + "\n")
        stderr = task.results.get("stderr")
        if isinstance(stderr, str) and stderr:
            sys.stderr.write(stderr if stderr.endswith("\n") else stderr + "\n")


def run_tasks(
    go: Callable[[Client], Awaitable[tuple[list[api.ActionInfo], bool]]],
) -> tuple[list[api.ActionInfo], bool] | None:
    """`go`'s tasks; None when a unit, application or action named does not exist: as
    Juju 3.6, the error is printed and the command exits 0 with nothing on stdout (jubilant
    reads that as "not found")."""
    try:
        return _call(go)
    except errors.TaskTargetNotFoundError as exc:
        _output.err_console.print(f"ERROR {exc.message}", markup=False)
        return None


def _report_tasks(
    tasks: list[api.ActionInfo],
    finished: bool,
    output_format: str,
    failure_of: Callable[[Sequence[api.ActionInfo]], str | None],
) -> None:
    """Print the tasks' results in Juju's shape; exit 1 at the time limit (`timed out`) or
    when `failure_of` finds a task failed."""
    if not finished:
        waiting = ", ".join(f"unit {t.unit}" for t in tasks if t.status not in _run.FINISHED)
        raise errors.TemporaryError(f"timed out waiting for results from: {waiting}")
    document = {task.unit: _run.task_document(task) for task in tasks}
    if not _output.emit(document, output_format):
        _print_plain(tasks)
    failure = failure_of(tasks)
    if failure is not None:
        raise errors.PermanentError(failure)


@click.command("run")
@click.argument("target")
@click.argument("action")
@click.argument("params", nargs=-1)
@click.option("--params", "params_file", type=click.Path(path_type=Path), help="YAML params.")
@click.option(
    "--wait", "wait", help="How long to wait for results (Go duration; default: no limit)."
)
@click.option("--background", is_flag=True, help="Queue the action and return at once.")
@click.option("--string-args", is_flag=True, help="Do not parse KEY=VALUE values as YAML.")
@_output.format_option("plain", "json", "yaml")
def run(
    target: str,
    action: str,
    params: tuple[str, ...],
    params_file: Path | None,
    wait: str | None,
    background: bool,
    string_args: bool,
    output_format: str,
) -> None:
    """Run ACTION on UNIT[,UNIT…] (`app/leader` works) with KEY=VALUE parameters.

    Exits 1 when a task failed (`task failed` on stderr) or at the --wait limit
    (`timed out`).
    """
    units = [u for u in target.split(",") if u]
    if not units:
        raise errors.UsageError("no units given")
    base = _load_params(params_file) if params_file is not None else {}
    values = _run.parse_params(params, base, string_args=string_args)
    limit = _argv.parse_duration(wait) if wait else None
    if limit is not None and limit <= 0:
        limit = None
    model = _model()

    async def go(client: Client) -> tuple[list[api.ActionInfo], bool]:
        queued = await client.run_action(model, units, action, values)
        for task in queued:
            _output.err_console.print(f"Running task {task.id} on {task.unit}", markup=False)
        if background:
            return queued, True
        return await _await_tasks(client, model, queued, limit)

    ran = run_tasks(go)
    if ran is not None and not background:
        _report_tasks(*ran, output_format, _run.failure_message)


@click.command("show-task")
@click.argument("task_id")
@click.option("--wait", "wait", help="How long to wait for the task to finish (Go duration).")
@_output.format_option("plain", "json", "yaml")
def show_task(task_id: str, wait: str | None, output_format: str) -> None:
    """Show a task (an action run on a unit): status, log and results."""
    limit = _argv.parse_duration(wait) if wait else 0.0
    model = _model()

    async def go(client: Client) -> api.ActionInfo:
        task = await client.action(model, task_id)
        deadline = time.monotonic() + limit
        while task.status not in _run.FINISHED and (remaining := deadline - time.monotonic()) > 0:
            task = await client.action(model, task_id, wait=min(remaining, 30.0))
        return task

    task = _call(go)
    document = _run.task_document(task)
    if output_format == "plain":
        output_format = "yaml"
    _output.emit(document, output_format)


# --- model config --------------------------------------------------------------------------


@click.command("model-config")
@click.argument("settings", nargs=-1)
@click.option("--reset", multiple=True, help="Comma-separated keys to reset to default.")
@_output.format_option("tabular", "json", "yaml")
def model_config(settings: tuple[str, ...], reset: tuple[str, ...], output_format: str) -> None:
    """Show, get, set or reset model config (`automatically-retry-hooks`, `hook-fork-server`,
    `logging-config`, `update-status-hook-interval`)."""
    model = _model()
    key, values, reset_keys = _settings_change(settings, reset)
    if values or reset_keys:
        _call(lambda c: c.set_model_config(model, values, reset_keys))
        return
    document = _call(lambda c: c.get_model_config(model))
    if key is not None:
        if key not in document:
            raise errors.NotFoundError(f'unknown model config key "{key}"')
        value = document[key]["Value"]
        click.echo(str(value).lower() if isinstance(value, bool) else value)
        return
    if _output.emit(document, output_format):
        return
    table = _output._table("Attribute", "From", "Value")
    for key, entry in document.items():
        value = entry["Value"]
        table.add_row(
            key, entry["Source"], str(value).lower() if isinstance(value, bool) else value
        )
    _output.console.print(table)
