"""Juju's commands and behaviours, driven through `rune-juju` (linked as `juju` first on
PATH) with the real `jubilant` where it has a method, against one controller bootstrapped
once for the module."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jubilant
import pytest

from tests.component.test_keys_and_defaults import public_key
from tests.integration.conftest import EXAMPLES, RUNE, Rune

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def rune(charm_cache: Path) -> Iterator[Rune]:
    """One bootstrapped controller for the module (killed after)."""
    home = Path(tempfile.mkdtemp(prefix="runecraft-cmds-"))
    runner = Rune(home=home / "home", cache=charm_cache)
    runner("bootstrap")
    yield runner
    runner("kill-controller", "runecraft", "--no-prompt", check=False)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def juju(rune: Rune) -> Iterator[jubilant.Juju]:
    """jubilant on a model with `hello` (two units, with the `greet` action) deployed."""
    script = shutil.which("rune-juju", path=str(Path(sys.executable).parent))
    assert script is not None, "rune-juju is not installed: pip install -e '.[dev]'"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUNECRAFT_HOME", str(rune.home))
        patch.setenv("RUNECRAFT_CACHE_DIR", str(rune.cache))
        client = jubilant.Juju(cli_binary=script, wait_timeout=300)
        client.add_model("cmds")
        client.deploy(EXAMPLES / "hello", "hello", num_units=2)
        client.wait(jubilant.all_active)
        yield client


def test_run_and_exec_on_what_does_not_exist_exit_0_with_nothing_on_stdout(
    rune: Rune, juju: jubilant.Juju
) -> None:
    """As Juju 3.6: the error on stderr, exit 0, empty stdout; jubilant's ValueError."""
    for args, message in (
        (("run", "hello/0", "nope"), 'action "nope" not defined on unit "hello/0"'),
        (("run", "hello/7", "greet"), 'unit "hello/7" not found'),
        (("exec", "--unit", "nope/0", "--", "true"), 'unit "nope/0" not found'),
        (("exec", "--application", "nope", "--", "true"), 'application "nope" not found'),
    ):
        result = rune(*args, "--format", "json", "--model", "cmds")
        assert (result.returncode, result.stdout) == (0, ""), args
        assert result.stderr.startswith("ERROR ") and message in result.stderr, result.stderr
    with pytest.raises(ValueError, match="nope"):
        juju.run("hello/0", "nope")
    with pytest.raises(ValueError, match="hello/7"):
        juju.run("hello/7", "greet")
    with pytest.raises(ValueError, match="nope/0"):
        juju.exec("true", unit="nope/0")
    # A missing model is still an error.
    missing = rune("run", "hello/0", "greet", "--model", "no-such-model", check=False)
    assert missing.returncode == 1 and "no-such-model" in missing.stderr
    assert juju.run("hello/0", "greet", {"name": "you"}).status == "completed"


def test_a_user_secret_is_owned_by_model(juju: jubilant.Juju) -> None:
    uri = juju.add_secret("api-token", {"token": "abc"})
    listed = json.loads(juju.cli("secrets", "--format", "json"))
    assert listed[uri.unique_identifier]["owner"] == "<model>"
    assert juju.secrets()[0].owner == "<model>"


def _upgrades(rune: Rune) -> int:
    """How many times hello's units ran upgrade-charm (their logs on the local substrate)."""
    logs = (rune.home / "machines").glob("*/*/units/hello-*/unit.log")
    return sum(path.read_text().count('running hook "upgrade-charm"') for path in logs)


def test_refresh_with_the_same_charm_makes_a_new_revision(rune: Rune, juju: jubilant.Juju) -> None:
    before = juju.status().apps["hello"].charm_rev
    upgrades = _upgrades(rune)
    juju.refresh("hello", path=EXAMPLES / "hello")
    assert juju.status().apps["hello"].charm_rev == before + 1
    rune("wait", "--timeout", "5m", "--model", "cmds")  # every unit saw the new revision
    assert _upgrades(rune) == upgrades + 2  # both units upgraded to it


def _json(rune: Rune, *args: str) -> Any:
    return json.loads(rune(*args, "--format", "json", "--model", "cmds").stdout)


def _refused(rune: Rune, *args: str) -> str:
    """A command that must fail with exit 1; its stderr."""
    result = rune(*args, "--model", "cmds", check=False)
    assert result.returncode == 1, (args, result.stdout, result.stderr)
    return result.stderr


def test_show_application_and_expose(rune: Rune, juju: jubilant.Juju) -> None:
    shown = _json(rune, "show-application", "hello")
    assert shown["hello"]["charm"] == "hello"
    assert (shown["hello"]["principal"], shown["hello"]["exposed"]) == (True, False)
    assert juju.status().apps["hello"].exposed is False
    juju.cli("expose", "hello")
    assert juju.status().apps["hello"].exposed is True
    assert _json(rune, "show-application", "hello")["hello"]["exposed"] is True
    juju.cli("unexpose", "hello")
    assert juju.status().apps["hello"].exposed is False
    assert 'application "nope" not found' in _refused(rune, "expose", "nope")
    assert 'application "nope" not found' in _refused(rune, "show-application", "nope")


def test_actions_and_show_action(rune: Rune) -> None:
    listed = _json(rune, "actions", "hello")
    assert list(listed) == ["greet"] and listed["greet"].startswith("Return the greeting")
    schema = _json(rune, "actions", "hello", "--schema")
    assert schema["greet"]["properties"]["name"]["type"] == "string"
    assert schema["greet"]["title"] == "greet"
    shown = rune("show-action", "hello", "greet", "--model", "cmds").stdout
    assert shown.startswith("Return the greeting") and "Arguments:" in shown and "name:" in shown
    assert 'unknown action "nope"' in _refused(rune, "show-action", "hello", "nope")
    assert 'application "nope" not found' in _refused(rune, "actions", "nope")


def test_status_filters_and_watch(rune: Rune, juju: jubilant.Juju) -> None:
    status = juju.status()
    machine = status.apps["hello"].units["hello/1"].machine
    one = _json(rune, "status", "hello/1")
    assert list(one["applications"]) == ["hello"]
    assert list(one["applications"]["hello"]["units"]) == ["hello/1"]
    assert list(one["machines"]) == [machine]
    assert sorted(_json(rune, "status", "hello")["applications"]["hello"]["units"]) == [
        "hello/0",
        "hello/1",
    ]
    assert _json(rune, "status", "nope")["applications"] == {}
    by_machine = _json(rune, "status", machine)
    assert list(by_machine["applications"]["hello"]["units"]) == ["hello/1"]
    # --watch prints the status again and again until stopped.
    env = {**os.environ, "RUNECRAFT_HOME": str(rune.home), "RUNECRAFT_CACHE_DIR": str(rune.cache)}
    argv = [*RUNE, "status", "--watch", "0.2s", "--format", "json", "--model", "cmds", "hello"]
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) as watching:
        assert watching.stdout is not None
        first, second = watching.stdout.readline(), watching.stdout.readline()
        watching.terminate()
    assert json.loads(first)["applications"].keys() == json.loads(second)["applications"].keys()
    bad = rune("status", "--watch", "often", "--model", "cmds", check=False)
    assert bad.returncode == 2 and "often" in bad.stderr


def test_storage_lists_none(rune: Rune) -> None:
    assert _json(rune, "storage") == {}
    shown = rune("storage", "--model", "cmds")
    assert (shown.returncode, shown.stdout, shown.stderr.strip()) == (
        0,
        "",
        "No storage to display.",
    )


def test_controllers_and_show_controller(rune: Rune) -> None:
    listed = json.loads(rune("controllers", "--format", "json").stdout)
    assert listed["current-controller"] == "runecraft"
    mine = listed["controllers"]["runecraft"]
    assert mine["model-count"] >= 2 and mine["user"] == "admin"
    shown = json.loads(rune("show-controller", "--format", "json").stdout)
    assert shown["runecraft"]["details"]["uuid"] == mine["uuid"]
    assert "cmds" in shown["runecraft"]["models"]
    missing = rune("show-controller", "elsewhere", check=False)
    assert missing.returncode == 1 and 'controller "elsewhere" not found' in missing.stderr


def test_help_is_the_commands_help(rune: Rune) -> None:
    assert rune("help", "status").stdout == rune("status", "--help").stdout
    assert "show-application" in rune("help").stdout
    unknown = rune("help", "nope", check=False)
    assert unknown.returncode == 2 and 'unknown command "nope"' in unknown.stderr


def test_add_machine_then_exec_on_it(rune: Rune, juju: jubilant.Juju) -> None:
    before = set(juju.status().machines)
    juju.add_machine()
    (number,) = set(juju.status().machines) - before
    juju.wait(lambda s: s.machines[number].juju_status.current == "started")
    task = juju.exec("echo", "hi", machine=int(number))
    assert (task.return_code, task.stdout) == (0, "hi\n")
    failed = rune("exec", "--machine", number, "--model", "cmds", "--", "exit 3", check=False)
    assert failed.returncode == 1 and "task failed" in failed.stderr
    assert 'machine "99" not found' in _refused(rune, "exec", "--machine", "99", "--", "true")
    both = rune("exec", "--machine", number, "--unit", "hello/0", "--", "true", check=False)
    assert both.returncode == 2
    # The empty machine stays (it was added on its own) until removed.
    assert number in _json(rune, "show-machine", number)["machines"]
    assert 'machine "99" not found' in _refused(rune, "show-machine", "99")
    rune("remove-machine", number, "--model", "cmds")
    assert number not in juju.status().machines


def test_ssh_keys_through_jubilant(rune: Rune, juju: jubilant.Juju) -> None:
    one, two = public_key("me@laptop"), public_key("ci")
    juju.add_ssh_key(one, two)
    listed = rune("ssh-keys", "--model", "cmds").stdout.splitlines()
    assert listed[0] == "Keys used in model: admin/cmds"
    assert [line.rpartition(" ")[2] for line in listed[1:]] == ["(me@laptop)", "(ci)"]
    assert rune("ssh-keys", "--full", "--model", "cmds").stdout.splitlines()[1:] == [one, two]
    fingerprint = listed[1].partition(" ")[0]
    juju.remove_ssh_key(fingerprint)
    juju.remove_ssh_key("ci")
    assert rune("ssh-keys", "--model", "cmds").stdout.strip() == "No keys to display."
    assert 'unknown key type "ssh-nope"' in _refused(rune, "add-ssh-key", "ssh-nope AAAA x")
    assert 'ssh key "ci" not found' in _refused(rune, "remove-ssh-key", "ci")


def test_model_defaults(rune: Rune) -> None:
    shown = json.loads(rune("model-defaults", "--format", "json").stdout)
    assert shown["automatically-retry-hooks"] == {"default": True}
    rune("model-defaults", "automatically-retry-hooks=false")
    one = rune("model-defaults", "automatically-retry-hooks", "--format", "json").stdout
    assert json.loads(one) == {"automatically-retry-hooks": {"default": True, "controller": False}}
    rune("add-model", "later")
    config = json.loads(rune("model-config", "--format", "json", "--model", "later").stdout)
    assert config["automatically-retry-hooks"] == {"Value": False, "Source": "controller"}
    assert _json(rune, "model-config")["automatically-retry-hooks"]["Value"] is True
    bad = rune("model-defaults", "nope=1", check=False)
    assert bad.returncode == 1 and 'unknown model config key "nope"' in bad.stderr
    rune("model-defaults", "--reset", "automatically-retry-hooks")
    again = json.loads(rune("model-defaults", "--format", "json").stdout)
    assert again["automatically-retry-hooks"] == {"default": True}
    rune("destroy-model", "later", "--no-prompt")


def test_add_cloud_and_credential_through_jubilant(rune: Rune, juju: jubilant.Juju) -> None:
    definition = {"clouds": {"k8s-lab": {"type": "k8s", "endpoint": "https://10.1.2.3:6443"}}}
    juju.add_cloud("k8s-lab", definition, client=True)
    credential = {"credentials": {"k8s-lab": {"lab": {"auth-type": "oauth2", "Token": "t0k"}}}}
    juju.add_credential("k8s-lab", credential, client=True)
    listed = json.loads(juju.cli("credentials", "--format", "json", include_model=False))
    assert listed["client-credentials"]["k8s-lab"]["cloud-credentials"]["lab"] == {
        "auth-type": "oauth2",
        "details": {},  # the token is a secret: shown with --show-secrets only
    }
    juju.add_cloud("k8s-lab", definition, controller="runecraft", credential="lab")
    shown = json.loads(
        juju.cli(
            "show-cloud",
            "k8s-lab",
            "--controller",
            "runecraft",
            "--format",
            "json",
            include_model=False,
        )
    )
    assert shown[0]["endpoint"] == "https://10.1.2.3:6443"
    with pytest.raises(jubilant.CLIError, match='cloud type "lxd" cannot be added'):
        juju.add_cloud("box", {"clouds": {"box": {"type": "lxd"}}}, client=True)
    rune("remove-cloud", "k8s-lab")


def test_zz_destroy_controller_needs_destroy_all_models_then_removes_everything(
    rune: Rune, juju: jubilant.Juju
) -> None:
    """Last in the module: it takes the controller down."""
    before = juju.status()
    refused = rune("destroy-controller", "runecraft", "--no-prompt", check=False)
    assert refused.returncode == 1, refused
    assert "--destroy-all-models" in refused.stderr and "admin/cmds" in refused.stderr
    wrong = rune("destroy-controller", "elsewhere", "--no-prompt", check=False)
    assert wrong.returncode == 1 and 'controller "elsewhere" not found' in wrong.stderr
    assert juju.status().apps.keys() == before.apps.keys()
    rune("destroy-controller", "runecraft", "--destroy-all-models", "--no-prompt")
    assert rune("status", check=False).returncode != 0  # no controller to ask
    assert rune("controllers", check=False).returncode != 0
