"""Merging documents with Juju's overlay rules, checking the result, building the model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from runecraft.schemas._bundle_model import (
    _MAP_FIELDS,
    ApplicationSpec,
    Bundle,
    BundleError,
    MachineSpec,
    Placement,
    SaasSpec,
    _endpoint_key,
    _parse_charm,
    _plural,
    _Problems,
)
from runecraft.schemas._bundle_reader import (
    _Part,
    _Relation,
)
from runecraft.schemas.problems import location, reason

# --- merging --------------------------------------------------------------------------


@dataclasses.dataclass
class _Merged:
    """The bundle as the documents read so far make it (see the module docstring)."""

    kind: str
    base_source: str = ""
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    default_base: str | None = None
    applications: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    saas: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    machines: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    machines_source: str = ""
    relations: list[_Relation] = dataclasses.field(default_factory=list)
    broken: set[str] = dataclasses.field(default_factory=set)

    def apply(self, part: _Part) -> None:
        if part.is_base:
            self.base_source = part.source
            self.machines_source = part.source
            self.meta = part.meta
        self.broken |= part.broken
        for name, app in (part.applications or {}).items():
            if app is None:
                self.applications.pop(name, None)
                self.remove_relations(name)
                continue
            target = self.applications.setdefault(name, {"_invalid": set(), "_from": {}})
            _merge_application(target, app, part.source)
        for name, saas in (part.saas or {}).items():
            if saas is None:
                self.saas.pop(name, None)
                self.remove_relations(name)
                continue
            entry = self.saas.setdefault(name, {})
            entry.update(saas)
            entry["_from"] = part.source
        if part.default_base is not None:
            self.default_base = part.default_base
        self.relations.extend(part.relations)
        if part.machines is not None:
            self.machines = part.machines
            self.machines_source = part.source

    def remove_relations(self, name: str) -> None:
        self.relations = [
            r for r in self.relations if name not in {e.application for e in r.spec.endpoints}
        ]


def _merge_application(target: dict[str, Any], overlay: dict[str, Any], source: str) -> None:
    """Merge one document's application into the merged one, by key presence (Juju)."""
    target["_invalid"] |= overlay["_invalid"]
    for key, value in overlay.items():
        if key.startswith("_"):
            continue
        target["_from"][key] = source
        if key not in _MAP_FIELDS:
            target[key] = value
        elif not value:
            target[key] = {}
        else:
            merged = dict(target.get(key, {}))
            for item, item_value in value.items():
                if item_value is None:
                    merged.pop(item, None)
                else:
                    merged[item] = item_value
            target[key] = merged


# --- checking the merged bundle -------------------------------------------------------


def _verify(merged: _Merged, problems: _Problems) -> None:
    """The checks that need the whole bundle: references, counts, clashes."""
    apps = merged.applications
    if not apps and "applications" not in merged.broken:
        problems.add(merged.base_source, "applications", "at least one application is required")
    referenced: set[str] = set()
    placements_known = True
    offer_owner: dict[str, str] = {}
    for name, app in apps.items():
        invalid: set[str] = app["_invalid"]
        if "*" in invalid:
            placements_known = False
            continue
        origin: dict[str, str] = app["_from"]
        path = f"applications.{name}"

        def add(
            field: str, message: str, *, origin: dict[str, str] = origin, path: str = path
        ) -> None:
            problems.add(origin.get(field, merged.base_source), f"{path}.{field}", message)

        if app.get("charm") is None and "charm" not in invalid:
            add("charm", "is required")
        _verify_revision(app, invalid, add)
        if "to" in invalid:
            placements_known = False
        elif merged.kind == "machine":
            referenced |= _verify_placements(name, app, invalid, apps, merged, problems)
        if app.get("expose") and app.get("exposed_endpoints"):
            add(
                "exposed_endpoints",
                "cannot be combined with expose: true (an older controller would expose every"
                " endpoint to 0.0.0.0/0)",
            )
        for offer in app.get("offers", {}):
            if offer in offer_owner:
                add("offers", f'offer "{offer}" is also made by application "{offer_owner[offer]}"')
            offer_owner.setdefault(offer, name)
    _verify_names(merged, problems)
    _verify_machines(merged, referenced, placements_known, problems)


def _verify_names(merged: _Merged, problems: _Problems) -> None:
    """SAAS names do not clash with applications; relations name what the bundle has."""
    apps = merged.applications
    for name, entry in merged.saas.items():
        if name in apps:
            problems.add(
                entry.get("_from", merged.base_source),
                f"saas.{name}",
                f'"{name}" is also an application; SAAS and application names must differ',
            )
    for relation in merged.relations:
        for end in relation.spec.endpoints:
            if end.application not in apps and end.application not in merged.saas:
                problems.add(
                    relation.source,
                    relation.path,
                    f'application "{end.application}" is not in the bundle',
                )


def _verify_revision(
    app: dict[str, Any], invalid: set[str], add: Callable[[str, str], None]
) -> None:
    charm = app.get("charm")
    revision = app.get("revision")
    if charm is None or revision is None or "charm" in invalid:
        return
    ref = _parse_charm(charm)
    if isinstance(ref, str):
        return
    if ref.revision is not None:
        add("revision", f'the charm URL "{charm}" already gives revision {ref.revision}')
    elif ref.source == "charmhub" and not app.get("channel"):
        add("revision", "needs a channel too (Juju requires one, for later upgrades)")


def _verify_placements(
    name: str,
    app: dict[str, Any],
    invalid: set[str],
    apps: dict[str, dict[str, Any]],
    merged: _Merged,
    problems: _Problems,
) -> set[str]:
    """Check one application's `to:` and return the machine ids it refers to."""
    source = app["_from"].get("to", merged.base_source)
    path = f"applications.{name}.to"
    placements: tuple[Placement, ...] = app.get("to", ())
    units = app.get("num_units", 0)
    if len(placements) > units and "num_units" not in invalid:
        problems.add(
            source, path, f"{_plural(len(placements), 'placement')} for {_plural(units, 'unit')}"
        )
    referenced: set[str] = set()
    for index, placement in enumerate(placements):
        where = f"{path}[{index}]"
        if placement.machine is not None and placement.machine != "new":
            if placement.machine in merged.machines:
                referenced.add(placement.machine)
            elif "machines" not in merged.broken:
                problems.add(
                    source, where, f'machine "{placement.machine}" is not defined in machines'
                )
        elif placement.application is not None:
            target = apps.get(placement.application)
            if target is None:
                problems.add(
                    source, where, f'application "{placement.application}" is not in the bundle'
                )
            elif (
                placement.unit is not None
                and "num_units" not in target["_invalid"]
                and placement.unit >= target.get("num_units", 0)
            ):
                problems.add(
                    source,
                    where,
                    f"unit {placement.application}/{placement.unit} does not exist: application"
                    f' "{placement.application}" has {_plural(target.get("num_units", 0), "unit")}',
                )
    return referenced


def _verify_machines(
    merged: _Merged, referenced: set[str], placements_known: bool, problems: _Problems
) -> None:
    if merged.kind == "kubernetes":
        if merged.machines:
            problems.add(
                merged.machines_source, "machines", "a Kubernetes bundle cannot have machines"
            )
        return
    if not placements_known:
        return
    for machine_id in merged.machines:
        if machine_id not in referenced:
            problems.add(
                merged.machines_source,
                f"machines.{machine_id}",
                "is not referred to by any placement (to:); Juju refuses unused machines",
            )


# --- building the model ---------------------------------------------------------------


def _build(merged: _Merged, problems: _Problems) -> Bundle:
    """The frozen `Bundle`; the data is already checked, so failures here are our bugs."""
    try:
        return Bundle(
            kind="kubernetes" if merged.kind == "kubernetes" else "machine",
            name=merged.meta.get("name"),
            description=merged.meta.get("description"),
            docs=merged.meta.get("docs"),
            issues=merged.meta.get("issues"),
            source=merged.meta.get("source"),
            website=merged.meta.get("website"),
            tags=merged.meta.get("tags", ()),
            default_base=merged.default_base,
            applications={
                name: ApplicationSpec(**_public(app)) for name, app in merged.applications.items()
            },
            machines={mid: MachineSpec(**machine) for mid, machine in merged.machines.items()},
            relations=tuple(
                sorted(
                    {r.spec for r in merged.relations},
                    key=lambda spec: tuple(_endpoint_key(e) for e in spec.endpoints),
                )
            ),
            saas={name: SaasSpec(url=entry["url"]) for name, entry in merged.saas.items()},
        )
    except ValidationError as exc:
        for error in exc.errors():
            problems.add(merged.base_source, location(error), reason(error))
        raise BundleError(problems.items) from None


def _public(app: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in app.items() if not key.startswith("_")}
