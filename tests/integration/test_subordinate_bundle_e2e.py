"""The published telegraf bundle (a subordinate with no `num_units`, placed by its
`juju-info` relation) planned, applied on the local substrate with stand-in charms, and
round-tripped through export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import REPO, Rune

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

TELEGRAF = REPO.parent / "shared" / "fixtures" / "bundles" / "juju-telegraf-bundle.yaml"

STAND_INS = {
    "influxdb": {"provides": {"query": {"interface": "influxdb-api"}}},
    "ubuntu": {},
    "telegraf": {
        "subordinate": True,
        "requires": {
            "juju-info": {"interface": "juju-info", "scope": "container"},
            "influxdb-api": {"interface": "influxdb-api"},
        },
    },
}
"""The bundle's charms, as far as it relates them."""

HOOK = "#!/bin/sh\nstatus-set active ready\n"


def _stand_ins(directory: Path) -> Path:
    """A local charm repository holding a bash stand-in for each charm of the bundle."""
    for name, meta in STAND_INS.items():
        charm = directory / name
        (charm / "hooks").mkdir(parents=True)
        (charm / "metadata.yaml").write_text(
            yaml.safe_dump({"name": name, "summary": f"Stands in for {name}.", **meta})
        )
        for hook in ("install", "start"):
            path = charm / "hooks" / hook
            path.write_text(HOOK)
            path.chmod(0o755)
    return directory


def test_the_telegraf_bundle_places_its_subordinate_by_relation(rune: Rune, tmp_path: Path) -> None:
    charms = _stand_ins(tmp_path / "charms")
    rune("bootstrap")
    result = rune(
        "plan", str(TELEGRAF), "--charm-dir", str(charms), "--format", "json", check=False
    )
    assert result.returncode == 2, result.stderr
    changes = json.loads(result.stdout)["changes"]
    added = sorted(c["application"] for c in changes if c["kind"] == "add-unit")
    assert added == ["influxdb", "ubuntu"], changes

    rune("apply", str(TELEGRAF), "--charm-dir", str(charms), "--wait", "--timeout", "5m")
    status = rune.status()
    telegraf = status["applications"]["telegraf"]
    assert "units" not in telegraf and telegraf["subordinate-to"] == ["ubuntu"]
    ubuntu = status["applications"]["ubuntu"]["units"]["ubuntu/0"]
    assert list(ubuntu["subordinates"]) == ["telegraf/0"]
    assert ubuntu["subordinates"]["telegraf/0"]["workload-status"]["current"] == "active"
    beside = ubuntu["subordinates"]["telegraf/0"]
    assert "machine" not in beside and beside.get("public-address") == ubuntu.get("public-address")
    assert "subordinates" not in status["applications"]["influxdb"]["units"]["influxdb/0"]
    again = rune("plan", str(TELEGRAF), "--charm-dir", str(charms), check=False)
    assert again.returncode == 0, again.stdout + again.stderr

    exported = rune("export-bundle").stdout
    bundle = yaml.safe_load(exported)
    assert "num_units" not in bundle["applications"]["telegraf"]
    assert bundle["applications"]["ubuntu"]["num_units"] == 1
    rune("add-model", "copy")
    path = tmp_path / "exported.yaml"
    path.write_text(exported)
    rune("-m", "copy", "apply", str(path), "--charm-dir", str(charms), "--wait")
    assert rune("-m", "copy", "export-bundle").stdout == exported
