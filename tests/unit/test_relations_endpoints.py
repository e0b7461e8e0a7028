"""Juju's endpoint matching for `integrate` and `remove-relation`, as tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runecraft import errors
from runecraft.controller.services import _endpoints
from runecraft.controller.state import EndpointRecord, RelationRecord
from runecraft.schemas import charm as charm_schema
from tests.unit import _records as records


def meta(name: str, **sections: dict[str, object]) -> charm_schema.CharmMeta:
    return charm_schema.CharmMeta.model_validate({"name": name, **sections})


CHARMS = {
    "wordpress": meta(
        "wordpress",
        requires={"db": "mysql", "cache": {"interface": "memcache", "limit": 1}},
        peers={"cluster": "wp-peers"},
        provides={"website": "http"},
    ),
    "mysql": meta("mysql", provides={"db": "mysql", "admin": "mysql"}, peers={"ha": "mysql-ha"}),
    "memcached": meta("memcached", provides={"cache": "memcache"}),
    "haproxy": meta("haproxy", requires={"reverseproxy": "http"}),
    "ntp": meta("ntp", requires={"juju-info": {"interface": "juju-info", "scope": "container"}}),
    "monitor": meta("monitor", requires={"target": "juju-info", "website": "http"}),
    "plain": meta("plain"),
}
SUBORDINATE = {"ntp": True}


def endpoints(*apps: str) -> dict[str, list[EndpointRecord]]:
    return {app: _endpoints.charm_endpoints(app, CHARMS[app]) for app in apps}


ALL = endpoints(*CHARMS)


@pytest.mark.parametrize(
    ("first", "second", "key"),
    [
        pytest.param("wordpress", "memcached", "wordpress:cache memcached:cache", id="unique"),
        pytest.param("memcached", "wordpress", "wordpress:cache memcached:cache", id="reversed"),
        pytest.param("wordpress:db", "mysql:db", "wordpress:db mysql:db", id="both-named"),
        pytest.param("wordpress", "mysql:admin", "wordpress:db mysql:admin", id="one-named"),
        pytest.param("haproxy", "wordpress", "haproxy:reverseproxy wordpress:website", id="http"),
        pytest.param("ntp", "mysql", "ntp:juju-info mysql:juju-info", id="implicit-juju-info"),
        pytest.param(
            "monitor", "wordpress", "monitor:website wordpress:website", id="implicit-dropped"
        ),
        pytest.param(
            "monitor:target", "wordpress", "monitor:target wordpress:juju-info", id="implicit-named"
        ),
    ],
)
def test_integrate_finds_the_one_pair(first: str, second: str, key: str) -> None:
    pair = _endpoints.infer_endpoints(first, second, ALL, SUBORDINATE)
    assert _endpoints.relation_key(pair) == key
    assert pair[0].role == "requirer" and pair[1].role == "provider"
    assert pair[0].interface == pair[1].interface


@pytest.mark.parametrize(
    ("first", "second", "error", "message"),
    [
        pytest.param(
            "wordpress",
            "mysql",
            errors.InvalidSpecError,
            'ambiguous relation: "wordpress mysql" could refer to '
            '"wordpress:db mysql:admin"; "wordpress:db mysql:db"',
            id="ambiguous",
        ),
        pytest.param(
            "wordpress:db",
            "haproxy",
            errors.InvalidSpecError,
            'no relations found between "wordpress:db" and "haproxy"',
            id="no-match-interface",
        ),
        pytest.param(
            "plain",
            "memcached",
            errors.InvalidSpecError,
            'no relations found between "plain" and "memcached"',
            id="no-match-nothing-required",
        ),
        pytest.param(
            "plain:juju-info",
            "memcached",
            errors.InvalidSpecError,
            "no relations found",
            id="no-match-two-providers",
        ),
        pytest.param(
            "wordpress:cluster",
            "mysql",
            errors.InvalidSpecError,
            'endpoint "wordpress:cluster" is a peer relation',
            id="peer-endpoint",
        ),
        pytest.param(
            "wordpress:nope",
            "mysql",
            errors.NotFoundError,
            'application "wordpress" has no "nope" relation',
            id="unknown-endpoint",
        ),
        pytest.param(
            "ghost",
            "mysql",
            errors.NotFoundError,
            'application "ghost" not found',
            id="unknown-application",
        ),
        pytest.param(
            "wordpress",
            "wordpress",
            errors.InvalidSpecError,
            'cannot relate application "wordpress" to itself',
            id="self",
        ),
        pytest.param(
            "wordpress:",
            "mysql",
            errors.InvalidSpecError,
            'invalid endpoint "wordpress:"',
            id="empty-endpoint",
        ),
        pytest.param(
            "Word_Press",
            "mysql",
            errors.InvalidSpecError,
            'invalid application name "Word_Press"',
            id="bad-application-name",
        ),
    ],
)
def test_integrate_refuses(
    first: str, second: str, error: type[errors.RunecraftError], message: str
) -> None:
    with pytest.raises(error) as caught:
        _endpoints.infer_endpoints(first, second, ALL, SUBORDINATE)
    assert message in caught.value.message


def test_container_scope_needs_a_subordinate() -> None:
    pair = _endpoints.infer_endpoints("ntp", "plain", ALL, SUBORDINATE)
    assert _endpoints.relation_key(pair) == "ntp:juju-info plain:juju-info"
    with pytest.raises(errors.InvalidSpecError, match="no relations found"):
        _endpoints.infer_endpoints("ntp", "mysql", ALL, {"ntp": False})


def test_charm_endpoints_include_juju_info_and_limits() -> None:
    found = {e.endpoint: e for e in _endpoints.charm_endpoints("wordpress", CHARMS["wordpress"])}
    assert set(found) == {"db", "cache", "cluster", "website", "juju-info"}
    assert (found["juju-info"].role, found["juju-info"].interface) == ("provider", "juju-info")
    assert found["cache"].relation_limit == 1
    assert found["db"].relation_limit is None
    assert found["cluster"].role == "peer"


def _ep(app: str, name: str, limit: int | None = None, relation_id: int = 0) -> EndpointRecord:
    return records.endpoint(relation_id, app, name, relation_limit=limit)


@pytest.mark.parametrize(
    ("limit", "existing", "refused"),
    [
        (None, 5, False),
        (0, 5, False),
        (1, 0, False),
        (1, 1, True),
        (2, 1, False),
        (2, 2, True),
    ],
)
def test_limits(limit: int | None, existing: int, refused: bool) -> None:
    new = [_ep("wordpress", "cache", limit)]
    used = [_ep("wordpress", "cache", limit, i) for i in range(existing)]
    used.append(_ep("wordpress", "db", None, 99))  # other endpoints do not count
    if refused:
        with pytest.raises(
            errors.ConflictError,
            match=f'cannot add relation "k": establishing a new relation for wordpress:cache '
            f"would exceed its maximum relation limit of {limit}",
        ):
            _endpoints.check_limits(new, used, "k")
    else:
        _endpoints.check_limits(new, used, "k")


def _relation(
    number: int, key: str, *eps: tuple[str, str]
) -> tuple[RelationRecord, list[EndpointRecord]]:
    return records.relation(number, key), [_ep(app, name, relation_id=number) for app, name in eps]


RELATIONS = [
    _relation(0, "wordpress:cluster", ("wordpress", "cluster")),
    _relation(1, "wordpress:db mysql:db", ("wordpress", "db"), ("mysql", "db")),
    _relation(2, "wordpress:db mysql:admin", ("wordpress", "db"), ("mysql", "admin")),
    _relation(3, "wordpress:cache memcached:cache", ("wordpress", "cache"), ("memcached", "cache")),
]


@pytest.mark.parametrize(
    ("names", "found"),
    [
        (["wordpress", "memcached"], 3),
        (["memcached:cache", "wordpress"], 3),
        (["mysql:admin", "wordpress"], 2),
        (["wordpress:db", "mysql:db"], 1),
        (["2"], 2),
    ],
)
def test_find_relation(names: list[str], found: int) -> None:
    relation, _ = _endpoints.find_relation(names, RELATIONS)
    assert relation.id == found


@pytest.mark.parametrize(
    ("names", "error", "message"),
    [
        (["wordpress", "mysql"], errors.InvalidSpecError, "ambiguous relation"),
        (["wordpress", "haproxy"], errors.NotFoundError, 'relation matching "wordpress haproxy"'),
        (["wordpress:cache", "mysql"], errors.NotFoundError, "not found"),
        (["7"], errors.NotFoundError, "relation 7 not found"),
        (["0"], errors.InvalidSpecError, "relation 0 is a peer relation"),
        (["wordpress"], errors.UsageError, "give a relation id"),
    ],
)
def test_find_relation_refuses(
    names: list[str], error: type[errors.RunecraftError], message: str
) -> None:
    with pytest.raises(error) as caught:
        _endpoints.find_relation(names, RELATIONS)
    assert message in caught.value.message


@given(st.permutations(["wordpress:db", "mysql:db"]), st.booleans())
def test_relation_key_puts_the_requirer_first(order: list[str], _: bool) -> None:
    pair = _endpoints.infer_endpoints(order[0], order[1], ALL, SUBORDINATE)
    assert _endpoints.relation_key(pair) == _endpoints.relation_key(pair[::-1])
    assert _endpoints.relation_key(pair).startswith("wordpress:db ")
