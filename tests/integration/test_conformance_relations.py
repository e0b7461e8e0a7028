"""Conformance: the relation lifecycle of Juju 3.6, seen by real ops and bash charms.

One test per charm flavour walks a provider (2 units) and a requirer (2 units) through
deploy → integrate → add-unit → remove the provider's leader → remove-relation, and after
each `rune wait` holds what every unit recorded (tests/charms, `_conformance`) against
charm-contract §3.3, §6, §7 and docs/runtime-contract.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration import _conformance as c
from tests.integration.conftest import Rune


@pytest.mark.parametrize("flavour", ["ops", "bash"])
def test_relation_lifecycle(rune: Rune, tmp_path: Path, flavour: str) -> None:
    pair = c.PAIRS[flavour]
    prov, req = pair.provider, pair.requirer
    prov_ep, req_ep = pair.provider_endpoint, pair.requirer_endpoint
    rec = c.Recorder(tmp_path / "events")
    rune("bootstrap")
    c.deploy(rune, prov, rec.directory, units=2)
    c.deploy(rune, req, rec.directory, units=2)
    c.settle(rune)

    # -- New units (§3.3): install → peers-relation-created → leader-elected |
    # leader-settings-changed → config-changed → start; then the peer joins.
    status = rune.status()
    for app in (prov, req):
        leader = c.leader_of(status, app)
        units = c.unit_names(status, app)
        assert len(units) == 2
        for unit in units:
            events = rec.events(unit)
            c.check_new_unit(events)
            peers = c.only_trace(events, c.PEERS)
            assert peers.members == [u for u in units if u != unit]
            assert c.workload(status, unit) == {"current": "active", "message": "not related"}
            app_changes = peers.app_changes()
            if unit == leader:
                # runtime-contract: the leader's own peer app-bag write is no change to it.
                assert not app_changes, c.describe(peers.events)
            else:
                # The leader's peer app bag reached the follower as an app-level -changed.
                assert app_changes, c.describe(peers.events)
                assert (app_changes[-1].view or {}).get("app") == {"leader": leader}
                if flavour == "bash":
                    # leader-set by the leader → leader-settings-changed with its value.
                    settings = [e for e in events if e.name == "leader-settings-changed"]
                    assert (settings[-1].data or {}).get("leader-settings") == {"leader": leader}
    provider_units = c.unit_names(status, prov)
    requirer_units = c.unit_names(status, req)

    # -- Integrate: on every unit of both sides, created → joined X → changed X for each
    # remote unit, plus an app-level -changed carrying the remote leader's app bag.
    mark = rec.mark()
    rune("integrate", prov, req)
    c.settle(rune)
    status = rune.status()
    assert [
        r["related-application"] for r in status["applications"][prov]["relations"][prov_ep]
    ] == [req]
    assert [r["related-application"] for r in status["applications"][req]["relations"][req_ep]] == [
        prov
    ]
    relation_ids = set()
    sides = [
        (
            provider_units,
            prov_ep,
            requirer_units,
            {"client": req, "leader": c.leader_of(status, req)},
        ),
        (
            requirer_units,
            req_ep,
            provider_units,
            {"token": c.TOKEN, "leader": c.leader_of(status, prov)},
        ),
    ]
    for units, endpoint, remotes, remote_app_bag in sides:
        for unit in units:
            events = rec.events(unit)
            new_hooks = {e.name for e in events[mark[unit] :] if e.is_hook}
            assert new_hooks <= {
                f"{endpoint}-relation-{p}" for p in ("created", "joined", "changed")
            }, new_hooks
            trace = c.only_trace(events, endpoint)
            relation_ids.add(trace.id)
            assert trace.events[0].index >= mark[unit]
            assert sorted(trace.joined()) == remotes, c.describe(trace.events)
            assert sorted(trace.members) == remotes
            app_changes = trace.app_changes()
            assert app_changes, f"{unit}: no app-level -changed: {c.describe(trace.events)}"
            assert (app_changes[-1].view or {}).get("app") == remote_app_bag
            assert trace.events[-1].view is not None
            assert sorted(trace.events[-1].view["units"]) == remotes
    assert len(relation_ids) == 1, "both sides must see the same relation id"
    for unit in provider_units:
        assert c.workload(status, unit)["message"] == f"saw client={req} from 2 units"
    for unit in requirer_units:
        assert c.workload(status, unit)["message"] == f"saw token={c.TOKEN} from 2 units"

    # -- Scale up: the new provider unit is related from birth (§3.3: relation-created for
    # the existing relation comes before leadership and config-changed), and every other
    # unit sees it join (then change) in the peer or the cross-app relation.
    mark = rec.mark()
    rune("add-unit", prov)
    c.settle(rune)
    status = rune.status()
    provider_units = c.unit_names(status, prov)
    assert len(provider_units) == 3
    newcomer = provider_units[-1]
    events = rec.events(newcomer)
    c.check_new_unit(events, related=[prov_ep])
    assert sorted(c.only_trace(events, prov_ep).members) == requirer_units
    assert sorted(c.only_trace(events, c.PEERS).members) == provider_units[:2]
    for unit in provider_units[:2]:
        assert c.only_trace(rec.events(unit), c.PEERS).joined(mark[unit]) == [newcomer]
    for unit in requirer_units:
        trace = c.only_trace(rec.events(unit), req_ep)
        assert trace.joined(mark[unit]) == [newcomer], c.describe(trace.events)
        assert c.workload(status, unit)["message"] == f"saw token={c.TOKEN} from 3 units"

    # -- Scale down by removing the provider's leader: the others see it depart; it departs
    # every remote unit, breaks each relation, then stops and is removed; a new leader runs
    # leader-elected and the other follower leader-settings-changed (§3.3, §7); the new
    # leader's app bag reaches the requirer as an app-level -changed.
    old_leader = c.leader_of(status, prov)
    mark = rec.mark()
    rune("remove-unit", old_leader)
    c.settle(rune)
    status = rune.status()
    remaining = c.unit_names(status, prov)
    assert remaining == [u for u in provider_units if u != old_leader]
    new_leader = c.leader_of(status, prov)
    c.check_teardown(
        rec.since(mark, old_leader),
        unit=old_leader,
        remotes={c.PEERS: remaining, prov_ep: requirer_units},
    )
    traces = c.relation_traces(rec.events(old_leader), prov_ep)
    assert all(t.broken for t in traces.values())
    for unit in remaining:
        since = rec.since(mark, unit)
        peers = c.only_trace(rec.events(unit), c.PEERS)
        assert [(e.remote_unit, e.departing_unit) for e in peers.departed(mark[unit])] == [
            (old_leader, old_leader)
        ]
        wanted = "leader-elected" if unit == new_leader else "leader-settings-changed"
        assert wanted in [e.name for e in since], f"{unit}: {c.describe(since)}"
        assert "start" not in [e.name for e in since]
    for unit in requirer_units:
        trace = c.only_trace(rec.events(unit), req_ep)
        departed = trace.departed(mark[unit])
        assert [(e.remote_unit, e.departing_unit) for e in departed] == [(old_leader, old_leader)]
        assert sorted(trace.members) == remaining
        app_changes = trace.app_changes(mark[unit])
        assert app_changes, f"{unit}: {c.describe(trace.after(mark[unit]))}"
        assert (app_changes[-1].view or {}).get("app") == {"token": c.TOKEN, "leader": new_leader}
        assert c.workload(status, unit)["message"] == f"saw token={c.TOKEN} from 2 units"

    # -- remove-relation: every unit departs every remote unit, then -broken; the peer
    # relations are untouched.
    mark = rec.mark()
    rune("remove-relation", prov, req)
    c.settle(rune)
    status = rune.status()
    for units, endpoint, remotes in (
        (remaining, prov_ep, requirer_units),
        (requirer_units, req_ep, remaining),
    ):
        for unit in units:
            since = rec.since(mark, unit)
            assert all(e.relation == endpoint for e in since if e.is_hook), c.describe(since)
            trace = c.only_trace(rec.events(unit), endpoint)
            assert trace.broken and trace.events[-1].index >= mark[unit]
            new = trace.after(mark[unit])
            assert [e.phase for e in new] == ["departed"] * len(remotes) + ["broken"]
            assert sorted(e.remote_unit or "" for e in new[:-1]) == remotes
            assert c.workload(status, unit) == {"current": "active", "message": "not related"}
    for app in (prov, req):
        assert (
            not status["applications"][app]
            .get("relations", {})
            .get(prov_ep if app == prov else req_ep)
        )

    c.check_all_env(rec, sorted({*provider_units, *requirer_units}))
