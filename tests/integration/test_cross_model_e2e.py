"""Cross-model relations inside one controller, end to end: the real `jubilant` drives
`offer`, `consume`, `integrate`, `offers`, `remove-offer` and `remove-saas` through
`rune-juju`; bash test charms in two models
exchange relation data and run departed/broken when the relation is removed."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import jubilant
import pytest

from tests.integration import _conformance as c
from tests.integration.conftest import Rune, writable_by_machines

pytestmark = pytest.mark.e2e

OFFERING, CONSUMING = "offering", "consuming"
PROV, REQ = "bash-provider", "bash-requirer"


def _deploy(rune: Rune, model: str, charm: str, record_dir: Path) -> None:
    rune(
        "deploy",
        str(c.CHARMS / charm),
        charm,
        "--config",
        f"record-dir={writable_by_machines(record_dir)}",
        "--model",
        model,
    )


def _relation_events(rec: c.Recorder, unit: str, endpoint: str) -> list[c.Event]:
    """A unit's hooks of one endpoint. (`c.relation_traces` checks that a remote unit's bag
    names the unit as this side knows it, which a cross-model unit's does not: it wrote its
    own name in its own model.)"""
    return [e for e in rec.events(unit) if e.relation == endpoint]


def _settle(rune: Rune) -> None:
    for model in (OFFERING, CONSUMING):
        result = rune(*c.WAIT, "--model", model, check=False)
        assert result.returncode == 0, (
            f"rune wait --model {model}: {result.stderr}\n{c.unit_logs(rune)}\n"
            f"{rune.controller_log(30)}"
        )


def test_offer_consume_integrate_across_models(
    rune: Rune, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = c.Recorder(tmp_path / "events")
    rune("bootstrap")
    rune("add-model", OFFERING, "--no-switch")
    rune("add-model", CONSUMING, "--no-switch")
    _deploy(rune, OFFERING, PROV, rec.directory)
    _deploy(rune, CONSUMING, REQ, rec.directory)
    _settle(rune)

    script = shutil.which("rune-juju", path=str(Path(sys.executable).parent))
    assert script is not None, "rune-juju is not installed"
    monkeypatch.setenv("RUNECRAFT_HOME", str(rune.home))
    monkeypatch.setenv("RUNECRAFT_CACHE_DIR", str(rune.cache))
    offerer = jubilant.Juju(model=OFFERING, cli_binary=script)
    consumer = jubilant.Juju(model=CONSUMING, cli_binary=script)

    # -- Bad input: clear errors, nothing made.
    for juju, args, named in [
        (consumer, ("consume", f"{OFFERING}.nope"), "nope"),
        (consumer, ("consume", "missing.x"), 'model "missing" not found'),
        (offerer, ("offer", f"{OFFERING}.{PROV}:nope"), '"nope"'),
    ]:
        with pytest.raises(jubilant.CLIError) as failed:
            juju.cli(*args, include_model=args[0] != "offer")
        assert named in failed.value.stderr, (args, failed.value.stderr)
    assert consumer.status().app_endpoints == {}

    offerer.offer(f"{OFFERING}.{PROV}", endpoint="source")
    consumer.consume(f"{OFFERING}.{PROV}", "prov")
    consumer.integrate(REQ, "prov")
    _settle(rune)

    offers = json.loads(offerer.cli("offers", "--format", "json"))
    assert offers[PROV]["offer-url"] == f"admin/{OFFERING}.{PROV}"
    assert offers[PROV]["endpoints"] == {"source": {"interface": "conformance", "role": "provider"}}
    assert len(offers[PROV]["connections"]) == 1

    status = consumer.status()
    saas = status.app_endpoints["prov"]
    assert (saas.url, saas.relations) == (f"admin/{OFFERING}.{PROV}", {"source": [REQ]})
    # The charms count remote units whose bag holds their own unit name: across models the
    # remote unit is known by another name (prov/0, remote-<hex>/0), as in Juju, so none.
    message = status.apps[REQ].units[f"{REQ}/0"].workload_status.message
    assert message == f"saw token={c.TOKEN} from 0 units", message
    status = offerer.status()
    assert status.offers[PROV].total_connected_count == 1
    message = status.apps[PROV].units[f"{PROV}/0"].workload_status.message
    assert message == f"saw client={REQ} from 0 units", message

    # Each side names the other as Juju does: the SAAS alias, and remote-<hex>; each reads
    # the other's unit and application bags.
    req_events = _relation_events(rec, f"{REQ}/0", "sink")
    assert [e.phase for e in req_events][:1] == ["created"], c.describe(req_events)
    assert {e.remote_app for e in req_events} == {"prov"}
    assert [e.remote_unit for e in req_events if e.phase == "joined"] == ["prov/0"]
    view = req_events[-1].view or {}
    assert view["units"]["prov/0"]["unit-name"] == f"{PROV}/0", view
    assert view["app"]["token"] == c.TOKEN, view
    prov_events = _relation_events(rec, f"{PROV}/0", "source")
    (remote,) = {e.remote_app for e in prov_events}
    assert remote is not None and remote.startswith("remote-"), remote
    assert [e.remote_unit for e in prov_events if e.phase == "joined"] == [f"{remote}/0"]
    view = prov_events[-1].view or {}
    assert view["units"][f"{remote}/0"]["unit-name"] == f"{REQ}/0", view
    assert view["app"]["client"] == REQ, view

    # -- remove-offer is refused while the offer is related.
    with pytest.raises(jubilant.CLIError) as refused:
        offerer.cli("remove-offer", f"admin/{OFFERING}.{PROV}", include_model=False)
    assert "--force" in refused.value.stderr, refused.value.stderr
    assert offerer.status().offers[PROV].total_connected_count == 1

    # -- remove-relation: both sides depart and break.
    consumer.remove_relation(REQ, "prov")
    _settle(rune)
    for unit, endpoint, departing in (
        (f"{REQ}/0", "sink", "prov/0"),
        (f"{PROV}/0", "source", f"{remote}/0"),
    ):
        events = _relation_events(rec, unit, endpoint)
        phases = [e.phase for e in events]
        assert [e.remote_unit for e in events if e.phase == "departed"] == [departing], phases
        assert phases[-1] == "broken", c.describe(events)
    status = offerer.status()
    assert status.offers[PROV].total_connected_count == 0
    assert not status.apps[PROV].relations.get("source")
    consumer.cli("remove-saas", "prov")
    assert consumer.status().app_endpoints == {}
    offerer.cli("remove-offer", f"admin/{OFFERING}.{PROV}", include_model=False)
    assert json.loads(offerer.cli("offers", "--format", "json")) == {}
