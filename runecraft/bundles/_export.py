"""Export: the bundle that describes a model, so that applying it to an empty model and
exporting again gives the same bundle.

Model machines are renumbered 0, 1, ... in the order the planner makes them (applications
by name, units by number): bundle machine ids are symbolic, and this way the numbering
survives a round trip. A unit in a container on the host is `lxd:new` (a new container).
A k8s model exports as a Kubernetes bundle: no machines, no placements.
"""

from __future__ import annotations

from typing import Any

from runecraft.bundles._view import ModelView
from runecraft.schemas import constraints as constraints_schema
from runecraft.schemas.bundle import (
    ApplicationSpec,
    Bundle,
    Endpoint,
    MachineSpec,
    OfferSpec,
    Placement,
    RelationSpec,
    SaasSpec,
)

__all__ = ["export"]


def export(view: ModelView) -> Bundle:
    """The model's applications (a Charmhub charm with its channel and revision), units
    (each with its machine), config, offers, the offers it consumes (SAAS) and relations."""
    caas = view.type == "caas"
    renumber: dict[str, str] = {}
    for _, app in sorted(view.applications.items()) if not caas else ():
        for unit in app.sorted_units() if not app.dying else ():
            if unit.container is None and unit.machine is not None and unit.machine not in renumber:
                renumber[unit.machine] = str(len(renumber))
    applications: dict[str, ApplicationSpec] = {}
    for name, app in sorted(view.applications.items()):
        if app.dying:
            continue
        units = app.sorted_units()
        to = tuple(
            Placement(container="lxd", machine="new")
            if u.container == "lxd"
            else Placement(machine=renumber[u.machine] if u.machine is not None else "new")
            for u in (units if not caas else ())
        )
        applications[name] = ApplicationSpec(
            charm=app.charm,
            channel=app.channel,
            revision=app.revision,
            num_units=len(units),
            to=to if any(p.machine != "new" or p.container for p in to) else (),
            options=dict(sorted(app.config.items())),
            constraints=_bundle_constraints(app.constraints),
            trust=app.trust,
            offers={
                offer: OfferSpec(endpoints=endpoints)
                for offer, endpoints in sorted(app.offers.items())
            },
        )
    related = set(applications) | set(view.saas)
    relations = sorted(
        {
            RelationSpec.between(
                Endpoint(application=a, endpoint=ea), Endpoint(application=b, endpoint=eb)
            )
            for (a, ea), (b, eb) in (r.endpoints for r in view.relations)
            if a in related and b in related
        },
        key=str,
    )
    return Bundle(
        kind="kubernetes" if caas else "machine",
        applications=applications,
        machines={m: MachineSpec() for m in renumber.values()},
        relations=tuple(relations),
        saas={name: SaasSpec(url=url) for name, url in sorted(view.saas.items())},
    )


def _bundle_constraints(constraints: dict[str, Any]) -> dict[str, str]:
    """The bundle form (`mem: 4096M`) of normalised constraints."""
    text = constraints_schema.format_constraints(constraints)
    return dict(pair.split("=", 1) for pair in text.split())
