"""The real `jubilant` package (Canonical's Python wrapper of the `juju` CLI) drives Runecraft
through `rune-juju`, linked as `juju` first on PATH: what charm authors' integration tests do
against Juju works unchanged."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import jubilant
import pytest

from tests.integration.conftest import EXAMPLES, REPO, Rune

pytestmark = pytest.mark.e2e

CHARMS = REPO / "tests" / "charms"


@pytest.fixture
def juju_on_path(rune: Rune, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `juju` symlink to `rune-juju` first on PATH, and the rune fixture's home."""
    script = shutil.which("rune-juju", path=str(Path(sys.executable).parent))
    assert script is not None, "rune-juju is not installed: pip install -e '.[dev]'"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "juju").symlink_to(script)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("RUNECRAFT_HOME", str(rune.home))
    monkeypatch.setenv("RUNECRAFT_CACHE_DIR", str(rune.cache))
    return bin_dir / "juju"


def test_jubilant_drives_a_model_end_to_end(rune: Rune, juju_on_path: Path) -> None:
    assert shutil.which("juju") == str(juju_on_path)
    rune("bootstrap")
    assert jubilant.Juju().version().tuple >= (3, 6, 0)

    with jubilant.temp_model(controller="runecraft") as juju:
        assert juju.model is not None and juju.model.startswith("runecraft:")
        name = juju.model.partition(":")[2]
        model = juju.show_model()
        assert (model.short_name, model.name) == (name, f"admin/{name}")
        assert juju.show_model(f"runecraft:admin/{name}").model_uuid == model.model_uuid
        assert juju.show_model(f"admin/{name}").model_uuid == model.model_uuid
        assert juju.model_constraints() == {}
        juju.model_constraints({"mem": "8G", "cores": 4, "allocate-public-ip": False})
        assert juju.model_constraints() == {"mem": 8192, "cores": 4, "allocate-public-ip": False}

        juju.deploy(EXAMPLES / "hello", "hello", num_units=2, config={"greeting": "hi"})
        juju.deploy(
            EXAMPLES / "hello-bash",
            constraints={"mem": "1G", "cores": 2},
            base="ubuntu@22.04",
            trust=True,
        )
        juju.deploy(CHARMS / "ops-provider", "provider")
        juju.deploy(CHARMS / "ops-requirer", "requirer")
        juju.integrate("provider:source", "requirer:sink")
        status = juju.wait(jubilant.all_active, timeout=300)
        assert status.apps["hello"].app_status.message == "hi"
        assert status.controller.timestamp.endswith("Z")
        assert sorted(status.apps["hello"].units) == ["hello/0", "hello/1"]
        assert status.apps["requirer"].relations["sink"][0].related_app == "provider"

        table = rune("status", "--relations", "--model", juju.model).stdout
        headers = ("Model", "App", "Unit", "Machine", "Integration provider")
        assert [line.split()[0] for line in table.splitlines() if line.startswith(headers)] == [
            "Model",
            "App",
            "Unit",
            "Machine",
            "Integration",
        ]
        rows = [line.split() for line in table.splitlines()]
        assert ["provider:source", "requirer:sink", "conformance", "regular"] in rows
        assert "\x1b[" not in table

        assert status.apps["hello-bash"].base is not None
        assert status.apps["hello-bash"].base.channel == "22.04"
        assert juju.cli("constraints", "hello-bash").strip() == "cores=2 mem=1024M"
        assert juju.config("hello-bash", app_config=True)["trust"] is True
        juju.trust("hello-bash", remove=True)
        assert juju.config("hello-bash", app_config=True)["trust"] is False

        unit = juju.show_unit("requirer/0")
        assert unit.leader and unit.charm.startswith("local:ops-requirer")
        [relation] = [r for r in unit.relation_info if r.endpoint == "sink"]
        assert relation.related_endpoint == "source"
        assert relation.app_data["token"] == "t0ken-1"
        assert relation.local_unit is not None and relation.local_unit.in_scope
        assert list(relation.related_units) == ["provider/0"]

        juju.config("hello", {"greeting": "yo", "repeat": 2})
        assert juju.config("hello")["greeting"] == "yo"
        juju.wait(lambda s: s.apps["hello"].app_status.message == "yo", timeout=120)
        task = juju.run("hello/0", "greet", {"name": "bob"}, wait=60)
        assert (task.status, task.results["greeting"]) == ("completed", "yo, bob yo, bob")
        juju.config("hello", reset=["greeting", "repeat"])
        assert juju.config("hello")["greeting"] == "hello"

        with pytest.raises(jubilant.TaskError) as failed:
            juju.run("provider/leader", "fail")
        assert failed.value.task.status == "failed"
        assert failed.value.task.message == "told to fail"

        juju.add_unit("hello-bash", num_units=2)
        juju.wait(lambda s: len(s.apps["hello-bash"].units) == 3 and jubilant.all_active(s))
        juju.remove_unit("hello-bash/1")
        juju.remove_unit("hello-bash", num_units=1)
        juju.wait(lambda s: list(s.apps["hello-bash"].units) == ["hello-bash/0"])
        juju.remove_application("hello-bash")
        juju.wait(lambda s: "hello-bash" not in s.apps)

    models = json.loads(rune("models", "--format", "json").stdout)["models"]
    assert name not in {m["short-name"] for m in models}
