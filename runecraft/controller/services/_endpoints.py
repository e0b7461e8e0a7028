"""Which endpoints `integrate` and `remove-relation` mean: Juju's matching, as pure functions.

`integrate A[:ep] B[:ep]` pairs a provider with a requirer of the same interface (every
charm implicitly provides `juju-info`); when several pairs fit, pairs using the implicit
endpoint are dropped, and if that does not leave exactly one the request is ambiguous. Keys
name a relation the way Juju does: requirer first, then provider, as `app:endpoint`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from runecraft import errors
from runecraft.controller.services import _names
from runecraft.controller.state import EndpointRecord, RelationRecord
from runecraft.schemas import charm as charm_schema

__all__ = [
    "charm_endpoints",
    "check_limits",
    "find_relation",
    "infer_endpoints",
    "parse_endpoint",
    "relation_key",
]

_ROLE_ORDER = {"requirer": 0, "provider": 1, "peer": 2}
_COUNTERPART = {"provider": "requirer", "requirer": "provider"}


def parse_endpoint(text: str) -> tuple[str, str | None]:
    """`app` or `app:endpoint`."""
    application, sep, endpoint = text.partition(":")
    if not application or (sep and not endpoint) or ":" in endpoint:
        raise errors.InvalidSpecError(
            f'invalid endpoint "{text}": expected APPLICATION or APPLICATION:ENDPOINT'
        )
    _names.check_application_name(application)
    if endpoint and not charm_schema.ENDPOINT_NAME_RE.match(endpoint):
        raise errors.InvalidSpecError(
            f'invalid endpoint "{text}": endpoint name {endpoint!r} not valid'
        )
    return application, endpoint or None


def charm_endpoints(
    application: str, meta: charm_schema.CharmMeta, model_uuid: str = ""
) -> list[EndpointRecord]:
    """Every endpoint of an application's charm (with the implicit `juju-info`), by name."""
    return [
        EndpointRecord(
            model_uuid=model_uuid,
            relation_id=-1,
            application=application,
            endpoint=name,
            role=spec.role,
            interface=spec.interface,
            scope=spec.scope,
            relation_limit=spec.limit or None,
        )
        for name, spec in sorted(meta.endpoints.items())
    ]


def relation_key(endpoints: Sequence[EndpointRecord]) -> str:
    """Juju's relation key: requirer before provider, then by name."""
    ordered = sorted(endpoints, key=lambda e: (_ROLE_ORDER.get(e.role, 3), str(e)))
    return " ".join(str(e) for e in ordered)


def _is_implicit(endpoint: EndpointRecord) -> bool:
    implicit = charm_schema.IMPLICIT_ENDPOINT
    return (
        endpoint.endpoint == implicit.name
        and endpoint.interface == implicit.interface
        and endpoint.role == implicit.role
    )


def _can_relate(a: EndpointRecord, b: EndpointRecord, subordinate: Mapping[str, bool]) -> bool:
    if (
        a.application == b.application
        or a.interface != b.interface
        or _COUNTERPART.get(a.role) != b.role
    ):
        return False
    if "container" in (a.scope, b.scope):
        return subordinate.get(a.application, False) or subordinate.get(b.application, False)
    return True


def _side(
    text: str, endpoints: Mapping[str, Sequence[EndpointRecord]]
) -> tuple[str, list[EndpointRecord]]:
    application, name = parse_endpoint(text)
    available = endpoints.get(application)
    if available is None:
        raise errors.NotFoundError(f'application "{application}" not found')
    if name is None:
        return application, [e for e in available if e.role != "peer"]
    chosen = [e for e in available if e.endpoint == name]
    if not chosen:
        raise errors.NotFoundError(f'application "{application}" has no "{name}" relation')
    if chosen[0].role == "peer":
        raise errors.InvalidSpecError(
            f'endpoint "{application}:{name}" is a peer relation: peer relations are made '
            "automatically and cannot be integrated"
        )
    return application, chosen


def infer_endpoints(
    first: str,
    second: str,
    endpoints: Mapping[str, Sequence[EndpointRecord]],
    subordinate: Mapping[str, bool] | None = None,
) -> tuple[EndpointRecord, EndpointRecord]:
    """The one pair of endpoints `integrate first second` means (requirer first).

    Args:
        first: `app` or `app:endpoint`.
        second: `app` or `app:endpoint`.
        endpoints: every endpoint of each application named, by application.
        subordinate: which applications are subordinate (container scope needs one).
    """
    app_a, side_a = _side(first, endpoints)
    app_b, side_b = _side(second, endpoints)
    if app_a == app_b:
        raise errors.InvalidSpecError(
            f'cannot relate application "{app_a}" to itself: peer relations are made automatically'
        )
    subs = subordinate or {}
    pairs = [(a, b) for a in side_a for b in side_b if _can_relate(a, b, subs)]
    if not pairs:
        raise errors.InvalidSpecError(
            f'no relations found between "{first}" and "{second}": no provider and requirer '
            "of the same interface"
        )
    if len(pairs) > 1:
        explicit = [p for p in pairs if not any(_is_implicit(e) for e in p)]
        if len(explicit) != 1:
            keys = sorted(f'"{relation_key(p)}"' for p in pairs)
            raise errors.InvalidSpecError(
                f'ambiguous relation: "{first} {second}" could refer to {"; ".join(keys)}'
            )
        pairs = explicit
    a, b = pairs[0]
    return (a, b) if a.role == "requirer" else (b, a)


def check_limits(
    new: Sequence[EndpointRecord], existing: Sequence[EndpointRecord], key: str
) -> None:
    """Refuse a relation that would take an endpoint past its `limit` (0 or none: no limit)."""
    for endpoint in new:
        limit = endpoint.relation_limit
        if not limit:
            continue
        used = sum(
            1
            for other in existing
            if other.application == endpoint.application and other.endpoint == endpoint.endpoint
        )
        if used >= limit:
            raise errors.ConflictError(
                f'cannot add relation "{key}": establishing a new relation for {endpoint} '
                f"would exceed its maximum relation limit of {limit}"
            )


def _matches(spec: tuple[str, str | None], endpoint: EndpointRecord) -> bool:
    application, name = spec
    return endpoint.application == application and name in (None, endpoint.endpoint)


def find_relation(
    names: Sequence[str],
    relations: Sequence[tuple[RelationRecord, Sequence[EndpointRecord]]],
) -> tuple[RelationRecord, Sequence[EndpointRecord]]:
    """The relation `remove-relation` means: a relation id, or two `app[:endpoint]`."""
    if len(names) == 1 and names[0].isdigit():
        number = int(names[0])
        for relation, endpoints in relations:
            if relation.id == number:
                if len(endpoints) == 1:
                    raise errors.InvalidSpecError(
                        f"relation {number} is a peer relation: it ends with its application"
                    )
                return relation, endpoints
        raise errors.NotFoundError(f"relation {number} not found")
    if len(names) != 2:
        raise errors.UsageError("give a relation id, or the two endpoints of the relation")
    specs = [parse_endpoint(n) for n in names]
    query = " ".join(names)
    found = []
    for relation, endpoints in relations:
        if len(endpoints) != 2:
            continue
        a, b = endpoints
        if (_matches(specs[0], a) and _matches(specs[1], b)) or (
            _matches(specs[0], b) and _matches(specs[1], a)
        ):
            found.append((relation, endpoints))
    if not found:
        raise errors.NotFoundError(f'relation matching "{query}" not found')
    if len(found) > 1:
        keys = "; ".join(f'"{r.key}"' for r, _ in found)
        raise errors.InvalidSpecError(f'ambiguous relation: "{query}" could refer to {keys}')
    return found[0]
