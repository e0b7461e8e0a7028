"""Bundles from the command line: validate-bundle, plan, apply, diff-bundle, export-bundle.

The CLI is the edge: it reads the bundle and its overlays and finds charms on disk; the
controller plans the bundle against the model and applies it in one transaction. `apply`
uploads the charms the plan needs (content-addressed, so uploading again is harmless) and
then sends the bundle once: every change is made, or on any error none.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import yaml

from runecraft import bundles, charms, errors
from runecraft.cli import _argv, _output, _status, _wait
from runecraft.cli._common import _model, _pack, _run
from runecraft.client import Client
from runecraft.schemas import api
from runecraft.schemas import bundle as schema
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


def _names_charmhub(bundle: schema.Bundle, request: api.BundleRequest) -> bool:
    """Whether an application's charm may have to come from Charmhub, to deploy it or to
    refresh it to the channel or revision the bundle asks (so a plan is asked first)."""
    return any(
        spec.charm_ref.source == "charmhub"
        and (app not in request.charms or spec.channel is not None or spec.revision is not None)
        for app, spec in bundle.applications.items()
    )


def with_charmhub(
    bundle: schema.Bundle, request: api.BundleRequest, plan: bundles.Plan
) -> api.BundleRequest | None:
    """The request with the charms the plan says are neither on disk nor held by the
    controller, and those of the refreshes it plans, fetched from Charmhub (by name,
    channel, revision and base, as Juju resolves a bundle's charms) into the cache; None
    when the plan needs none."""
    missing = {
        c.source
        for c in plan.changes
        if isinstance(c, bundles.AddCharm) and c.path is None and c.sha256 is None
    }
    followed = {
        c.application: c.previous_channel or ""
        for c in plan.changes
        if isinstance(c, bundles.RefreshCharm)
    }
    wanted = {
        app: spec
        for app, spec in bundle.applications.items()
        if app in followed
        or (
            spec.charm in missing
            and spec.charm_ref.source == "charmhub"
            and app not in request.charms
        )
    }
    if not wanted:
        return None
    charms = dict(request.charms)
    for app, spec in wanted.items():
        charms[app] = _fetched(bundle, app, spec, followed.get(app, ""))
    return request.model_copy(update={"charms": charms})


def _fetched(
    bundle: schema.Bundle, app: str, spec: schema.ApplicationSpec, followed: str
) -> api.BundleCharm:
    """The application's charm fetched from Charmhub, with the origin the controller
    records (`followed`: the channel it follows now, kept when the bundle names none)."""
    from runecraft.cli import _charmhub  # noqa: PLC0415 (only bundles naming Charmhub charms)

    try:
        release, path = _charmhub.fetch(
            spec.charm_ref.name,
            channel=spec.channel or followed or None,
            revision=spec.revision,
            base=spec.base or bundle.default_base,
            require_channel=False,
        )
    except errors.RunecraftError as exc:  # name the application; nothing was applied
        raise type(exc)(
            f'applications.{app}.charm "{spec.charm}": {exc.message}; nothing was changed'
        ) from exc
    return api.BundleCharm(
        name=_charm_name(path),
        path=str(path),
        origin=_charmhub.charm_origin(release, spec.channel, followed),
    )


def _charm_name(path: Path) -> str:
    if charms.classify(path) is charms.CharmForm.ARCHIVE:
        return charms.load_charm_archive(path.read_bytes()).meta.name
    return charms.load_charm_dir(path).meta.name


def bundle_request(
    bundle: schema.Bundle, found: dict[str, bundles.ResolvedCharm], *, prune: bool
) -> api.BundleRequest:
    """The request that plans or applies `bundle` with the charms found on disk."""
    return api.BundleRequest(
        bundle=schema.dump(bundle),
        charms={
            app: api.BundleCharm(name=charm.name, path=charm.path, sha256=charm.sha256)
            for app, charm in found.items()
            if charm.path is not None
        },
        prune=prune,
    )


def _plan(
    path: Path, overlays: Sequence[Path], charm_dirs: Sequence[Path], prune: bool, model: str
) -> tuple[bundles.Plan, bundles.ModelView]:
    bundle = load_bundle(path, overlays)
    request = bundle_request(bundle, resolve_charms(bundle, charm_dirs), prune=prune)
    # A plan fetches nothing: the Charmhub charms it needs are listed as to be fetched.
    response = _run(lambda c: c.plan_bundle(model, request))
    return bundles.Plan.model_validate(response.plan), bundles.ModelView.model_validate(
        response.view
    )


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

    Exits as Terraform's `-detailed-exitcode`: 0 when nothing would change, 2 when changes
    are pending, 1 on any error (a mistyped option included).
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
    plan, _ = _plan(bundle, overlays, charm_dirs, prune, _model())
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
    plan, view = _plan(bundle, overlays, charm_dirs, True, _model())
    click.echo(yaml.safe_dump(_diff_document(plan, view), sort_keys=True), nl=False)


def _origin_diff(change: bundles.RefreshCharm) -> dict[str, Any]:
    """The channel and revision a refresh moves, as diff-bundle shows them."""
    pairs = {
        "channel": (change.channel, change.previous_channel),
        "revision": (change.revision, change.previous_revision),
    }
    return {
        key: {"bundle": bundle, "model": model}
        for key, (bundle, model) in pairs.items()
        if bundle is not None and bundle != model
    }


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
            case bundles.RefreshCharm():
                apps.setdefault(change.application, {}).update(_origin_diff(change))
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
    model = _model()
    text = _run(lambda c: c.export_bundle(model))
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
    loaded = load_bundle(bundle, overlays)
    request = bundle_request(loaded, resolve_charms(loaded, charm_dirs), prune=prune)
    request = request.model_copy(update={"expect_revision": expect_revision})
    if _names_charmhub(loaded, request):
        planned = _run(lambda c: c.plan_bundle(model, request))
        request = (
            with_charmhub(loaded, request, bundles.Plan.model_validate(planned.plan)) or request
        )
    response = _run(lambda c: _apply(c, model, request))
    plan = bundles.Plan.model_validate(response.plan)
    for warning in _warnings(plan):
        _output.err_console.print(f"WARNING {warning}", markup=False)
    if plan.empty:
        click.echo(f"Model {model} already matches the bundle: nothing to do.")
    total = len(plan.changes)
    for index, change in enumerate(plan.changes, 1):
        _output.err_console.print(f"[{index}/{total}] {bundles.describe(change)}", markup=False)
    if wait_settled:
        _status.report_settled(model, _run(lambda c: _wait_settled(c, model, limit, timeout)))


async def _apply(client: Client, model: str, request: api.BundleRequest) -> api.BundleResponse:
    """Upload the charms the plan needs, then apply the bundle in one request."""
    planned = bundles.Plan.model_validate((await client.plan_bundle(model, request)).plan)
    needed = {c.path for c in planned.changes if isinstance(c, bundles.AddCharm) and c.path}
    needed |= {
        request.charms[c.application].path
        for c in planned.changes
        if isinstance(c, bundles.RefreshCharm) and c.application in request.charms
    }
    refused = any(bundles.unsupported(c, planned.cloud) for c in planned.changes)
    uploaded: dict[str, str] = {}
    for path in sorted(needed) if not refused else ():
        uploaded[path] = (await client.upload_charm(_pack(Path(path)).data, model)).sha256
    charms = {
        app: charm.model_copy(update={"sha256": uploaded.get(charm.path)})
        for app, charm in request.charms.items()
    }
    return await client.apply_bundle(model, request.model_copy(update={"charms": charms}))


def _warnings(plan: bundles.Plan) -> list[str]:
    bindings = [
        f"applications.{c.application}.bindings: accepted but not used by the local substrate"
        for c in plan.changes
        if isinstance(c, bundles.AddApplication) and c.bindings
    ]
    return [*plan.warnings, *bindings]


async def _wait_settled(client: Client, model: str, limit: float, timeout: str) -> _wait.Verdict:
    """Like `rune wait`: until every unit is active and idle on the latest state."""
    with _output.err_console.status("waiting for the model to settle") as spinner:
        return await _status.settle(client, model, (), limit, timeout, spinner.update)
