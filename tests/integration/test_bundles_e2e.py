"""Bundles end to end on one controller: plan a published fixture against an empty model,
refuse bad bundles without a change, apply the demo bundle, re-plan (nothing to do), show
drift, converge it, round-trip an export through empty models (with and without the charms
on disk), and a failing apply that changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.conftest import EXAMPLES, REPO, Rune

FIXTURES = REPO.parent / "shared" / "fixtures" / "bundles"
DEMO = REPO / "examples" / "bundles" / "demo.yaml"


def test_plan_apply_drift_and_export_round_trip(rune: Rune, tmp_path: Path) -> None:
    rune("bootstrap")
    revision = rune.status()["model"]["revision"]

    # A published bundle with overlays plans against the empty model; its charms are
    # not on disk, so they are listed as to be fetched rather than failing the plan.
    result = rune(
        "plan",
        str(FIXTURES / "charmed-kubernetes-release-1.35.yaml"),
        "--overlay",
        str(FIXTURES / "charmed-kubernetes-vault-pki-overlay.yaml"),
        "--format",
        "json",
        check=False,
    )
    assert result.returncode == 2, result.stderr
    plan = json.loads(result.stdout)
    deployed = {c["application"] for c in plan["changes"] if c["kind"] == "add-application"}
    assert {"etcd", "vault", "kubernetes-control-plane"} <= deployed
    assert "easyrsa" not in deployed
    fetched = [c for c in plan["changes"] if c["kind"] == "add-charm"]
    assert fetched and all(c["path"] is None for c in fetched)

    # Bad bundles: one clear error each, and the model does not move.
    broken = tmp_path / "broken.yaml"
    broken.write_text(DEMO.read_text().replace("num_units: 2", "num_units: -2"))
    result = rune("apply", str(broken), check=False)
    assert result.returncode == 1 and "applications.hello.num_units" in result.stderr
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("applications: {db: {charm: mysql-nowhere, num_units: 1}}\n")
    result = rune("apply", str(unknown), check=False)
    assert result.returncode == 1 and "mysql-nowhere" in result.stderr
    assert "nothing was changed" in result.stderr
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        DEMO.read_text().replace("greeting: hi", "greting: hi").replace("../charms", str(EXAMPLES))
    )
    result = rune("deploy", str(typo), check=False)
    assert result.returncode == 1 and "applications.hello.options" in result.stderr
    status = rune.status()
    assert status["applications"] == {} and status["model"]["revision"] == revision

    # The Juju form of a dry run, then the real thing.
    result = rune("deploy", str(DEMO), "--dry-run")
    assert "deploy application hello using hello with greeting='hi'" in result.stdout
    assert rune.status()["applications"] == {}
    rune("apply", str(DEMO), "--wait", "--timeout", "5m")
    status = rune.status()
    assert sorted(status["applications"]["hello"]["units"]) == ["hello/0", "hello/1"]
    assert {
        d["workload-status"]["message"] for d in status["applications"]["hello"]["units"].values()
    } == {"hi"}
    assert (
        status["applications"]["hello-bash"]["relations"]["greeting"][0]["related-application"]
        == "hello"
    )
    result = rune("plan", str(DEMO), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    again = rune("apply", str(DEMO))
    assert "nothing to do" in again.stdout

    # Drift made by hand shows up, and applying converges it.
    rune("remove-unit", "hello/1")
    rune("config", "hello", "greeting=yo")
    result = rune("plan", str(DEMO), "--format", "json", check=False)
    assert result.returncode == 2
    drift = json.loads(result.stdout)["changes"]
    assert [c["kind"] for c in drift] == ["set-config", "add-unit"]
    assert drift[0]["previous"] == {"greeting": "yo"}
    moved = rune("apply", str(DEMO), "--expect-revision", "0", check=False)
    assert moved.returncode == 1 and "changed since the plan" in moved.stderr
    rune("apply", str(DEMO), "--wait", "--timeout", "5m")
    assert rune("plan", str(DEMO), check=False).returncode == 0

    # Export, apply to an empty model, export again: the same bundle.
    exported = tmp_path / "exported.yaml"
    rune("export-bundle", "--filename", str(exported))
    rune("add-model", "copy")
    rune("-m", "copy", "apply", str(exported), "--charm-dir", str(EXAMPLES), "--wait")
    copy = rune("-m", "copy", "export-bundle").stdout
    assert copy == exported.read_text()
    assert "greeting: hi" in copy and "hello:greeting" in copy
    assert "constraints: mem=256M" in copy
    # With no charm on disk at all: the controller's own charms, by name.
    rune("add-model", "second")
    rune("-m", "second", "apply", str(exported), "--wait", "--timeout", "5m")
    assert rune("-m", "second", "export-bundle").stdout == exported.read_text()

    # A failure part-way names the change and leaves the model as it was.
    partial = tmp_path / "partial.yaml"
    partial.write_text(
        "applications:\n"
        f"  quiet: {{charm: {EXAMPLES / 'hello-bash'}}}\n"
        f"  loud: {{charm: {EXAMPLES / 'hello'}}}\n"
        "relations: [[quiet:nowhere, loud:greeting]]\n"
    )
    rune("add-model", "partial")
    before = rune.status("-m", "partial")["model"]["revision"]
    result = rune("-m", "partial", "apply", str(partial), check=False)
    assert result.returncode == 1
    assert "failed at change 5 of 5: add relation loud:greeting - quiet:nowhere" in result.stderr
    assert "nothing was changed" in result.stderr
    status = rune.status("-m", "partial")
    assert status["applications"] == {} and status["machines"] == {}
    assert status["model"]["revision"] == before
