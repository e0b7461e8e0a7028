"""Planning bundles against a model view: fixtures, drift, pruning, placement, the JSON
form, and the properties (a plan applied leaves nothing to plan; b1 then b2 is b2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runecraft import bundles as rb
from runecraft.schemas import bundle as schema
from tests.unit.test_bundle import FIXTURE_SETS, fixture, load_multi_doc_with_include_overlay

HYPOTHESIS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
EMPTY = rb.ModelView()


def bundle(text: str) -> schema.Bundle:
    return schema.loads(text)


def kinds(plan: rb.Plan) -> list[str]:
    return [c.kind for c in plan.changes]


def of(plan: rb.Plan, kind: type[Any]) -> list[Any]:
    return [c for c in plan.changes if isinstance(c, kind)]


def converged(b: schema.Bundle, view: rb.ModelView = EMPTY, *, prune: bool = False) -> rb.ModelView:
    return rb.apply_view(view, rb.plan(b, view, prune=prune))


# --- the fixtures ------------------------------------------------------------------------


def _fixture_bundles(tmp_path: Path) -> list[tuple[str, schema.Bundle]]:
    loaded = [
        (name, schema.load(fixture(base), [fixture(o) for o in overlays]))
        for name, base, overlays, *_ in FIXTURE_SETS
    ]
    loaded.append(("multi-doc + include overlay", load_multi_doc_with_include_overlay(tmp_path)))
    return loaded


def test_every_fixture_plans_against_an_empty_model(tmp_path: Path) -> None:
    for name, b in _fixture_bundles(tmp_path):
        plan = rb.plan(b, EMPTY)
        deployed = {c.application for c in of(plan, rb.AddApplication)}
        assert deployed == set(b.applications), name
        for app, spec in b.applications.items():
            units = [c for c in of(plan, rb.AddUnit) if c.application == app]
            assert len(units) == spec.num_units, (name, app)
        machines = {c.machine for c in of(plan, rb.AddMachine)}
        warned = {w.split(":")[0].removeprefix("machines.") for w in plan.warnings}
        assert machines | warned >= set(b.machines), name
        added = {tuple(c.endpoints) for c in of(plan, rb.AddRelation)}
        assert added == {(str(r.endpoints[0]), str(r.endpoints[1])) for r in b.relations}, name
        # Nothing is on disk: every charm is reported as to be fetched, never an error.
        assert all(c.path is None for c in of(plan, rb.AddCharm)), name
        assert {c.charm for c in of(plan, rb.AddCharm)} == {
            a.charm_ref.name for a in b.applications.values()
        }, name
        assert rb.plan(b, rb.apply_view(EMPTY, plan)).empty, name


def test_fixture_plan_lists_machines_units_and_placements() -> None:
    b = schema.load(fixture("written-machines-placement.yaml"))
    plan = rb.plan(b, EMPTY)
    lines = [rb.describe(c) for c in plan.changes]
    assert "add new machine for bundle machine 0" in lines
    assert "add unit of db on bundle machine 0" in lines
    assert "add unit of web in a new lxd container on bundle machine 0" in lines
    assert "expose web" in lines
    assert any("not supported yet" in (rb.unsupported(c) or "") for c in plan.changes)


# --- drift and pruning -------------------------------------------------------------------

DEMO = """
applications:
  web: {charm: web, num_units: 2, options: {port: 80, name: x}}
  db: {charm: db, num_units: 1}
relations:
  - [web, db]
"""


def test_a_second_plan_is_empty() -> None:
    b = bundle(DEMO)
    view = converged(b)
    assert rb.plan(b, view).empty
    assert sorted(u.name for u in view.applications["web"].units) == ["web/0", "web/1"]


def test_unit_removed_by_hand_shows_up() -> None:
    b = bundle(DEMO)
    view = converged(b)
    web = view.applications["web"]
    view = view.model_copy(
        update={
            "applications": {
                **view.applications,
                "web": web.model_copy(update={"units": web.units[:1]}),
            }
        }
    )
    plan = rb.plan(b, view)
    assert kinds(plan) == ["add-unit"]
    assert rb.plan(b, rb.apply_view(view, plan)).empty


def test_config_changed_by_hand_shows_up_with_the_model_value() -> None:
    b = bundle(DEMO)
    view = converged(b)
    web = view.applications["web"]
    changed = web.model_copy(update={"config": {"port": 8080, "name": "x", "extra": 1}})
    view = view.model_copy(update={"applications": {**view.applications, "web": changed}})
    plan = rb.plan(b, view)
    assert plan.changes == (
        rb.SetConfig(application="web", values={"port": 80}, previous={"port": 8080}),
    )
    pruned = rb.plan(b, view, prune=True)
    assert pruned.changes == (
        rb.SetConfig(
            application="web",
            values={"port": 80},
            reset=("extra",),
            previous={"port": 8080, "extra": 1},
        ),
    )


@pytest.mark.parametrize(
    ("model", "wanted", "same"),
    [
        (80, 80, True),
        (80, "80", True),
        (True, "true", True),
        (1.5, 1.5, True),
        (1, 1.0, True),
        ("a", "b", False),
        (80, 81, False),
        (False, True, False),
    ],
)
def test_config_values_compare_as_the_controller_stores_them(
    model: Any, wanted: Any, same: bool
) -> None:
    b = bundle(
        f"applications: {{a: {{charm: a, options: {{k: {yaml.safe_dump(wanted).split()[0]}}}}}}}"
    )
    view = rb.ModelView(applications={"a": rb.ApplicationView(charm="a", config={"k": model})})
    assert rb.plan(b, view).empty is same


def test_extra_units_applications_and_relations_go_only_with_prune() -> None:
    b = bundle(DEMO.replace("[web, db]", "[web:db, db:web]"))
    view = converged(
        bundle(
            """
applications:
  web: {charm: web, num_units: 4, options: {port: 80, name: x}}
  db: {charm: db, num_units: 1}
  cache: {charm: cache, num_units: 1}
relations:
  - [web, db]
  - [web, cache]
  - [db:admin, web:admin]
"""
        )
    )
    plan = rb.plan(b, view)
    assert plan.empty
    assert any("--prune removes web/2, web/3" in w for w in plan.warnings)
    pruned = rb.plan(b, view, prune=True)
    assert [rb.describe(c) for c in pruned.changes] == [
        "remove unit web/3",
        "remove unit web/2",
        "remove relation db:admin - web:admin",
        "remove application cache",
    ]
    assert rb.plan(b, rb.apply_view(view, pruned), prune=True).empty


def test_relation_without_endpoints_matches_the_endpoints_the_model_chose() -> None:
    view = rb.ModelView(
        applications={"a": rb.ApplicationView(charm="a"), "b": rb.ApplicationView(charm="b")},
        relations=(rb.RelationView.between(("a", "db"), ("b", "server")),),
    )
    assert rb.plan(
        bundle("applications: {a: {charm: a}, b: {charm: b}}\nrelations: [[b, a]]"), view
    ).empty
    named = bundle("applications: {a: {charm: a}, b: {charm: b}}\nrelations: [[b:server, a:db]]")
    assert rb.plan(named, view).empty
    other = bundle("applications: {a: {charm: a}, b: {charm: b}}\nrelations: [[b:other, a]]")
    assert kinds(rb.plan(other, view)) == ["add-relation"]


def test_constraints_and_trust_are_planned_in_the_controllers_form() -> None:
    b = bundle("applications: {a: {charm: a, constraints: 'mem=8G cores=2', trust: true}}")
    plan = rb.plan(b, EMPTY)
    (deploy,) = of(plan, rb.AddApplication)
    assert deploy.constraints == {"mem": 8192, "cores": 2} and deploy.trust
    view = rb.apply_view(EMPTY, plan)
    assert rb.plan(b, view).empty
    app = view.applications["a"]
    moved = view.model_copy(
        update={
            "applications": {
                "a": app.model_copy(update={"constraints": {"mem": 4096}, "trust": False})
            }
        }
    )
    assert [rb.describe(c) for c in rb.plan(b, moved).changes] == [
        "set constraints of a: cores=2 mem=8192M",
        "trust a",
    ]
    untrusted = bundle("applications: {a: {charm: a, constraints: 'mem=8G cores=2'}}")
    assert rb.plan(untrusted, view).empty
    assert kinds(rb.plan(untrusted, view, prune=True)) == ["set-trust"]
    exported = rb.export(view)
    assert exported.applications["a"].constraints == {"cores": "2", "mem": "8192M"}
    assert rb.plan(exported, view).empty


def test_a_changed_charm_is_planned_and_refused() -> None:
    view = converged(bundle("applications: {a: {charm: old}}"))
    plan = rb.plan(bundle("applications: {a: {charm: new}}"), view)
    assert plan.changes == (rb.ChangeCharm(application="a", charm="new", previous="old"),)
    assert "not supported yet" in (rb.unsupported(plan.changes[0]) or "")


EDGE_7 = rb.ApplicationView(charm="db", channel="latest/edge", revision=7)
LOCAL_DB = rb.ApplicationView(charm="db")
ON_DISK = rb.ResolvedCharm(name="db", path="/c/db")
IN_STORE = rb.ResolvedCharm(name="db", sha256="a" * 64)
FETCHED = rb.ResolvedCharm(name="db", path="/cache/db.charm", charmhub=True)


@pytest.mark.parametrize(
    ("current", "fields", "resolved", "refresh"),
    [
        (EDGE_7, "channel: edge, revision: 7", None, None),
        (EDGE_7, "channel: latest/edge", None, None),
        (EDGE_7, "channel: edge, revision: 7", IN_STORE, None),
        (EDGE_7, "", None, None),
        (EDGE_7, "channel: stable", None, ("latest/stable", None)),
        (EDGE_7, "channel: 2.0/edge", IN_STORE, ("2.0/edge", None)),
        (EDGE_7, "channel: edge, revision: 5", None, ("latest/edge", 5)),
        (EDGE_7, "channel: edge, revision: 8", FETCHED, ("latest/edge", 8)),
        (EDGE_7, "channel: beta", ON_DISK, ("latest/beta", None)),
        (LOCAL_DB, "channel: edge", None, ("latest/edge", None)),
        (LOCAL_DB, "channel: edge, revision: 3", FETCHED, ("latest/edge", 3)),
        (LOCAL_DB, "channel: edge", ON_DISK, None),
        (LOCAL_DB, "channel: edge, revision: 1", IN_STORE, None),
        (LOCAL_DB, "", None, None),
    ],
)
def test_a_charmhub_channel_or_revision_other_than_the_origin_plans_a_refresh(
    current: rb.ApplicationView,
    fields: str,
    resolved: rb.ResolvedCharm | None,
    refresh: tuple[str | None, int | None] | None,
) -> None:
    view = rb.ModelView(applications={"db": current})
    b = bundle(
        f"applications: {{db: {{charm: db, {fields + ', ' if fields else ''}num_units: 0}}}}"
    )
    plan = rb.plan(b, view, charms={"db": resolved} if resolved else None)
    if refresh is None:
        assert plan.empty, plan.changes
        return
    channel, revision = refresh
    assert plan.changes == (
        rb.RefreshCharm(
            application="db",
            charm="db",
            channel=channel,
            revision=revision,
            previous_channel=current.channel,
            previous_revision=current.revision,
        ),
    )
    assert rb.unsupported(plan.changes[0]) is None
    assert rb.plan(b, rb.apply_view(view, plan), charms={"db": FETCHED}).empty


def test_a_refresh_says_where_from_and_where_to() -> None:
    view = rb.ModelView(applications={"db": EDGE_7})
    (change,) = rb.plan(bundle("applications: {db: {charm: db, channel: stable}}"), view).changes
    assert rb.describe(change) == (
        "refresh db to charm db channel latest/stable (from channel latest/edge revision 7)"
    )
    local = rb.ModelView(applications={"db": LOCAL_DB})
    (change,) = rb.plan(
        bundle("applications: {db: {charm: db, channel: edge, revision: 3}}"), local
    ).changes
    assert rb.describe(change) == (
        "refresh db to charm db channel latest/edge revision 3 (from a local charm)"
    )
    assert change.kind == "refresh-charm"


def test_a_deployed_charmhub_application_keeps_the_origin_the_bundle_asks() -> None:
    b = bundle("applications: {db: {charm: ch:db, channel: candidate, revision: 4}}")
    (app,) = of(rb.plan(b, EMPTY), rb.AddApplication)
    assert (app.channel, app.revision) == ("latest/candidate", 4)
    assert rb.plan(b, converged(b)).empty
    (local,) = of(rb.plan(b, EMPTY, charms={"db": ON_DISK}), rb.AddApplication)
    assert (local.channel, local.revision) == (None, None)


def test_a_dying_application_is_left_alone_with_a_warning() -> None:
    view = rb.ModelView(applications={"a": rb.ApplicationView(charm="a", dying=True)})
    plan = rb.plan(bundle("applications: {a: {charm: a, num_units: 2}}"), view, prune=True)
    assert plan.empty
    assert plan.warnings and "being removed" in plan.warnings[0]


def test_charms_found_on_disk_are_uploaded_under_their_real_name() -> None:
    b = bundle("applications: {a: {charm: ./x}, b: {charm: ./x}, c: {charm: mysql}}")
    found = {n: rb.ResolvedCharm(name="real", path="/r/x") for n in ("a", "b")}
    plan = rb.plan(b, EMPTY, charms=found)
    assert [rb.describe(c) for c in of(plan, rb.AddCharm)] == [
        "upload charm real from /r/x",
        "fetch charm mysql: not in the local charm repository nor the controller's charm store",
    ]
    assert {c.charm for c in of(plan, rb.AddApplication)} == {"real", "mysql"}
    assert rb.plan(b, rb.apply_view(EMPTY, plan), charms=found).empty


# --- placement ---------------------------------------------------------------------------

PLACED = """
machines: {"0": {}, "1": {}, "7": {}}
applications:
  db: {charm: db, num_units: 2, to: ["1", "0"]}
  web: {charm: web, num_units: 2, to: ["db/1", "new"]}
  agent: {charm: agent, num_units: 1, to: ["7"]}
"""


def test_units_go_in_bundle_order_and_make_the_machines_they_land_on() -> None:
    plan = rb.plan(bundle(PLACED.replace('"db/1"', '"agent/0"')), EMPTY)
    assert [rb.describe(c) for c in plan.changes if c.kind in ("add-machine", "add-unit")] == [
        "add new machine for bundle machine 7",
        "add new machine for bundle machine 1",
        "add new machine for bundle machine 0",
        "add unit of agent on bundle machine 7",
        "add unit of db on bundle machine 1",
        "add unit of db on bundle machine 0",
        "add unit of web on the machine of agent/0",
        "add unit of web on a new machine",
    ]


def test_a_unit_placed_next_to_a_later_application_waits_for_it() -> None:
    text = "applications: {a: {charm: a, num_units: 2, to: [z/0]}, z: {charm: z, num_units: 1}}"
    plan = rb.plan(bundle(text), EMPTY)
    assert [rb.describe(c) for c in plan.changes if c.kind == "add-unit"] == [
        "add unit of z on a new machine",
        "add unit of a on the machine of z/0",
        "add unit of a on the machine of z/0",
    ]


def test_existing_units_map_bundle_machines_to_model_machines() -> None:
    b = bundle(PLACED)
    view = converged(b)
    db = {u.name: u.machine for u in view.applications["db"].units}
    web = {u.name: u.machine for u in view.applications["web"].units}
    assert web["web/0"] == db["db/1"]
    more = bundle(PLACED.replace('num_units: 1, to: ["7"]', 'num_units: 2, to: ["7", "1"]'))
    plan = rb.plan(more, view)
    assert plan.changes == (rb.AddUnit(application="agent", machine="1", model_machine=db["db/0"]),)


def test_export_round_trips_through_an_empty_model() -> None:
    view = converged(bundle(PLACED + "relations: [[web, db]]"))
    exported = rb.export(view)
    again = rb.export(converged(exported))
    assert schema.dump(again) == schema.dump(exported)
    assert schema.loads(schema.dump(exported)) == exported


def test_units_in_containers_export_as_new_containers_and_round_trip() -> None:
    text = "applications: {a: {charm: a, num_units: 3, to: ['0', 'lxd:0', 'lxd:new']}}"
    view = converged(bundle(text + "\nmachines: {'0': {}}"))
    exported = rb.export(view)
    assert [str(p) for p in exported.applications["a"].to] == ["0", "lxd:new", "lxd:new"]
    assert sorted(exported.machines) == ["0"]  # containers are not bundle machines
    again = rb.export(converged(exported))
    assert schema.dump(again) == schema.dump(exported)
    assert rb.plan(exported, converged(exported)).empty


# --- the JSON form and unsupported changes -----------------------------------------------


def test_plan_json_form_is_stable() -> None:
    plan = rb.plan(
        bundle("applications: {a: {charm: a, num_units: 1, options: {k: v}}}"),
        rb.ModelView(name="m", revision=7),
        charms={"a": rb.ResolvedCharm(name="a", path="/c/a")},
    )
    assert plan.document() == {
        "model": "m",
        "revision": 7,
        "changes": [
            {
                "description": "upload charm a from /c/a",
                "kind": "add-charm",
                "charm": "a",
                "source": "a",
                "channel": None,
                "path": "/c/a",
                "sha256": None,
            },
            {
                "description": "deploy application a using a with k='v'",
                "kind": "add-application",
                "application": "a",
                "charm": "a",
                "options": {"k": "v"},
                "constraints": {},
                "storage": {},
                "devices": {},
                "resources": {},
                "bindings": {},
                "trust": False,
                "channel": None,
                "revision": None,
            },
            {
                "description": "add unit of a on a new machine",
                "kind": "add-unit",
                "application": "a",
                "machine": None,
                "model_machine": None,
                "colocate": None,
                "container": None,
                "zone": None,
            },
        ],
        "warnings": [],
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("applications: {a: {charm: ./nowhere}}", 'charm "./nowhere" not found'),
        ("applications: {a: {charm: mysql}}", "and was not fetched from Charmhub"),
        (
            "applications: {a: {charm: a, resources: {image: 3}}}",
            "applications.a: resources in bundles are not supported yet",
        ),
        (
            "applications: {a: {charm: a, num_units: 1, to: ['kvm:0']}}\nmachines: {'0': {}}",
            "applications.a.to: placing units in kvm containers is not supported yet",
        ),
        ("applications: {a: {charm: a, expose: true}}", "exposing is not supported yet"),
        (
            "saas: {s: {url: 'ctl:admin/m.o'}}\napplications: {a: {charm: a}}",
            "saas.s: consuming offers of another controller is not supported",
        ),
    ],
)
def test_unsupported_changes_say_why(text: str, reason: str) -> None:
    found = {"a": rb.ResolvedCharm(name="a", path="/a")} if "charm: a," in text else {}
    plan = rb.plan(bundle(text), EMPTY, charms=found)
    reasons = [r for c in plan.changes if (r := rb.unsupported(c))]
    assert any(reason in r for r in reasons), reasons


def test_units_in_lxd_containers_can_be_applied() -> None:
    text = "applications: {a: {charm: a, num_units: 2, to: ['0', 'lxd:0']}}\nmachines: {'0': {}}"
    plan = rb.plan(bundle(text), EMPTY, charms={"a": rb.ResolvedCharm(name="a", path="/a")})
    units = [c for c in plan.changes if isinstance(c, rb.AddUnit)]
    assert [(u.machine, u.container) for u in units] == [("0", None), ("0", "lxd")]
    assert [rb.unsupported(c) for c in plan.changes] == [None] * len(plan.changes)
    assert [rb.unsupported(c, "lxd") for c in plan.changes] == [None] * len(plan.changes)
    on_manual = rb.plan(
        bundle(text),
        EMPTY.model_copy(update={"cloud": "manual"}),
        charms={"a": rb.ResolvedCharm(name="a", path="/a")},
    )
    assert on_manual.cloud == "manual"
    assert [r for c in on_manual.changes if (r := rb.unsupported(c, on_manual.cloud))] == [
        "applications.a.to: lxd containers join only models on the local or lxd cloud; "
        'this one is on "manual"'
    ]


def test_charms_the_controller_holds_are_used_not_fetched() -> None:
    b = bundle("applications: {a: {charm: probe-ops, num_units: 1}}")
    found = {"a": rb.ResolvedCharm(name="probe-ops", sha256="f" * 64)}
    plan = rb.plan(b, EMPTY, charms=found)
    (charm,) = of(plan, rb.AddCharm)
    assert rb.describe(charm) == "use charm probe-ops from the controller's charm store"
    assert [rb.unsupported(c) for c in plan.changes] == [None] * len(plan.changes)


# --- properties --------------------------------------------------------------------------

NAMES = ["web", "db", "cache", "queue"]
MACHINES = ["0", "1", "2"]


@st.composite
def bundle_texts(draw: st.DrawFn) -> str:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    machines = draw(st.lists(st.sampled_from(MACHINES), max_size=3, unique=True))
    apps: dict[str, Any] = {}
    for name in names:
        app: dict[str, Any] = {"charm": draw(st.sampled_from(["alpha", "beta", "./local"]))}
        units = draw(st.integers(0, 3))
        if units:
            app["num_units"] = units
            targets = [*machines, "new"]
            app["to"] = draw(st.lists(st.sampled_from(targets), max_size=units))
            if not app["to"]:
                del app["to"]
        options = draw(
            st.dictionaries(
                st.sampled_from(["a", "b", "c"]),
                st.one_of(st.integers(0, 3), st.sampled_from(["x", "y"]), st.booleans()),
                max_size=2,
            )
        )
        if options:
            app["options"] = options
        if draw(st.booleans()):
            app["expose"] = True
        if draw(st.booleans()):
            app["trust"] = True
        constraints = draw(st.sampled_from(["", "mem=1G", "cores=2 mem=512M", "arch=arm64"]))
        if constraints:
            app["constraints"] = constraints
        apps[name] = app
    relations = []
    for first, second in draw(
        st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names)), max_size=3)
    ):
        if first != second:
            relations.append(
                [
                    first + draw(st.sampled_from(["", ":x", ":y"])),
                    second + draw(st.sampled_from(["", ":x", ":y"])),
                ]
            )
    document: dict[str, Any] = {"applications": apps, "relations": relations}
    if machines:
        document["machines"] = {m: {} for m in machines}
    return yaml.safe_dump(document)


def _load_or_none(text: str) -> schema.Bundle | None:
    try:
        return schema.loads(text, directory="/charms")
    except schema.BundleError:
        return None


def normal(view: rb.ModelView) -> tuple[Any, ...]:
    """A view up to unit and machine numbering, and relations up to the endpoints a
    relation written without them settles on."""
    apps = {
        n: (a.charm, sorted(a.config.items()), len(a.units), a.exposed, a.constraints, a.trust)
        for n, a in view.applications.items()
    }
    pairs = {tuple(sorted(a for a, _ in r.endpoints)) for r in view.relations}
    return (apps, sorted(pairs), sorted(view.saas.items()))


@HYPOTHESIS
@given(bundle_texts(), st.booleans())
def test_a_plan_applied_leaves_nothing_to_plan(text: str, prune: bool) -> None:
    b = _load_or_none(text)
    if b is None:
        return
    after = converged(b, prune=prune)
    assert rb.plan(b, after, prune=prune).empty
    assert rb.plan(b, after, prune=not prune).empty


@HYPOTHESIS
@given(bundle_texts(), bundle_texts())
def test_b1_then_b2_equals_b2_on_an_empty_model(first: str, second: str) -> None:
    b1, b2 = _load_or_none(first), _load_or_none(second)
    if b1 is None or b2 is None:
        return
    through = converged(b2, converged(b1), prune=True)
    assert normal(through) == normal(converged(b2, prune=True))
    assert rb.plan(b2, through, prune=True).empty


_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@HYPOTHESIS
@given(
    bundle_texts(),
    st.lists(
        st.tuples(st.lists(st.text(max_size=10), min_size=1, max_size=3), _yaml_values), max_size=3
    ),
)
def test_malformed_bundles_are_refused_cleanly_and_change_nothing(
    text: str, mutations: list[tuple[list[str], Any]]
) -> None:
    document = yaml.safe_load(text)
    for path, value in mutations:
        node = document
        for key in path[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(key, {})
        if isinstance(node, dict):
            node[path[-1]] = value
    base = converged(bundle(DEMO))
    try:
        mutated = schema.loads(yaml.safe_dump(document), directory="/charms")
    except schema.BundleError as exc:
        assert exc.problems
        return
    plan = rb.plan(mutated, base)  # a valid result must plan without raising
    assert rb.plan(mutated, rb.apply_view(base, plan)).empty
    assert base == converged(bundle(DEMO))
