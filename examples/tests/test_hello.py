"""An integration test of the `hello` charm, as a charm author writes one: the `juju` fixture
(from Runecraft's pytest plugin, loaded by installing `runecraft[testing]`) is a
`jubilant.Juju` on a fresh model of a controller the session bootstraps. No conftest.py."""

from pathlib import Path

import jubilant

CHARM = Path(__file__).resolve().parents[1] / "charms" / "hello"


def test_deploy_wait_and_greet(juju: jubilant.Juju) -> None:
    juju.deploy(CHARM, config={"greeting": "hi"})
    status = juju.wait(jubilant.all_active)
    assert status.apps["hello"].app_status.message == "hi"

    task = juju.run("hello/0", "greet", {"name": "bob"})
    assert task.results["greeting"] == "hi, bob"
