"""Bundles and overlays: real fixtures, Juju's merge rules, every error kind, round trips.

The shared fixtures are read in place from the `shared/` directory next to the checkout
(see shared/fixtures/bundles/SOURCES.md for where each comes from and which go together).
"""

from __future__ import annotations

import ast
import base64
import pickle
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runecraft.schemas import _bundle_model as model
from runecraft.schemas import bundle as rb

FIXTURES = Path(__file__).parents[2].parent / "shared" / "fixtures" / "bundles"
HYPOTHESIS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fixture(name: str) -> Path:
    return FIXTURES / name


def problems_of(text: str, *overlays: str, directory: Path | None = None) -> list[tuple[str, str]]:
    """(path, message) of every problem `loads` reports; fails if the bundle loads."""
    with pytest.raises(rb.BundleError) as caught:
        rb.loads(text, overlays=overlays, directory=directory)
    return [(p.path, p.message) for p in caught.value.problems]


def load_pair(base: str, *overlays: str) -> rb.Bundle:
    return rb.load(fixture(base), [fixture(o) for o in overlays])


# --- the fixtures ------------------------------------------------------------------------

# (id, base file, overlay files, applications, relations, machines)
FIXTURE_SETS: list[tuple[str, str, tuple[str, ...], int, int, int]] = [
    ("ck8s release", "charmed-kubernetes-release-1.35.yaml", (), 7, 13, 0),
    (
        "ck8s + vault-pki + ceph-rbd",
        "charmed-kubernetes-release-1.35.yaml",
        ("charmed-kubernetes-vault-pki-overlay.yaml", "charmed-kubernetes-ceph-rbd-overlay.yaml"),
        12,
        18,
        0,
    ),
    ("cos-lite 2021", "cos-lite-bundle-2021.yaml", (), 4, 3, 0),
    (
        "cos-lite + offers + storage",
        "cos-lite-bundle-2021.yaml",
        ("cos-lite-offers-overlay.yaml", "cos-lite-storage-small-overlay.yaml"),
        4,
        3,
        0,
    ),
    ("cos-lite lxd ceph cmr", "cos-lite-lxd-ceph-cmr.yaml", (), 3, 4, 6),
    ("easyrsa-etcd multi-doc", "juju-easyrsa-etcd-multidoc.yaml", (), 2, 1, 0),
    ("multi-doc overlays", "juju-multi-doc-overlays-bundle.yaml", (), 2, 0, 0),
    ("telegraf", "juju-telegraf-bundle.yaml", (), 3, 2, 2),
    ("legacy services", "written-legacy-services.yaml", (), 2, 1, 2),
    ("machines placement", "written-machines-placement.yaml", (), 4, 4, 3),
]


def load_multi_doc_with_include_overlay(tmp_path: Path) -> rb.Bundle:
    """Fixtures 13 + 14: the overlay's include target is not published, so supply it."""
    (tmp_path / "ext-option.txt").write_bytes(b"line one\nline two\n")
    base = fixture("juju-multi-doc-overlays-bundle.yaml")
    overlay = fixture("juju-multi-doc-overlays-overlay.yaml")
    return rb.load_sources(
        [
            rb.Source(base.read_text(), base.name, str(base.parent)),
            rb.Source(overlay.read_text(), overlay.name, str(tmp_path)),
        ]
    )


def test_every_fixture_file_is_covered() -> None:
    covered = {name for _, base, overlays, *_ in FIXTURE_SETS for name in (base, *overlays)}
    covered.add("juju-multi-doc-overlays-overlay.yaml")  # needs tmp_path: its own test
    on_disk = {path.name for path in FIXTURES.glob("*.yaml")}
    assert len(on_disk) == 13  # 11 published files (4, 5, 6 not shipped) + 2 written
    assert on_disk == covered


@pytest.mark.parametrize(
    ("base", "overlays", "applications", "relations", "machines"),
    [row[1:] for row in FIXTURE_SETS],
    ids=[row[0] for row in FIXTURE_SETS],
)
def test_fixture_loads_with_expected_counts(
    base: str, overlays: tuple[str, ...], applications: int, relations: int, machines: int
) -> None:
    loaded = load_pair(base, *overlays)
    assert len(loaded.applications) == applications
    assert len(loaded.relations) == relations
    assert len(loaded.machines) == machines


@pytest.mark.parametrize(
    ("base", "overlays"), [row[1:3] for row in FIXTURE_SETS], ids=[row[0] for row in FIXTURE_SETS]
)
def test_fixture_round_trips(base: str, overlays: tuple[str, ...]) -> None:
    loaded = load_pair(base, *overlays)
    assert rb.loads(rb.dump(loaded)) == loaded


def test_ck8s_release_details() -> None:
    ck8s = load_pair("charmed-kubernetes-release-1.35.yaml")
    assert ck8s.name == "charmed-kubernetes"
    assert ck8s.docs == "https://discourse.charmhub.io/t/charmed-kubernetes-bundle/14447"
    assert ck8s.default_base == "ubuntu@24.04"  # series: noble
    etcd = ck8s.applications["etcd"]
    assert etcd.constraints == {"cores": "2", "mem": "8G", "root-disk": "16G"}
    assert etcd.options == {"channel": "3.4/stable"}
    assert etcd.channel == "1.35/stable"
    assert etcd.num_units == 3
    assert ck8s.applications["calico"].num_units == 0  # subordinate: no num_units
    assert ck8s.applications["kubernetes-worker"].expose is True
    assert ck8s.applications["easyrsa"].annotations == {"gui-x": "90", "gui-y": "420"}
    lb = rb.RelationSpec.between(
        rb.Endpoint(application="kubernetes-control-plane", endpoint="loadbalancer-external"),
        rb.Endpoint(application="kubeapi-load-balancer", endpoint="lb-consumers"),
    )
    assert lb in ck8s.relations


def test_ck8s_overlays_remove_easyrsa_and_its_relations() -> None:
    merged = load_pair(
        "charmed-kubernetes-release-1.35.yaml",
        "charmed-kubernetes-vault-pki-overlay.yaml",
        "charmed-kubernetes-ceph-rbd-overlay.yaml",
    )
    assert "easyrsa" not in merged.applications
    named = {end.application for relation in merged.relations for end in relation.endpoints}
    assert "easyrsa" not in named
    assert {"vault", "mysql-innodb-cluster", "vault-mysql-router", "ceph-csi"} <= set(
        merged.applications
    )
    assert merged.applications["mysql-innodb-cluster"].options["max-connections"] == 2000
    assert merged.applications["vault-mysql-router"].num_units == 0
    osd = merged.applications["ceph-osd"]
    assert osd.storage["osd-devices"] == rb.StorageDirective(size="8G", count=1)
    assert osd.constraints == {"root-disk": "32G"}
    endpointless = rb.RelationSpec.between(
        rb.Endpoint(application="ceph-csi"), rb.Endpoint(application="kubernetes-control-plane")
    )
    assert endpointless in merged.relations
    assert merged.description == "A highly-available, production-grade Kubernetes cluster."


def test_cos_lite_kubernetes_bundle_and_its_overlays() -> None:
    cos = load_pair("cos-lite-bundle-2021.yaml")
    assert cos.kind == "kubernetes"
    assert cos.name == "lma-light"
    assert cos.description is not None and cos.description.startswith("LMA 2 'Light'")
    assert {app.num_units for app in cos.applications.values()} == {1}  # from scale
    assert all(app.trust for app in cos.applications.values())
    merged = load_pair(
        "cos-lite-bundle-2021.yaml",
        "cos-lite-offers-overlay.yaml",
        "cos-lite-storage-small-overlay.yaml",
    )
    assert set(merged.offers) == {
        "alertmanager-karma-dashboard",
        "grafana-dashboards",
        "loki-logging",
        "prometheus-receive-remote-write",
    }
    assert merged.offers["loki-logging"] == ("loki", rb.OfferSpec(endpoints=("logging",)))
    assert merged.applications["loki"].storage == {
        "active-index-directory": rb.StorageDirective(size="2G"),
        "loki-chunks": rb.StorageDirective(size="10G"),
    }
    dumped = rb.dump(merged)
    assert "scale: 1" in dumped
    assert len(list(yaml.safe_load_all(dumped))) == 2  # offers travel in an overlay document


def test_cmr_saas_consumes_the_offers_of_the_cos_overlay() -> None:
    cmr = load_pair("cos-lite-lxd-ceph-cmr.yaml")
    cos = load_pair("cos-lite-bundle-2021.yaml", "cos-lite-offers-overlay.yaml")
    assert cmr.saas == {
        "graf": rb.SaasSpec(url="microk8s:admin/cos.grafana-dashboards"),
        "prom": rb.SaasSpec(url="microk8s:admin/cos.prometheus-receive-remote-write"),
    }
    offered = {saas.url.rsplit(".", 1)[1] for saas in cmr.saas.values()}
    assert offered <= set(cos.offers)
    assert cmr.default_base == "ubuntu@22.04"  # "/stable" dropped
    assert cmr.machines["0"] == rb.MachineSpec()
    assert cmr.machines["3"].constraints["virt-type"] == "virtual-machine"
    assert [str(p) for p in cmr.applications["ceph-mon"].to] == ["0", "1", "2"]
    assert cmr.applications["ceph-osd"].storage["osd-devices"] == rb.StorageDirective(
        pool="loop", size="5G", count=2
    )
    assert cmr.applications["ceph-mon"].charm_ref == rb.CharmRef(source="charmhub", name="ceph-mon")


def test_easyrsa_multi_doc_applies_its_documents_in_order() -> None:
    loaded = load_pair("juju-easyrsa-etcd-multidoc.yaml")
    assert loaded.default_base == "ubuntu@22.04"  # the third document's series: jammy
    assert loaded.applications["easyrsa"].num_units == 1  # scale
    assert loaded.applications["etcd"].num_units == 1
    offers = loaded.applications["easyrsa"].offers
    assert offers["offer1"] == rb.OfferSpec(
        endpoints=("client",), acl={"admin": "admin", "bar": "consume"}
    )
    assert offers["offer2"] == rb.OfferSpec(endpoints=("client",))


def test_telegraf_pins_revisions_and_places_on_machines() -> None:
    loaded = load_pair("juju-telegraf-bundle.yaml")
    assert loaded.applications["influxdb"].revision == 24
    assert loaded.applications["influxdb"].channel == "stable"
    assert loaded.applications["influxdb"].to == (rb.Placement(machine="0"),)
    assert loaded.applications["telegraf"].num_units == 0
    assert loaded.machines == {"0": rb.MachineSpec(), "1": rb.MachineSpec()}


def test_multi_doc_bundle_with_include_overlay(tmp_path: Path) -> None:
    loaded = load_multi_doc_with_include_overlay(tmp_path)
    annotations = loaded.applications["wordpress"].annotations
    assert annotations["raw"] == "line one\nline two\n"
    assert annotations["base64"] == base64.b64encode(b"line one\nline two\n").decode()
    assert loaded.applications["apache2"].charm_ref == rb.CharmRef(
        source="charmstore", name="apache2", revision=26
    )
    assert loaded.applications["wordpress"].charm_ref == rb.CharmRef(
        source="charmstore", name="wordpress", series="trusty", revision=5
    )
    assert set(loaded.offers) == {"my-offer"}
    assert rb.loads(rb.dump(loaded)) == loaded


def test_legacy_services_fixture() -> None:
    loaded = load_pair("written-legacy-services.yaml")
    assert loaded.default_base == "ubuntu@16.04"
    assert loaded.machines["1"].base == "ubuntu@14.04"  # per-machine series: trusty
    assert loaded.machines["0"].constraints == {"arch": "amd64", "mem": "4G"}
    assert loaded.applications["mysql"].to == (rb.Placement(container="lxd", machine="0"),)
    assert [str(p) for p in loaded.applications["wordpress"].to] == ["0", "lxd:1"]
    assert loaded.applications["mysql"].options == {"dataset-size": "50%"}


def test_machines_placement_fixture() -> None:
    loaded = load_pair("written-machines-placement.yaml")
    db = loaded.applications["db"]
    assert db.options == {"port": 5432, "log-level": "debug"}  # through YAML anchors
    assert db.bindings == {"": "alpha", "replicas": "internal"}
    assert db.charm == str(FIXTURES / "charms" / "db")  # relative to the bundle file
    assert db.charm_ref.source == "path"
    web = loaded.applications["web"]
    assert [str(p) for p in web.to] == ["lxd:0", "lxd:1", "new"]
    assert loaded.machines["2"].base == "ubuntu@22.04"
    assert rb.RelationSpec.between(
        rb.Endpoint(application="web"), rb.Endpoint(application="cache")
    ) in (loaded.relations)


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        (
            "cos-lite-offers-overlay.yaml",
            [
                ("applications.alertmanager.offers", "can only appear in an overlay"),
                ("applications.alertmanager.charm", "is required"),
            ],
        ),
        (
            "charmed-kubernetes-vault-pki-overlay.yaml",
            [("applications.easyrsa", "must be a mapping, not null")],
        ),
    ],
)
def test_overlay_files_are_not_bundles_on_their_own(
    overlay: str, expected: list[tuple[str, str]]
) -> None:
    with pytest.raises(rb.BundleError) as caught:
        rb.load(fixture(overlay))
    found = [(p.path, p.message) for p in caught.value.problems]
    for path, start in expected:
        assert any(p == path and m.startswith(start) for p, m in found), found


# --- overlay merge rules -----------------------------------------------------------------

BASE = """
applications:
  web:
    charm: web
    channel: latest/stable
    num_units: 2
    trust: true
    constraints: mem=4G cores=2
    options: {colour: blue, size: 3, debug: true}
    annotations: {gui-x: "1", gui-y: "2"}
    bindings: {"": alpha, db: internal}
    to: ["0", "1"]
  db:
    charm: postgresql
    num_units: 1
    to: ["0"]
  cache:
    charm: redis
saas:
  remote:
    url: other:admin/model.offer
machines:
  "0": {}
  "1": {}
relations:
  - [web:db, db:db]
  - [web, cache]
  - [remote, web]
  - [db, cache]
"""


def rels(bundle: rb.Bundle) -> set[str]:
    return {str(r) for r in bundle.relations}


# (id, overlays, projection, expected)
OVERLAY_RULES: list[tuple[str, list[str], Any, Any]] = [
    (
        "null removes the application and every relation naming it",
        ["applications: {cache: null}"],
        lambda b: (sorted(b.applications), rels(b)),
        (["db", "web"], {"db:db web:db", "remote web"}),
    ),
    (
        "null removes a saas and its relations",
        ["saas: {remote: null}"],
        lambda b: (b.saas, rels(b)),
        ({}, {"db:db web:db", "cache web", "cache db"}),
    ),
    (
        "options merge key by key, null deletes a key",
        ["applications: {web: {options: {colour: red, debug: null, new: 1.5}}}"],
        lambda b: b.applications["web"].options,
        {"colour": "red", "size": 3, "new": 1.5},
    ),
    (
        "an empty options map clears them",
        ["applications: {web: {options: {}}}"],
        lambda b: b.applications["web"].options,
        {},
    ),
    (
        "a null options map clears them",
        ["applications: {web: {options: null}}"],
        lambda b: b.applications["web"].options,
        {},
    ),
    (
        "annotations and bindings merge",
        ["applications: {web: {annotations: {gui-x: '9'}, bindings: {db: alpha, web: public}}}"],
        lambda b: (b.applications["web"].annotations, b.applications["web"].bindings),
        ({"gui-x": "9", "gui-y": "2"}, {"": "alpha", "db": "alpha", "web": "public"}),
    ),
    (
        "relations are appended, and a restated relation is kept once",
        ["relations: [[db:db, web:db], [web, remote], [db, web]]"],
        rels,
        {"db:db web:db", "cache web", "remote web", "cache db", "db web"},
    ),
    (
        "scalars and lists replace",
        ["applications: {web: {num_units: 1, channel: 2.0/edge, to: ['1']}}"],
        lambda b: (
            b.applications["web"].num_units,
            b.applications["web"].channel,
            [str(p) for p in b.applications["web"].to],
        ),
        (1, "2.0/edge", ["1"]),
    ),
    (
        "constraints are a scalar: replaced, not merged",
        ["applications: {web: {constraints: arch=arm64}}"],
        lambda b: b.applications["web"].constraints,
        {"arch": "arm64"},
    ),
    (
        "a scalar set to null resets it",
        ["applications: {web: {trust: null}}"],
        lambda b: b.applications["web"].trust,
        False,
    ),
    (
        "scale in an overlay sets num_units",
        ["applications: {db: {scale: 1}, web: {scale: 2}}"],
        lambda b: (b.applications["db"].num_units, b.applications["web"].num_units),
        (1, 2),
    ),
    (
        "machines replace the base's machines wholesale",
        [
            "machines: {'0': {constraints: mem=8G}}\n"
            "applications: {web: {to: ['0']}, db: {to: ['0']}}"
        ],
        lambda b: b.machines,
        {"0": rb.MachineSpec(constraints={"mem": "8G"})},
    ),
    (
        "a new application is added",
        ["applications: {extra: {charm: ch:extra, num_units: 1}}\nrelations: [[extra, db]]"],
        lambda b: (b.applications["extra"].num_units, "db extra" in rels(b)),
        (1, True),
    ),
    (
        "overlays apply in order",
        ["applications: {web: {num_units: 1}}", "applications: {web: {num_units: 2}}"],
        lambda b: b.applications["web"].num_units,
        2,
    ),
    (
        "an overlay's series overrides the base's default base",
        ["series: jammy", "default-base: ubuntu@24.04/stable"],
        lambda b: b.default_base,
        "ubuntu@24.04",
    ),
    (
        "an overlay's metadata is ignored",
        ["name: other\ndescription: ignored\nbundle: kubernetes"],
        lambda b: (b.name, b.description, b.kind),
        (None, None, "machine"),
    ),
    (
        "an empty overlay document changes nothing",
        ["", "---\n"],
        lambda b: len(b.applications),
        3,
    ),
    (
        "offers merge, and null deletes one",
        [
            "applications: {db: {offers: {a: {endpoints: [db]}, b: {endpoints: [db]}}}}",
            "applications: {db: {offers: {a: null}}}",
        ],
        lambda b: sorted(b.offers),
        ["b"],
    ),
]


@pytest.mark.parametrize(
    ("overlays", "projection", "expected"),
    [row[1:] for row in OVERLAY_RULES],
    ids=[row[0] for row in OVERLAY_RULES],
)
def test_overlay_rule(overlays: list[str], projection: Any, expected: Any) -> None:
    assert projection(rb.loads(BASE, overlays=overlays)) == expected


def test_the_base_is_unchanged_without_overlays() -> None:
    plain = rb.loads(BASE)
    assert plain.applications["web"].options == {"colour": "blue", "size": 3, "debug": True}
    assert rels(plain) == {"db:db web:db", "cache web", "remote web", "cache db"}


def test_overlay_that_removes_an_app_cannot_relate_to_it() -> None:
    # Juju removes relations before appending the overlay's own, so this one dangles.
    found = problems_of(BASE, "applications: {cache: null}\nrelations: [[cache, db]]")
    assert found == [("relations[0]", 'application "cache" is not in the bundle')]


def test_multi_doc_overlays_apply_before_overlay_files() -> None:
    text = BASE + "---\napplications: {web: {num_units: 1, to: ['1']}}\n"
    loaded = rb.loads(text, overlays=["applications: {web: {channel: edge}}"])
    assert (loaded.applications["web"].num_units, loaded.applications["web"].channel) == (
        1,
        "edge",
    )
    loaded = rb.loads(text + "---\napplications: {web: {num_units: 2}}\n")
    assert loaded.applications["web"].num_units == 2


def test_problems_name_the_document_they_come_from() -> None:
    text = BASE + "--- # overlay\napplications: {web: {num_units: -1}}\n"
    with pytest.raises(rb.BundleError) as caught:
        rb.loads(text, overlays=["applications: {db: {trust: maybe}}"], name="b.yaml")
    found = [(p.source, p.path, p.message) for p in caught.value.problems]
    assert found == [
        ("b.yaml (document 2)", "applications.web.num_units", "must be a non-negative integer"),
        ("<overlay 1>", "applications.db.trust", "must be true or false, not a string"),
    ]
    assert "b.yaml (document 2): applications.web.num_units: must be" in str(caught.value)


# --- every error kind --------------------------------------------------------------------

APP = "applications:\n  web:\n    charm: web\n"
MACHINES = "machines: {'0': {}}\n"


# (id, bundle text, overlays, expected (path, message))
ERRORS: list[tuple[str, str, list[str], tuple[str, str]]] = [
    ("empty file", "", [], ("", "the bundle is empty")),
    ("comment only", "# nothing\n", [], ("", "the bundle is empty")),
    ("not a mapping", "- a\n- b\n", [], ("", "a bundle document must be a mapping, not a list")),
    (
        "overlay not a mapping",
        APP,
        ["just text"],
        ("", "an overlay document must be a mapping, not a string"),
    ),
    ("no applications", "name: x\n", [], ("applications", "at least one application is required")),
    ("unknown top-level key", APP + "colour: red\n", [], ("colour", "unknown key")),
    (
        "misspelt top-level key",
        "aplications: {web: {charm: web}}\n",
        [],
        ("aplications", 'unknown key; did you mean "applications"?'),
    ),
    (
        "misspelt application key",
        APP + "    num_unit: 2\n",
        [],
        ("applications.web.num_unit", 'unknown key; did you mean "num_units"?'),
    ),
    (
        "applications is a list",
        "applications: [web]\n",
        [],
        ("applications", "must be a mapping, not a list"),
    ),
    (
        "application body is a string",
        "applications: {web: ch:web}\n",
        [],
        ("applications.web", "must be a mapping, not a string"),
    ),
    (
        "null application in the base",
        "applications: {web: {charm: web}, db: null}\n",
        [],
        (
            "applications.db",
            "must be a mapping, not null (only an overlay may null an application)",
        ),
    ),
    (
        "invalid application name",
        "applications: {Web_1: {charm: web}}\n",
        [],
        (
            "applications.Web_1",
            'invalid application name "Web_1": lowercase letters, digits and hyphens,'
            " starting with a letter",
        ),
    ),
    (
        "missing charm",
        "applications: {web: {num_units: 1}}\n",
        [],
        ("applications.web.charm", "is required"),
    ),
    (
        "empty charm",
        "applications: {web: {charm: ''}}\n",
        [],
        ("applications.web.charm", "must not be empty"),
    ),
    (
        "charm is a number",
        "applications: {web: {charm: 7}}\n",
        [],
        ("applications.web.charm", "must be a string, not an integer"),
    ),
    (
        "unknown charm scheme",
        "applications: {web: {charm: 'http:web'}}\n",
        [],
        (
            "applications.web.charm",
            'unknown charm scheme "http:" (expected ch:, cs:, local: or a path)',
        ),
    ),
    (
        "bad charm name",
        "applications: {web: {charm: Web}}\n",
        [],
        (
            "applications.web.charm",
            'invalid charm name in "Web": lowercase letters, digits and hyphens, starting with a'
            " letter",
        ),
    ),
    (
        "charmhub revision in the name",
        "applications: {web: {charm: 'ch:web-3'}}\n",
        [],
        (
            "applications.web.charm",
            'a Charmhub charm cannot carry its revision in its name ("ch:web-3"); use revision: 3',
        ),
    ),
    (
        "revision in the URL and in revision",
        "applications: {web: {charm: 'cs:web-3', revision: 4}}\n",
        [],
        ("applications.web.revision", 'the charm URL "cs:web-3" already gives revision 3'),
    ),
    (
        "revision without channel",
        APP + "    revision: 4\n",
        [],
        (
            "applications.web.revision",
            "needs a channel too (Juju requires one, for later upgrades)",
        ),
    ),
    (
        "negative revision",
        APP + "    channel: stable\n    revision: -4\n",
        [],
        ("applications.web.revision", "must be a non-negative integer"),
    ),
    (
        "bad channel",
        APP + "    channel: 1.0/latest/x\n",
        [],
        (
            "applications.web.channel",
            'invalid channel "1.0/latest/x": expected [track/]risk[/branch], e.g. 8.0/stable',
        ),
    ),
    (
        "negative num_units",
        APP + "    num_units: -1\n",
        [],
        ("applications.web.num_units", "must be a non-negative integer"),
    ),
    (
        "num_units is text",
        APP + "    num_units: three\n",
        [],
        ("applications.web.num_units", "must be a non-negative integer"),
    ),
    (
        "num_units is a boolean",
        APP + "    num_units: true\n",
        [],
        ("applications.web.num_units", "must be a non-negative integer"),
    ),
    (
        "scale and num_units",
        APP + "    num_units: 1\n    scale: 1\n",
        [],
        ("applications.web.scale", 'is another name for "num_units"; give one of them'),
    ),
    (
        "trust is text",
        APP + "    trust: 'yes please'\n",
        [],
        ("applications.web.trust", "must be true or false, not a string"),
    ),
    (
        "option value is a list",
        APP + "    options: {ports: [1, 2]}\n",
        [],
        ("applications.web.options.ports", "must be a string, number or boolean, not a list"),
    ),
    (
        "option value is not finite",
        APP + "    options: {ratio: .nan}\n",
        [],
        ("applications.web.options.ratio", "must be a finite number"),
    ),
    (
        "options is a list",
        APP + "    options: [a]\n",
        [],
        ("applications.web.options", "must be a mapping, not a list"),
    ),
    (
        "option key is a number",
        APP + "    options: {1: a}\n",
        [],
        ('applications.web.options["1"]', "keys must be strings, not an integer"),
    ),
    (
        "unknown constraint",
        APP + "    constraints: mem=4G colour=red\n",
        [],
        ("applications.web.constraints", 'unknown constraint "colour"'),
    ),
    (
        "constraint without a value",
        APP + "    constraints: mem\n",
        [],
        ("applications.web.constraints", 'invalid constraint "mem": expected key=value'),
    ),
    (
        "bad constraint value",
        APP + "    constraints: cores=two\n",
        [],
        ("applications.web.constraints", 'constraint cores must be a whole number, not "two"'),
    ),
    (
        "constraint given twice",
        APP + "    constraints: mem=1G mem=2G\n",
        [],
        ("applications.web.constraints", 'constraint "mem" is given twice'),
    ),
    (
        "bad storage",
        APP + "    storage: {data: 'ebs,10G,1,2'}\n",
        [],
        ("applications.web.storage.data", 'invalid storage "ebs,10G,1,2": two counts'),
    ),
    (
        "bad storage name",
        APP + "    storage: {Data: 10G}\n",
        [],
        (
            "applications.web.storage.Data",
            'invalid storage name "Data": lowercase letters, digits and hyphens, starting with a'
            " letter",
        ),
    ),
    (
        "resource is a boolean",
        APP + "    resources: {image: true}\n",
        [],
        ("applications.web.resources.image", "must be a revision number or a path, not a boolean"),
    ),
    (
        "binding to a bad endpoint name",
        APP + "    bindings: {Db: alpha}\n",
        [],
        ("applications.web.bindings.Db", 'invalid endpoint name "Db"'),
    ),
    (
        "invalid base",
        APP + "    base: jammy\n",
        [],
        (
            "applications.web.base",
            'invalid base "jammy": expected OS@VERSION, such as ubuntu@22.04',
        ),
    ),
    (
        "unknown series",
        "series: plan9\n" + APP,
        [],
        ("series", 'unknown series "plan9"; give a base instead, such as ubuntu@22.04'),
    ),
    (
        "series and default-base disagree",
        "series: focal\ndefault-base: ubuntu@22.04\n" + APP,
        [],
        ("default-base", 'names a different base than "series"'),
    ),
    (
        "bad bundle type",
        "bundle: k8s\n" + APP,
        [],
        ("bundle", 'must be "kubernetes" or left out, not "k8s"'),
    ),
    # placement
    (
        "placement on an undefined machine",
        MACHINES + APP + "    num_units: 2\n    to: ['7', '0']\n",
        [],
        ("applications.web.to[0]", 'machine "7" is not defined in machines'),
    ),
    (
        "more placements than units",
        MACHINES + APP + "    num_units: 2\n    to: ['0', new, 'lxd:0']\n",
        [],
        ("applications.web.to", "3 placements for 2 units"),
    ),
    (
        "placement with no units",
        MACHINES + APP + "    to: ['0']\n",
        [],
        ("applications.web.to", "1 placement for 0 units"),
    ),
    (
        "bad placement syntax",
        APP + "    num_units: 1\n    to: ['machine-0']\n",
        [],
        (
            "applications.web.to[0]",
            'invalid placement "machine-0": expected [lxd:|kvm:](machine number | new |'
            " application[/unit]) or zone=NAME",
        ),
    ),
    (
        "unknown container type",
        MACHINES + APP + "    num_units: 1\n    to: ['docker:0']\n",
        [],
        (
            "applications.web.to[0]",
            'unknown container type "docker" in "docker:0" (expected lxd or kvm)',
        ),
    ),
    (
        "new with a unit number",
        APP + "    num_units: 1\n    to: ['new/1']\n",
        [],
        ("applications.web.to[0]", 'invalid placement "new/1": "new" takes no unit number'),
    ),
    (
        "placement on an unknown application",
        APP + "    num_units: 1\n    to: ['lxd:db/0']\n",
        [],
        ("applications.web.to[0]", 'application "db" is not in the bundle'),
    ),
    (
        "placement on a unit beyond the target's units",
        APP + "    num_units: 1\n    to: ['db/2']\n  db: {charm: db, num_units: 2}\n",
        [],
        ("applications.web.to[0]", 'unit db/2 does not exist: application "db" has 2 units'),
    ),
    (
        "placement key in a machine bundle",
        APP + "    placement: zone=a\n",
        [],
        ("applications.web.placement", 'is only for Kubernetes bundles; use "to" to place units'),
    ),
    (
        "two placements in a Kubernetes bundle",
        "bundle: kubernetes\n" + APP + "    to: [a=b, c=d]\n",
        [],
        ("applications.web.to", "a Kubernetes application takes one placement, not 2"),
    ),
    (
        "bad node selector",
        "bundle: kubernetes\n" + APP + "    placement: nodepool\n",
        [],
        (
            "applications.web.placement",
            'invalid node selector "nodepool": expected key=value[,key=value]',
        ),
    ),
    # machines
    (
        "machine not referred to",
        "machines: {'0': {}, '1': {}}\n" + APP + "    num_units: 1\n    to: ['0']\n",
        [],
        ("machines.1", "is not referred to by any placement (to:); Juju refuses unused machines"),
    ),
    (
        "bad machine id",
        "machines: {m1: {}}\n" + APP,
        [],
        ("machines.m1", 'machine ids are whole numbers, such as "0"'),
    ),
    (
        "machine id given twice",
        "machines: {0: {}, '0': {}}\n" + APP + "    num_units: 1\n    to: ['0']\n",
        [],
        ("machines.0", 'machine "0" is defined twice'),
    ),
    (
        "machine key unknown",
        "machines: {'0': {cpu: 2}}\n" + APP + "    num_units: 1\n    to: ['0']\n",
        [],
        ("machines.0.cpu", "unknown key"),
    ),
    (
        "machines in a Kubernetes bundle",
        "bundle: kubernetes\n" + MACHINES + APP,
        [],
        ("machines", "a Kubernetes bundle cannot have machines"),
    ),
    # relations
    (
        "relation to an application not in the bundle",
        APP
        + "  a: {charm: a}\n  b: {charm: b}\n"
        + "relations:\n  - [web, a]\n  - [a, b]\n  - [b, web]\n  - [web:db, db:db]\n",
        [],
        ("relations[3]", 'application "db" is not in the bundle'),
    ),
    (
        "relation of three endpoints",
        APP + "  db: {charm: db}\nrelations: [[web, db, web]]\n",
        [],
        ("relations[0]", "must be a pair of endpoints, not 3 item(s)"),
    ),
    (
        "relation is a string",
        APP + "relations: ['web db']\n",
        [],
        ("relations[0]", 'must be a pair ["app[:endpoint]", "app[:endpoint]"], not a string'),
    ),
    (
        "juju-deployer nested relation",
        APP + "  a: {charm: a}\n  b: {charm: b}\nrelations: [['web:db', [a, b]]]\n",
        [],
        (
            "relations[0][1]",
            "a nested list (the juju-deployer form) is not supported by Juju; write one pair"
            " per relation",
        ),
    ),
    (
        "bad endpoint syntax",
        APP + "  db: {charm: db}\nrelations: [['web:', db]]\n",
        [],
        ("relations[0][0]", 'invalid endpoint "web:": expected application[:endpoint]'),
    ),
    (
        "relation to itself",
        APP + "relations: [['web:a', 'web:b']]\n",
        [],
        ("relations[0]", 'relates application "web" to itself'),
    ),
    # saas, offers, expose
    (
        "saas clashes with an application",
        APP + "saas: {web: {url: 'm.web'}}\n",
        [],
        ("saas.web", '"web" is also an application; SAAS and application names must differ'),
    ),
    (
        "bad offer URL",
        APP + "saas: {db: {url: 'not a url'}}\n",
        [],
        ("saas.db.url", 'invalid offer URL "not a url": expected [controller:][user/]model.offer'),
    ),
    (
        "saas without url",
        APP + "saas: {db: {}}\n",
        [],
        ("saas.db.url", "is required: the offer to consume"),
    ),
    (
        "offers in the base",
        APP + "    offers: {o: {endpoints: [db]}}\n",
        [],
        (
            "applications.web.offers",
            "can only appear in an overlay (a later document or --overlay file)",
        ),
    ),
    (
        "exposed-endpoints in the base",
        APP + "    exposed-endpoints: {'': {expose-to-cidrs: [10.0.0.0/8]}}\n",
        [],
        (
            "applications.web.exposed-endpoints",
            "can only appear in an overlay (a later document or --overlay file)",
        ),
    ),
    (
        "expose with exposed-endpoints",
        APP + "    expose: true\n",
        ["applications: {web: {exposed-endpoints: {'': {expose-to-spaces: [alpha]}}}}"],
        (
            "applications.web.exposed_endpoints",
            "cannot be combined with expose: true (an older controller would expose every"
            " endpoint to 0.0.0.0/0)",
        ),
    ),
    (
        "bad CIDR",
        APP,
        ["applications: {web: {exposed-endpoints: {'': {expose-to-cidrs: [10.0.0.300/8]}}}}"],
        (
            'applications.web.exposed-endpoints[""].expose-to-cidrs[0]',
            'invalid CIDR "10.0.0.300/8"',
        ),
    ),
    (
        "offer without endpoints",
        APP,
        ["applications: {web: {offers: {o: {acl: {bob: read}}}}}"],
        ("applications.web.offers.o.endpoints", "is required: the endpoints this offer exposes"),
    ),
    (
        "bad offer access",
        APP,
        ["applications: {web: {offers: {o: {endpoints: [db], acl: {bob: write}}}}}"],
        ("applications.web.offers.o.acl.bob", 'must be read, consume or admin, not "write"'),
    ),
    (
        "one offer name on two applications",
        APP + "  db: {charm: db}\n",
        [
            "applications: {web: {offers: {o: {endpoints: [a]}}},"
            " db: {offers: {o: {endpoints: [b]}}}}"
        ],
        ("applications.db.offers", 'offer "o" is also made by application "web"'),
    ),
    (
        "services in an overlay",
        APP,
        ["services: {web: {num_units: 1}}"],
        ("services", 'overlays must use "applications"; "services" is its pre-2.0 name'),
    ),
    (
        "services and applications",
        APP + "services: {db: {charm: db}}\n",
        [],
        ("services", '"services" is the old name of "applications"; give one'),
    ),
    # YAML-level
    (
        "YAML syntax error with its line",
        "applications:\n  web:\n    charm: [web\n",
        [],
        ("", "invalid YAML at line 4, column 1: ..."),
    ),
    (
        "duplicate application key",
        "applications:\n  web: {charm: a}\n  web: {charm: b}\n",
        [],
        ("", "invalid YAML at line 3, column 3: found duplicate key 'web' (first given on line 2)"),
    ),
    (
        "unknown YAML tag",
        "applications: !thing {}\n",
        [],
        ("", "invalid YAML at line 1, column 15: ..."),
    ),
    (
        "control character",
        "name: \x01\n",
        [],
        ("", "invalid YAML: ..."),
    ),
    (
        "recursive alias",
        APP + "variables: &loop [*loop]\n",
        [],
        ("", "a YAML alias refers to a collection that contains it (line 4)"),
    ),
]


@pytest.mark.parametrize(
    ("text", "overlays", "expected"),
    [row[1:] for row in ERRORS],
    ids=[row[0] for row in ERRORS],
)
def test_error(text: str, overlays: list[str], expected: tuple[str, str]) -> None:
    """A message ending in "..." is ours up to there; the rest is the YAML library's reason,
    whose wording is not ours to pin (only that there is one)."""
    found = problems_of(text, *overlays)
    path, message = expected
    if message.endswith("..."):
        prefix = message.removesuffix("...")
        assert any(p == path and m.startswith(prefix) and len(m) > len(prefix) for p, m in found)
    else:
        assert expected in found


def test_every_problem_is_reported_at_once() -> None:
    text = (
        "colour: red\n"
        "machines: {'0': {}, '5': {}}\n"
        "applications:\n"
        "  web: {charm: web, num_units: -2, trust: 1}\n"
        "  db: {charm: db, num_units: 1, to: ['9']}\n"
        "relations: [[web, nowhere]]\n"
    )
    assert problems_of(text) == [
        ("colour", "unknown key"),
        ("applications.web.num_units", "must be a non-negative integer"),
        ("applications.web.trust", "must be true or false, not an integer"),
        ("applications.db.to[0]", 'machine "9" is not defined in machines'),
        ("relations[0]", 'application "nowhere" is not in the bundle'),
        ("machines.0", "is not referred to by any placement (to:); Juju refuses unused machines"),
        ("machines.5", "is not referred to by any placement (to:); Juju refuses unused machines"),
    ]


def test_an_invalid_field_does_not_cascade() -> None:
    # A bad num_units must not also produce "2 placements for 0 units", and a bad
    # placement must not make its machine look unused.
    text = MACHINES + APP + "    num_units: two\n    to: ['0', 'lxd:0', 'bad:x:y']\n"
    assert problems_of(text) == [
        ("applications.web.num_units", "must be a non-negative integer"),
        (
            "applications.web.to[2]",
            'invalid placement "bad:x:y": expected [lxd:|kvm:](machine number | new |'
            " application[/unit]) or zone=NAME",
        ),
    ]


# --- YAML bombs and limits ---------------------------------------------------------------


def billion_laughs(levels: int = 9) -> str:
    lines = ["variables:", '  l0: &l0 "lol"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"  l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n" + APP


def test_billion_laughs_is_refused_quickly() -> None:
    assert problems_of(billion_laughs()) == [
        (
            "",
            f"YAML aliases expand this document past {rb.MAX_NODES} nodes"
            " (an alias bomb?) (line 7)",
        )
    ]


def test_moderate_anchor_use_is_fine() -> None:
    loaded = rb.loads(billion_laughs(levels=3))  # 1,111 nodes
    assert set(loaded.applications) == {"web"}


@pytest.mark.parametrize("opener", ["[", "{a: "], ids=["lists", "mappings"])
def test_deep_nesting_is_refused_without_crashing(opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = "variables: " + opener * 100_000 + closer * 100_000 + "\n" + APP
    assert problems_of(text) == [
        ("", f"YAML collections are nested more than {rb.MAX_DEPTH} deep (line 1)")
    ]


def test_alias_chains_cannot_nest_past_the_limit() -> None:
    lines = ["variables:", "  a0: &a0 []"]
    lines += [f"  a{i}: &a{i} [*a{i - 1}]" for i in range(1, rb.MAX_DEPTH + 2)]
    found = problems_of("\n".join(lines) + "\n" + APP)
    assert len(found) == 1
    assert found[0][1].startswith(f"YAML aliases nest collections more than {rb.MAX_DEPTH} deep")


def test_huge_text_is_refused() -> None:
    text = APP + "description: " + "x" * rb.MAX_DOCUMENT_CHARS + "\n"
    assert problems_of(text) == [("", f"is larger than {rb.MAX_DOCUMENT_CHARS} characters")]


# --- include-file:// and include-base64:// -----------------------------------------------


def write_bundle(directory: Path, text: str, name: str = "bundle.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


INCLUDES = APP + "    options:\n      cert: {value}\n"


def test_include_file_and_base64(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "cert.pem").write_text("-----BEGIN-----\nabc\n")
    (tmp_path / "blob.bin").write_bytes(b"\xff\x00\x01")
    text = (
        "machines: {'0': {annotations: {k: 'include-base64://files/cert.pem'}}}\n"
        "applications:\n"
        "  web:\n"
        "    charm: web\n"
        "    num_units: 1\n"
        "    to: ['0']\n"
        "    options:\n"
        "      cert: include-file://files/cert.pem\n"
        "      blob: include-base64://blob.bin\n"
        "      plain: include-nothing://x\n"
        "    annotations: {note: 'include-file://files/cert.pem'}\n"
    )
    loaded = rb.load(write_bundle(tmp_path, text))
    web = loaded.applications["web"]
    assert web.options == {
        "cert": "-----BEGIN-----\nabc\n",
        "blob": base64.b64encode(b"\xff\x00\x01").decode(),
        "plain": "include-nothing://x",
    }
    assert web.annotations == {"note": "-----BEGIN-----\nabc\n"}
    assert loaded.machines["0"].annotations == {
        "k": base64.b64encode(b"-----BEGIN-----\nabc\n").decode()
    }
    assert rb.loads(rb.dump(loaded)) == loaded


def test_include_may_leave_the_bundle_directory_by_a_relative_path(tmp_path: Path) -> None:
    (tmp_path / "shared.txt").write_text("shared")
    bundle = write_bundle(
        tmp_path / "bundles", INCLUDES.format(value="include-file://../shared.txt")
    )
    assert rb.load(bundle).applications["web"].options == {"cert": "shared"}


def test_overlay_includes_resolve_next_to_the_overlay(tmp_path: Path) -> None:
    base = write_bundle(tmp_path / "base", APP)
    overlay = write_bundle(
        tmp_path / "over",
        "applications:\n  web:\n    charm: ./charm\n    options: {x: include-file://x.txt}\n",
        "overlay.yaml",
    )
    (tmp_path / "over" / "x.txt").write_text("from overlay")
    loaded = rb.load(base, [overlay])
    assert loaded.applications["web"].options == {"x": "from overlay"}
    assert loaded.applications["web"].charm == str(tmp_path / "over" / "charm")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "include-file://missing.txt",
            'include file "missing.txt" does not exist (looked for {dir}/missing.txt)',
        ),
        ("include-file://sub", 'include file "sub" is a directory'),
        (
            "include-file:///etc/hostname",
            'include path "/etc/hostname" is absolute; give it relative to the bundle file',
        ),
        ("include-base64://", '"include-base64://" needs a file path after it'),
        (
            "include-file://binary.bin",
            'include file "binary.bin" is not UTF-8 text; use include-base64:// for binary files',
        ),
        (
            "include-file://big.txt",
            f'include file "big.txt" is larger than {rb.MAX_INCLUDE_BYTES} bytes',
        ),
    ],
    ids=["missing", "directory", "absolute", "no path", "binary", "too big"],
)
def test_include_errors(tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "binary.bin").write_bytes(b"\xff\xfe")
    (tmp_path / "big.txt").write_bytes(b"x" * (rb.MAX_INCLUDE_BYTES + 1))
    bundle = write_bundle(tmp_path, INCLUDES.format(value=value))
    with pytest.raises(rb.BundleError) as caught:
        rb.load(bundle)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("applications.web.options.cert", message.format(dir=tmp_path))
    ]


def test_include_needs_a_directory() -> None:
    assert problems_of(INCLUDES.format(value="include-file://x")) == [
        (
            "applications.web.options.cert",
            'cannot resolve "include-file://x": the bundle was not read from a file, so there'
            " is no directory to find it in",
        )
    ]


def test_unreadable_bundle_files(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(rb.BundleError) as caught:
        rb.load(tmp_path / "missing.yaml", [tmp_path, tmp_path / "latin1.yaml"])
    assert [(p.source, p.message) for p in caught.value.problems] == [
        (
            str(tmp_path / "missing.yaml"),
            f"cannot read the file: it does not exist (looked for {tmp_path / 'missing.yaml'})",
        ),
        (str(tmp_path), "cannot read the file: it is a directory"),
        (str(tmp_path / "latin1.yaml"), "is not UTF-8 text (invalid continuation byte)"),
    ]


# --- legacy and normalisation ------------------------------------------------------------

# (id, bundle text, projection, expected)
NORMALISATION: list[tuple[str, str, Any, Any]] = [
    (
        "services is applications",
        "services: {web: {charm: web}}\n",
        lambda b: list(b.applications),
        ["web"],
    ),
    ("series becomes a base", "series: focal\n" + APP, lambda b: b.default_base, "ubuntu@20.04"),
    (
        "default-series is series",
        "default-series: noble\n" + APP,
        lambda b: b.default_base,
        "ubuntu@24.04",
    ),
    (
        "the kubernetes pseudo-series names no base",
        "series: kubernetes\n" + APP,
        lambda b: b.default_base,
        None,
    ),
    (
        "application series becomes base",
        APP + "    series: jammy\n",
        lambda b: b.applications["web"].base,
        "ubuntu@22.04",
    ),
    (
        "series and base that agree",
        APP + "    series: jammy\n    base: ubuntu@22.04/stable\n",
        lambda b: b.applications["web"].base,
        "ubuntu@22.04",
    ),
    ("scale is num_units", APP + "    scale: 3\n", lambda b: b.applications["web"].num_units, 3),
    (
        "lxc placement is lxd",
        MACHINES + APP + "    num_units: 1\n    to: ['lxc:0']\n",
        lambda b: str(b.applications["web"].to[0]),
        "lxd:0",
    ),
    (
        "a scalar to is one placement",
        MACHINES + APP + "    num_units: 1\n    to: 0\n",
        lambda b: b.applications["web"].to,
        (rb.Placement(machine="0"),),
    ),
    (
        "integer machine keys",
        "machines: {0: {}}\n" + APP + "    num_units: 1\n    to: [0]\n",
        lambda b: list(b.machines),
        ["0"],
    ),
    (
        "Kubernetes to is the placement",
        "bundle: kubernetes\n" + APP + "    to: ['pool=fast']\n",
        lambda b: (b.applications["web"].placement, b.applications["web"].to),
        ("pool=fast", ()),
    ),
    (
        "cpu-cores is cores",
        APP + "    constraints: cpu-cores=4 mem=\n",
        lambda b: b.applications["web"].constraints,
        {"cores": "4", "mem": ""},
    ),
    (
        "annotations read as text",
        APP + "    annotations: {gui-x: 475, shown: true}\n",
        lambda b: b.applications["web"].annotations,
        {"gui-x": "475", "shown": "true"},
    ),
    (
        "timestamps stay text",
        APP + "    options: {since: 2024-01-02, bad: 2021-02-30}\n",
        lambda b: b.applications["web"].options,
        {"since": "2024-01-02", "bad": "2021-02-30"},
    ),
    (
        "YAML merge keys may override",
        "variables:\n  common: &common {charm: web, num_units: 2}\n"
        "applications:\n  web:\n    <<: *common\n    num_units: 3\n",
        lambda b: (b.applications["web"].charm, b.applications["web"].num_units),
        ("web", 3),
    ),
    (
        "null sections are empty",
        APP + "    options:\n    annotations:\nmachines:\nrelations:\nsaas: {}\n",
        lambda b: (b.applications["web"].options, b.machines, b.relations),
        ({}, {}, ()),
    ),
    (
        "resources by revision or path",
        APP + "    resources: {image: 3, blob: ./blob.tgz}\n",
        lambda b: b.applications["web"].resources,
        {"image": 3, "blob": "./blob.tgz"},
    ),
    (
        "zone placement",
        APP + "    num_units: 1\n    to: [zone=us-east-1a]\n",
        lambda b: b.applications["web"].to,
        (rb.Placement(zone="us-east-1a"),),
    ),
    (
        "plan is accepted and dropped",
        APP + "    plan: default\n",
        lambda b: b.applications["web"].charm,
        "web",
    ),
]


@pytest.mark.parametrize(
    ("text", "projection", "expected"),
    [row[1:] for row in NORMALISATION],
    ids=[row[0] for row in NORMALISATION],
)
def test_normalisation(text: str, projection: Any, expected: Any) -> None:
    loaded = rb.loads(text)
    assert projection(loaded) == expected
    assert rb.loads(rb.dump(loaded)) == loaded


@pytest.mark.parametrize(
    ("charm", "expected"),
    [
        ("mysql", rb.CharmRef(source="charmhub", name="mysql")),
        ("ch:mysql", rb.CharmRef(source="charmhub", name="mysql")),
        ("ch:amd64/jammy/mysql", rb.CharmRef(source="charmhub", name="mysql", series="jammy")),
        ("cs:apache2-26", rb.CharmRef(source="charmstore", name="apache2", revision=26)),
        (
            "cs:~bob/xenial/my-app-3",
            rb.CharmRef(source="charmstore", name="my-app", series="xenial", revision=3),
        ),
        ("local:trusty/web", rb.CharmRef(source="local", name="web", series="trusty")),
        (
            "/srv/charms/web.charm",
            rb.CharmRef(source="path", name="web", path="/srv/charms/web.charm"),
        ),
        ("./web", rb.CharmRef(source="path", name="web", path="./web")),
    ],
)
def test_charm_references(charm: str, expected: rb.CharmRef) -> None:
    loaded = rb.loads(f"applications: {{web: {{charm: '{charm}'}}}}\n")
    assert loaded.applications["web"].charm_ref == expected


@pytest.mark.parametrize(
    ("to", "units", "expected"),
    [
        ([], 2, ["new", "new"]),
        (["lxd:0"], 3, ["lxd:0", "lxd:0", "lxd:0"]),
        (["0", "new"], 3, ["0", "new", "new"]),
        (["db", "db"], 3, ["db/0", "db/1", "db/2"]),
        (["db/1", "db"], 2, ["db/1", "db/2"]),
        (["lxd:db"], 2, ["lxd:db/0", "lxd:db/1"]),
        (["0"], 0, []),
    ],
)
def test_unit_placements_follow_juju(to: list[str], units: int, expected: list[str]) -> None:
    placements = [model._parse_placement(t) for t in to]
    assert all(isinstance(p, rb.Placement) for p in placements)
    spec = rb.ApplicationSpec(charm="web", num_units=units, to=tuple(placements))  # type: ignore[arg-type]
    assert [str(p) for p in spec.unit_placements()] == expected


# --- model behaviour ---------------------------------------------------------------------


def test_relations_are_canonical_and_deduplicated() -> None:
    loaded = rb.loads(APP + "  db: {charm: db}\nrelations: [[web:db, db:db], [db:db, web:db]]\n")
    assert len(loaded.relations) == 1
    relation = loaded.relations[0]
    assert [str(e) for e in relation.endpoints] == ["db:db", "web:db"]
    assert rb.RelationSpec.between(*reversed(relation.endpoints)) == relation


def test_models_are_frozen() -> None:
    loaded = rb.loads(APP)
    with pytest.raises(ValueError, match="frozen"):
        loaded.applications["web"].num_units = 3  # type: ignore[misc]


def test_placement_needs_exactly_one_target() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        rb.Placement(machine="0", application="db")


def test_bundle_error_reads_well_and_pickles() -> None:
    error = rb.BundleError(
        [rb.BundleProblem("a.b", "is wrong", "x.yaml"), rb.BundleProblem("", "bad file")]
    )
    assert str(error) == "2 problems in bundle:\n  x.yaml: a.b: is wrong\n  bad file"
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.problems == error.problems


def test_dump_is_deterministic_and_juju_shaped() -> None:
    loaded = load_pair("juju-telegraf-bundle.yaml")
    dumped = rb.dump(loaded)
    assert dumped == rb.dump(rb.loads(dumped))
    document = yaml.safe_load(dumped)
    assert list(document) == ["default-base", "machines", "applications", "relations"]
    assert document["applications"]["influxdb"] == {
        "charm": "influxdb",
        "channel": "stable",
        "revision": 24,
        "num_units": 1,
        "to": ["0"],
        "constraints": "arch=amd64",
    }


def test_module_imports_nothing_of_ours() -> None:
    """The bundle modules import each other and nothing else of ours but the name rules and
    the wording of validation failures."""
    for path in Path(rb.__file__).parent.glob("*bundle*.py"):
        tree = ast.parse(path.read_text())
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        ours = {name for name in imported if name.startswith("runecraft")}
        allowed = {"runecraft.schemas.names", "runecraft.schemas.problems"}
        assert all(n.startswith("runecraft.schemas._bundle_") or n in allowed for n in ours), path
    assert set(rb.__all__) <= set(dir(rb))


# --- Hypothesis: junk never escapes as anything but BundleError ---------------------------


def load_or_bundle_error(text: str, *overlays: str) -> None:
    try:
        rb.loads(text, overlays=overlays)
    except rb.BundleError as error:
        assert error.problems
        for problem in error.problems:
            assert isinstance(problem.path, str) and problem.message


@HYPOTHESIS
@given(st.text())
def test_random_text_only_raises_bundle_error(text: str) -> None:
    load_or_bundle_error(text)


YAML_ALPHABET = st.sampled_from(list("{}[]:,-&*!|>'\"%@`#? \n\tabc019_=/.~\\"))


@HYPOTHESIS
@given(st.text(YAML_ALPHABET, max_size=200))
def test_yamlish_text_only_raises_bundle_error(text: str) -> None:
    load_or_bundle_error(text)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["new", "lxd:0", "0", "web", "web:db", "mem=4G", "ubuntu@22.04", "jammy"])
)
garbage = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(0, 3), inner, max_size=4)
    ),
    max_leaves=20,
)
app_keys = st.sampled_from(sorted(model._APP_KEYS | {"nonsense"}))
top_keys = st.sampled_from(sorted(model._TOP_KEYS | {"nonsense"}))


@st.composite
def structured_garbage(draw: st.DrawFn) -> dict[Any, Any]:
    """A bundle-shaped mapping whose sections and fields hold random values."""
    apps = draw(
        st.dictionaries(
            st.sampled_from(["web", "db", "Bad", "cache"]),
            st.none() | garbage | st.dictionaries(app_keys, garbage, max_size=6),
            max_size=3,
        )
    )
    document: dict[Any, Any] = {"applications": apps}
    document.update(draw(st.dictionaries(top_keys, garbage, max_size=4)))
    if draw(st.booleans()):
        document["relations"] = draw(
            st.lists(st.lists(st.sampled_from(["web", "db:x", "cache", "?"]) | garbage, max_size=3))
        )
    return document


@HYPOTHESIS
@given(structured_garbage(), st.lists(structured_garbage(), max_size=2))
def test_structured_garbage_only_raises_bundle_error(
    document: dict[Any, Any], overlays: list[dict[Any, Any]]
) -> None:
    dumped = [yaml.safe_dump(d, allow_unicode=True) for d in (document, *overlays)]
    load_or_bundle_error(dumped[0], *dumped[1:])
    load_or_bundle_error("\n---\n".join(dumped))


FIXTURE_TEXTS = sorted(path.read_text() for path in FIXTURES.glob("*.yaml"))


@HYPOTHESIS
@given(
    st.sampled_from(FIXTURE_TEXTS),
    st.lists(
        st.tuples(st.integers(0, 3000), st.integers(0, 20), st.text(YAML_ALPHABET, max_size=5)),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_fixtures_only_raise_bundle_error(
    text: str, edits: list[tuple[int, int, str]]
) -> None:
    for position, length, insert in edits:
        at = position % (len(text) + 1)
        text = text[:at] + insert + text[at + length :]
    load_or_bundle_error(text)


@pytest.mark.parametrize(
    "text",
    [
        "? !!set {a}\n: 1\n",
        "applications: {web: {charm: !!binary aGk=}}\n",
        "applications: !!omap [web: {charm: web}]\n",
        "applications: {web: {charm: web, options: !!set {a, b}}}\n",
        "<<: 1\n",
        "applications: {? [a]: 1}\n",
        "applications: {web: {charm: web}}\nrelations: [[!!binary aGk=, web]]\n",
        "applications: {web: {charm: web, to: [!!float 1.5]}}\n",
        "applications: {web: {charm: web, options: {x: 1e400}}}\n",
        'applications: {web: {charm: web, options: {x: "\\ud800"}}}\n',
        'applications: {"\\ud800": {charm: web}}\n',
        "--- !!str\n",
        "%YAML 1.1\n---\napplications: {}\n",
        "&a [*a]",
        "{a: &b {c: *b}}",
    ],
)
def test_odd_yaml_only_raises_bundle_error(text: str) -> None:
    load_or_bundle_error(text)


# --- Hypothesis: valid bundles round-trip -------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z][a-z0-9]{0,3})?", fullmatch=True)
option_values = (
    st.text(max_size=30).filter(lambda s: not s.startswith("include-"))
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
)
constraint_sets = st.dictionaries(
    st.sampled_from(["mem", "cores", "arch", "root-disk", "virt-type"]),
    st.just(""),
    max_size=3,
).map(
    lambda keys: {
        k: {"mem": "4G", "cores": "2", "arch": "amd64", "root-disk": "16G", "virt-type": "vm"}[k]
        for k in keys
    }
)


@st.composite
def valid_bundles(draw: st.DrawFn) -> dict[str, Any]:
    """A bundle document that must load: placements name real machines and units fit."""
    app_names = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    machine_count = draw(st.integers(0, 3))
    machine_ids = [str(i) for i in range(machine_count)]
    applications: dict[str, Any] = {}
    used: set[str] = set()
    for name in app_names:
        app: dict[str, Any] = {
            "charm": draw(st.sampled_from([name, f"ch:{name}", f"./charms/{name}", f"cs:{name}-2"]))
        }
        if draw(st.booleans()):
            app["channel"] = draw(st.sampled_from(["stable", "latest/edge", "8.0/stable"]))
            if not app["charm"].startswith("cs:") and draw(st.booleans()):
                app["revision"] = draw(st.integers(0, 500))
        units = draw(st.integers(0, 4))
        if units or draw(st.booleans()):
            app["num_units"] = units
        choices = ["new", *machine_ids, *(f"lxd:{m}" for m in machine_ids)]
        if units and draw(st.booleans()):
            app["to"] = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=units))
            used |= {p.removeprefix("lxd:") for p in app["to"]} - {"new"}
        if draw(st.booleans()):
            app["options"] = draw(st.dictionaries(names, option_values, max_size=4))
        if draw(st.booleans()):
            app["constraints"] = " ".join(f"{k}={v}" for k, v in draw(constraint_sets).items())
        for flag in ("trust", "expose"):
            if draw(st.booleans()):
                app[flag] = draw(st.booleans())
        if draw(st.booleans()):
            app["annotations"] = draw(st.dictionaries(names, st.text(max_size=10), max_size=2))
        if draw(st.booleans()):
            app["storage"] = {"data": draw(st.sampled_from(["10G", "ebs,10G,1", "loop,2"]))}
        applications[name] = app
    document: dict[str, Any] = {"applications": applications}
    if used:
        document["machines"] = {
            m: draw(st.none() | st.just({"constraints": "mem=2G"})) for m in sorted(used)
        }
    if draw(st.booleans()):
        document["description"] = draw(st.text(max_size=60))
    if draw(st.booleans()):
        document["default-base"] = draw(st.sampled_from(["ubuntu@22.04", "ubuntu@24.04/stable"]))
    if len(app_names) > 1:
        pairs = draw(
            st.lists(st.tuples(st.sampled_from(app_names), st.sampled_from(app_names)), max_size=5)
        )
        endpoint = st.none() | names
        relations = []
        for a, b in pairs:
            if a == b:
                continue
            ends = []
            for app_name in (a, b):
                ep = draw(endpoint)
                ends.append(app_name if ep is None else f"{app_name}:{ep}")
            relations.append(ends)
        document["relations"] = relations
    return document


@HYPOTHESIS
@given(valid_bundles(), st.sampled_from(["", "lxd"]))
def test_generated_bundles_load_and_round_trip(document: dict[str, Any], style: str) -> None:
    # allow_unicode=False: PyYAML mangles U+0085 in the styles it picks with allow_unicode.
    text = yaml.safe_dump(document, default_flow_style=bool(style))
    loaded = rb.loads(text)
    assert set(loaded.applications) == set(document["applications"])
    for name, app in document["applications"].items():
        assert loaded.applications[name].options == app.get("options", {})
        assert loaded.applications[name].num_units == app.get("num_units", 0)
    assert rb.loads(rb.dump(loaded)) == loaded


@HYPOTHESIS
@given(st.text(alphabet=string.printable + "é\u2028\u2029\x85\ufeff\t", max_size=80) | st.text())
def test_any_description_round_trips(text: str) -> None:
    loaded = rb.loads(
        yaml.safe_dump({"description": text, "applications": {"web": {"charm": "web"}}})
    )
    assert loaded.description == text
    assert rb.loads(rb.dump(loaded)) == loaded
