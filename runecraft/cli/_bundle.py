"""Bundles from the command line: validate-bundle, plan, apply, diff-bundle, export-bundle.

The CLI is the edge: it reads the bundle and its charms from disk, builds the model view
from the API, asks the pure planner for the changes and runs them through the client,
reporting each. `apply` checks everything it can before the first change (the bundle,
every charm, every change being supported, the expected model revision), so a bad bundle
changes nothing; a failure part-way says what was applied and what remains.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import yaml

from runecraft import bundles, charms, errors
from runecraft.cli import _argv, _output, _wait
from runecraft.cli._common import _model, _pack, _run
from runecraft.client import Client
from runecraft.schemas import api
from runecraft.schemas import bundle as schema
from runecraft.schemas import storage as storage_schema
from runecraft.schemas.constraints import format_constraints
from runecraft.settings import home_settings

__all__ = [
    "apply_bundle",
    "apply_command",
    "diff_bundle",
    "export_bundle",
    "plan_bundle",
    "plan_command",
    "validate_bundle",
]

EXIT_PENDING = 2
"""`rune plan` exit status when the model differs from the bundle."""

_OVERLAY = click.option(
    "--overlay",
    "overlays",
    multiple=True,
    type=click.Path(path_type=Path),
    help="An overlay applied after the bundle (repeatable, in order).",
)
_CHARM_DIR = click.option(
    "--charm-dir",
    "charm_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A local charm repository: charms named NAME are found as NAME/ or NAME.charm "
    "(repeatable; RUNECRAFT_CHARM_DIR is searched last).",
)
_PRUNE = click.option("--prune", is_flag=True, help="Also remove what the bundle does not declare.")


# --- reading -----------------------------------------------------------------------------


def load_bundle(path: Path, overlays: Sequence[Path]) -> schema.Bundle:
    """The merged, checked bundle; every problem is reported in one error."""
    try:
        return schema.load(path, list(overlays))
    except schema.BundleError as exc:
        raise errors.InvalidSpecError(str(exc)) from exc


def resolve_charms(
    bundle: schema.Bundle, charm_dirs: Sequence[Path]
) -> dict[str, bundles.ResolvedCharm]:
    """Where each application's charm is on disk; applications whose charm is nowhere
    local are left out (the plan reports them as to be fetched)."""
    search = [*charm_dirs]
    configured = home_settings().charm_dir
    if configured is not None:
        search.append(configured)
    found: dict[str, bundles.ResolvedCharm] = {}
    for name, spec in bundle.applications.items():
        ref = spec.charm_ref
        candidates: list[Path] = []
        if ref.source == "path" and ref.path is not None:
            candidates = [Path(ref.path)]
        else:
            for directory in search:
                candidates += [directory / ref.name, directory / f"{ref.name}.charm"]
        for candidate in candidates:
            if candidate.exists():
                found[name] = bundles.ResolvedCharm(
                    name=_charm_name(candidate), path=str(candidate)
                )
                break
    return found


def _charm_name(path: Path) -> str:
    if charms.classify(path) is charms.CharmForm.ARCHIVE:
        return charms.load_charm_archive(path.read_bytes()).meta.name
    return charms.load_charm_dir(path).meta.name


async def model_view(client: Client, model: str) -> bundles.ModelView:
    """The model as the planner sees it, read through the API."""
    status = await client.status(model)
    configs = {
        name: await client.get_config(model, name)
        for name, doc in status.get("applications", {}).items()
        if not doc.get("life")
    }
    settings = {
        name: (await client.application_settings(model, name)).model_dump() for name in configs
    }
    relations = [r.model_dump() for r in await client.relations(model)]
    return bundles.from_documents(status, configs, relations, settings)


def _plan(
    path: Path, overlays: Sequence[Path], charm_dirs: Sequence[Path], prune: bool, model: str
) -> tuple[schema.Bundle, dict[str, bundles.ResolvedCharm], bundles.Plan]:
    bundle = load_bundle(path, overlays)
    found = resolve_charms(bundle, charm_dirs)
    view = _run(lambda c: model_view(c, model))
    return bundle, found, bundles.plan(bundle, view, prune=prune, charms=found)


def _print_plan(plan: bundles.Plan) -> None:
    count = len(plan.changes)
    if not count:
        click.echo(f"Model {plan.model} (revision {plan.revision}) already matches the bundle.")
    else:
        click.echo(
            f"Plan for model {plan.model} (revision {plan.revision}): {count} change"
            + ("s" if count != 1 else "")
        )
        width = len(str(count))
        for index, change in enumerate(plan.changes, 1):
            note = bundles.unsupported(change, plan.cloud)
            suffix = "  [not supported yet]" if note else ""
            click.echo(f"  {index:>{width}}. {bundles.describe(change)}{suffix}")
    for warning in plan.warnings:
        _output.err_console.print(f"WARNING {warning}", markup=False)


# --- commands ----------------------------------------------------------------------------


@click.command("validate-bundle")
@click.argument("bundle", type=click.Path(path_type=Path))
@_OVERLAY
def validate_bundle(bundle: Path, overlays: tuple[Path, ...]) -> None:
    """Check a bundle and its overlays without any charm or controller (exit 1 on problems,
    each naming its path and reason)."""
    loaded = load_bundle(bundle, overlays)
    units = sum(a.num_units for a in loaded.applications.values())
    click.echo(
        f"{bundle}: valid ({len(loaded.applications)} applications, {units} units, "
        f"{len(loaded.machines)} machines, {len(loaded.relations)} relations)"
    )


@click.command("plan")
@click.argument("bundle", type=click.Path(path_type=Path))
@_OVERLAY
@_CHARM_DIR
@_PRUNE
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def plan_command(
    bundle: Path,
    overlays: tuple[Path, ...],
    charm_dirs: tuple[Path, ...],
    prune: bool,
    output_format: str,
) -> None:
    """Show the ordered changes that would take the model to the bundle.

    Exits 0 when nothing would change, 2 when changes are pending, 1 on error.
    """
    plan = plan_bundle(bundle, overlays, charm_dirs, prune=prune, output_format=output_format)
    if not plan.empty:
        sys.exit(EXIT_PENDING)


def plan_bundle(
    bundle: Path,
    overlays: Sequence[Path],
    charm_dirs: Sequence[Path],
    *,
    prune: bool = False,
    output_format: str = "text",
) -> bundles.Plan:
    _, _, plan = _plan(bundle, overlays, charm_dirs, prune, _model())
    if output_format == "json":
        _output.emit(plan.document(), "json")
    else:
        _print_plan(plan)
    return plan


@click.command("diff-bundle")
@click.argument("bundle", type=click.Path(path_type=Path))
@_OVERLAY
@_CHARM_DIR
def diff_bundle(bundle: Path, overlays: tuple[Path, ...], charm_dirs: tuple[Path, ...]) -> None:
    """Juju's diff-bundle: what differs between the bundle and the model (`rune plan
    --prune` lists the same as changes)."""
    loaded = load_bundle(bundle, overlays)
    found = resolve_charms(loaded, charm_dirs)
    view = _run(lambda c: model_view(c, _model()))
    plan = bundles.plan(loaded, view, prune=True, charms=found)
    click.echo(yaml.safe_dump(_diff_document(plan, view), sort_keys=True), nl=False)


def _diff_document(plan: bundles.Plan, view: bundles.ModelView) -> dict[str, Any]:
    """The plan in Juju's diff-bundle shape: per application what is missing or differs."""
    apps: dict[str, dict[str, Any]] = {}
    relations: dict[str, list[list[str]]] = {}
    for change in plan.changes:
        match change:
            case bundles.AddApplication():
                apps[change.application] = {"missing": "model"}
            case bundles.RemoveApplication():
                apps[change.application] = {"missing": "bundle"}
            case bundles.ChangeCharm():
                apps.setdefault(change.application, {})["charm"] = {
                    "bundle": change.charm,
                    "model": change.previous,
                }
            case bundles.SetConfig():
                options = apps.setdefault(change.application, {}).setdefault("options", {})
                for key, value in change.values.items():
                    options[key] = {"bundle": value, "model": change.previous.get(key)}
                for key in change.reset:
                    options[key] = {"bundle": None, "model": change.previous.get(key)}
            case bundles.AddUnit() if change.application in view.applications:
                entry = apps.setdefault(change.application, {})
                units = entry.setdefault("num_units", {"bundle": 0, "model": 0})
                current = len(view.applications[change.application].units)
                units["model"] = current
                units["bundle"] = max(units["bundle"], current) + 1
            case bundles.RemoveUnit():
                name = change.unit.rpartition("/")[0]
                entry = apps.setdefault(name, {})
                units = entry.setdefault(
                    "num_units", {"bundle": len(view.applications[name].units), "model": 0}
                )
                units["model"] = len(view.applications[name].units)
                units["bundle"] -= 1
            case bundles.AddRelation():
                relations.setdefault("bundle-additions", []).append(list(change.endpoints))
            case bundles.RemoveRelation():
                relations.setdefault("model-additions", []).append(list(change.endpoints))
            case _:
                pass
    document: dict[str, Any] = {}
    if apps:
        document["applications"] = apps
    if relations:
        document["relations"] = relations
    return document


@click.command("export-bundle")
@click.option("--filename", type=click.Path(path_type=Path), help="Write here, not stdout.")
def export_bundle(filename: Path | None) -> None:
    """Write the model as a bundle: applying it to an empty model and exporting again
    gives the same bundle."""
    view = _run(lambda c: model_view(c, _model()))
    text = schema.dump(bundles.export(view))
    if filename is None:
        click.echo(text, nl=False)
        return
    try:
        filename.write_text(text)
    except OSError as exc:
        raise errors.InvalidSpecError(f'cannot write "{filename}": {exc.strerror}') from exc
    _output.err_console.print(f"Bundle written to {filename}")


@click.command("apply")
@click.argument("bundle", type=click.Path(path_type=Path))
@_OVERLAY
@_CHARM_DIR
@_PRUNE
@click.option("--wait", "wait_settled", is_flag=True, help="Wait until the model settles.")
@click.option("--timeout", default="10m", show_default=True, help="Go duration, for --wait.")
@click.option(
    "--expect-revision",
    type=int,
    help="Refuse unless the model is still at this revision (the one `rune plan` showed).",
)
def apply_command(
    bundle: Path,
    overlays: tuple[Path, ...],
    charm_dirs: tuple[Path, ...],
    prune: bool,
    wait_settled: bool,
    timeout: str,
    expect_revision: int | None,
) -> None:
    """Converge the model to the bundle: validate everything first, then make the changes
    in order, reporting each. Applying the same bundle again changes nothing."""
    apply_bundle(
        bundle,
        overlays,
        charm_dirs,
        prune=prune,
        wait_settled=wait_settled,
        timeout=timeout,
        expect_revision=expect_revision,
    )


def apply_bundle(
    bundle: Path,
    overlays: Sequence[Path],
    charm_dirs: Sequence[Path],
    *,
    prune: bool = False,
    wait_settled: bool = False,
    timeout: str = "10m",
    expect_revision: int | None = None,
) -> None:
    limit = _argv.parse_duration(timeout)
    model = _model()
    _, found, plan = _plan(bundle, overlays, charm_dirs, prune, model)
    refused = [r for c in plan.changes if (r := bundles.unsupported(c, plan.cloud)) is not None]
    if refused:
        raise errors.InvalidSpecError(
            "cannot apply the bundle, nothing was changed:\n"
            + "\n".join(f"  {reason}" for reason in dict.fromkeys(refused))
        )
    if expect_revision is not None and plan.revision != expect_revision:
        raise errors.ConflictError(
            f"model {model} is at revision {plan.revision}, not {expect_revision}: it changed "
            "since the plan; plan again"
        )
    for warning in plan.warnings:
        _output.err_console.print(f"WARNING {warning}", markup=False)
    for change in plan.changes:
        if isinstance(change, bundles.AddApplication) and change.bindings:
            _output.err_console.print(
                f"WARNING applications.{change.application}.bindings: accepted but not "
                "used by the local substrate",
                markup=False,
            )
    packed = {
        c.path: _pack(Path(c.path))
        for c in plan.changes
        if isinstance(c, bundles.AddCharm) and c.path is not None
    }
    problems = []
    for change in plan.changes:
        if isinstance(change, bundles.AddApplication):
            path = found[change.application].path
            assert path is not None
            problems += _deploy_problems(change, packed[path].charm)
    if problems:
        raise errors.InvalidSpecError(
            "cannot apply the bundle, nothing was changed:\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    if plan.empty:
        click.echo(f"Model {model} already matches the bundle: nothing to do.")
    else:
        runner = _Runner(model, plan, found, packed, limit)
        _run(runner.run)
    if wait_settled:
        _run(lambda c: _wait_settled(c, model, limit, timeout))


def _deploy_problems(change: bundles.AddApplication, charm: charms.LoadedCharm) -> list[str]:
    """What the controller would refuse in a deploy, found before anything changes."""
    problems = []
    where = f"applications.{change.application}"
    try:
        charm.config.coerce(change.options)
    except ValueError as exc:
        problems.append(f"{where}.options: {exc}")
    for name, directive in sorted(change.storage.items()):
        if name not in charm.meta.storage:
            problems.append(f'{where}.storage.{name}: charm "{charm.name}" has no such storage')
        try:
            storage_schema.parse_directive(f"{name}={directive}")
        except errors.RunecraftError as exc:
            problems.append(f"{where}.storage.{name}: {exc.message}")
    return problems


class _Runner:
    """Runs a plan's changes in order through the client, one report line per change."""

    def __init__(
        self,
        model: str,
        plan: bundles.Plan,
        found: dict[str, bundles.ResolvedCharm],
        packed: dict[str, charms.PackedCharm],
        limit: float,
    ) -> None:
        self.model = model
        self.plan = plan
        self.found = found
        self.packed = packed
        self.deadline = time.monotonic() + limit
        self.uploaded: dict[str, str] = {}  # charm path -> sha256
        self.machine_makers: dict[str, str] = {}  # bundle machine -> the unit that made it
        self.machines: dict[str, str] = {}  # bundle machine -> model machine
        self.added: dict[str, list[str]] = {}  # application -> units added, in order

    async def run(self, client: Client) -> None:
        total = len(self.plan.changes)
        for index, change in enumerate(self.plan.changes):
            try:
                await self._one(client, change)
            except errors.RunecraftError as exc:
                done = [bundles.describe(c) for c in self.plan.changes[:index]]
                left = [bundles.describe(c) for c in self.plan.changes[index + 1 :]]
                lines = [
                    f"applying the bundle failed at change {index + 1} of {total}: "
                    f"{bundles.describe(change)}: {exc.message}",
                    f"applied ({len(done)}):",
                    *(f"  {d}" for d in done),
                    f"not applied ({len(left) + 1}):",
                    f"  {bundles.describe(change)}",
                    *(f"  {d}" for d in left),
                    "apply the bundle again to continue once the cause is fixed",
                ]
                raise type(exc)("\n".join(lines)) from exc
            _output.err_console.print(
                f"[{index + 1}/{total}] {bundles.describe(change)}", markup=False
            )

    async def _one(self, client: Client, change: bundles.Change) -> None:
        model = self.model
        match change:
            case bundles.AddCharm(path=str(path)):
                info = await client.upload_charm(self.packed[path].data)
                self.uploaded[path] = info.sha256
            case bundles.AddApplication():
                resolved = self.found[change.application]
                assert resolved.path is not None
                await client.deploy(
                    model,
                    api.DeployRequest(
                        application=change.application,
                        charm_sha256=self.uploaded[resolved.path],
                        num_units=0,
                        config=dict(change.options),
                        storage=dict(change.storage),
                        constraints=_constraint_items(change.constraints) or [],
                        trust=bool(change.trust),
                    ),
                )
            case bundles.SetConstraints():
                await client.set_application_settings(
                    model,
                    change.application,
                    constraints_items=_constraint_items(change.constraints) or [],
                )
            case bundles.SetTrust():
                await client.set_application_settings(model, change.application, trust=change.trust)
            case bundles.SetConfig():
                await client.set_config(
                    model, change.application, dict(change.values), list(change.reset)
                )
            case bundles.AddMachine():
                pass  # made by the first unit placed on it
            case bundles.AddUnit():
                to = await self._target(client, change)
                units = await client.add_units(model, change.application, 1, to)
                self.added.setdefault(change.application, []).extend(units)
                if to == [] and change.machine is not None:
                    self.machine_makers[change.machine] = units[0]
            case bundles.RemoveUnit():
                await client.remove_units(model, [change.unit])
            case bundles.AddRelation():
                await client.integrate(model, *change.endpoints)
            case bundles.RemoveRelation():
                await client.remove_relation(model, *change.endpoints)
            case bundles.RemoveApplication():
                await client.remove_application(model, change.application)
            case _:
                raise errors.InvalidSpecError(
                    bundles.unsupported(change, self.plan.cloud)
                    or "this change is not supported yet"
                )

    async def _target(self, client: Client, change: bundles.AddUnit) -> list[str]:
        """The `--to` of one unit; waits for a machine the plan made earlier if needed."""
        if change.container is not None:  # `lxd:N`: a new container beside machine N
            host = change.model_machine or self.machines.get(change.machine or "")
            return [f"{change.container}:{host}" if host else change.container]
        if change.model_machine is not None:
            return [change.model_machine]
        if change.colocate is not None:
            app, _, index = change.colocate.partition("/")
            return [await self._machine_of_nth(client, app, int(index))]
        if change.machine is None:
            return []
        if change.machine in self.machines:
            return [self.machines[change.machine]]
        maker = self.machine_makers.get(change.machine)
        if maker is None:
            return []  # this unit makes the machine
        machine = await self._machine_of(client, lambda doc: _unit_machine(doc, maker))
        self.machines[change.machine] = machine
        return [machine]

    async def _machine_of_nth(self, client: Client, app: str, index: int) -> str:
        return await self._machine_of(client, lambda doc: _nth_unit_machine(doc, app, index))

    async def _machine_of(self, client: Client, find: Any) -> str:
        """Long-polls status until `find` sees a machine (assigned by the controller)."""
        document = await client.status(self.model)
        while True:
            machine: str | None = find(document)
            if machine is not None:
                return machine
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise errors.TemporaryError("timed out waiting for a machine to be assigned")
            generation = int(document["model"].get("generation", -1))
            document = await client.status(
                self.model, after=generation, timeout=min(remaining, 10.0)
            )


def _constraint_items(constraints: dict[str, Any]) -> list[str] | None:
    return [format_constraints(constraints)] if constraints else None


def _unit_machine(status: dict[str, Any], unit: str) -> str | None:
    app = unit.rpartition("/")[0]
    doc = status.get("applications", {}).get(app, {}).get("units", {}).get(unit)
    if doc is None:
        raise errors.NotFoundError(f"unit {unit} disappeared while the bundle was applied")
    machine = doc.get("machine")
    return None if machine is None else str(machine)


def _nth_unit_machine(status: dict[str, Any], app: str, index: int) -> str | None:
    units = status.get("applications", {}).get(app, {}).get("units", {})
    alive = sorted(
        (name for name, doc in units.items() if not doc.get("life")),
        key=lambda n: int(n.rpartition("/")[2]),
    )
    if index >= len(alive):
        raise errors.NotFoundError(
            f"cannot place next to {app}/{index}: {app} has {len(alive)} unit(s)"
        )
    return _unit_machine(status, alive[index])


async def _wait_settled(client: Client, model: str, limit: float, timeout: str) -> None:
    """Like `rune wait`: until every unit is active and idle on the latest state."""
    deadline = time.monotonic() + limit
    document = await client.status(model)
    verdict = _wait.judge(document)
    with _output.err_console.status("waiting for the model to settle") as spinner:
        while verdict.state == "pending":
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.TemporaryError(
                    f"timed out after {timeout} waiting for model {model} to settle: "
                    f"{verdict.message}"
                )
            spinner.update(
                f"waiting: {verdict.units_ready}/{verdict.units_total} units ready — "
                f"{verdict.message}"
            )
            generation = int(document["model"].get("generation", -1))
            document = await client.status(model, after=generation, timeout=min(remaining, 10.0))
            verdict = _wait.judge(document)
    if verdict.state == "error":
        raise errors.PermanentError(verdict.message)
    _output.err_console.print(f"Model {model} is settled: {verdict.message}")
