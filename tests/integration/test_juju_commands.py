"""Juju's commands and behaviours, driven by the real `jubilant` through `rune-juju` (its
method where it has one, `Juju.cli` for the rest) against one controller bootstrapped once
for the module; the charms deployed by name come from the Charmhub emulator."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jubilant
import pytest

from tests.charmhub_emulator import CharmhubEmulator, packed_variant
from tests.component.test_keys_and_defaults import public_key
from tests.integration.conftest import EXAMPLES, Rune

pytestmark = pytest.mark.e2e

RUNE_JUJU = shutil.which("rune-juju", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, charm_cache: Path) -> Iterator[CharmhubEmulator]:
    """`hello` on the emulated Charmhub: revision 1 in latest/stable, 2 in latest/edge."""
    variants = tmp_path_factory.mktemp("variants")
    with CharmhubEmulator() as emulator:
        for revision, risk, version in ((1, "stable", "1.0"), (2, "edge", "2.0")):
            archive = packed_variant(
                EXAMPLES / "hello",
                variants,
                charm_cache,
                {
                    "charmcraft.yaml": ("default: hello\n", f"default: hello from {risk}\n"),
                    "src/charm.py": ('WORKLOAD_VERSION = "1.0"', f'WORKLOAD_VERSION = "{version}"'),
                },
            )
            emulator.publish("hello", revision, archive, f"latest/{risk}", version=version)
        yield emulator


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
def juju(rune: Rune, hub: CharmhubEmulator) -> Iterator[jubilant.Juju]:
    """jubilant on a model with `hello` (two units, with the `greet` action) deployed; every
    `rune-juju` it runs uses the emulated Charmhub."""
    assert RUNE_JUJU is not None, "rune-juju is not installed: pip install -e '.[dev]'"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUNECRAFT_HOME", str(rune.home))
        patch.setenv("RUNECRAFT_CACHE_DIR", str(rune.cache))
        patch.setenv("RUNECRAFT_CHARMHUB_URL", hub.url)
        client = jubilant.Juju(cli_binary=RUNE_JUJU, wait_timeout=300)
        client.add_model("cmds")
        client.deploy(EXAMPLES / "hello", "hello", num_units=2)
        client.wait(jubilant.all_active)
        yield client


def _json(juju: jubilant.Juju, *args: str, include_model: bool = True) -> Any:
    return json.loads(juju.cli(*args, "--format", "json", include_model=include_model))


def _refused(juju: jubilant.Juju, *args: str, code: int = 1, include_model: bool = True) -> str:
    """A command that must fail with exit `code`; its stderr."""
    with pytest.raises(jubilant.CLIError) as failed:
        juju.cli(*args, include_model=include_model)
    assert failed.value.returncode == code, failed.value
    return str(failed.value.stderr)


def test_run_and_exec_on_what_does_not_exist_exit_0_with_nothing_on_stdout(
    juju: jubilant.Juju,
) -> None:
    """As Juju 3.6: the error on stderr, exit 0, empty stdout; jubilant's ValueError."""
    for command, *args in (
        ("run", "hello/0", "nope"),
        ("run", "hello/7", "greet"),
        ("exec", "--unit", "nope/0", "--", "true"),
        ("exec", "--application", "nope", "--", "true"),
    ):
        assert juju.cli(command, "--format", "json", *args) == "", (command, args)
    with pytest.raises(ValueError, match='action "nope" not defined on unit "hello/0"'):
        juju.run("hello/0", "nope")
    with pytest.raises(ValueError, match='unit "hello/7" not found'):
        juju.run("hello/7", "greet")
    with pytest.raises(ValueError, match='unit "nope/0" not found'):
        juju.exec("true", unit="nope/0")
    # A missing model is still an error.
    elsewhere = jubilant.Juju(model="no-such-model", cli_binary=RUNE_JUJU)
    assert "no-such-model" in _refused(elsewhere, "run", "hello/0", "greet")
    assert juju.run("hello/0", "greet", {"name": "you"}).status == "completed"


def test_a_user_secret_is_owned_by_model(juju: jubilant.Juju) -> None:
    uri = juju.add_secret("api-token", {"token": "abc"})
    listed = _json(juju, "secrets")
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
    juju.cli("wait", "--timeout", "5m")  # every unit saw the new revision
    assert _upgrades(rune) == upgrades + 2  # both units upgraded to it


def test_show_application_and_expose(juju: jubilant.Juju) -> None:
    shown = _json(juju, "show-application", "hello")
    assert shown["hello"]["charm"] == "hello"
    assert (shown["hello"]["principal"], shown["hello"]["exposed"]) == (True, False)
    assert juju.status().apps["hello"].exposed is False
    juju.cli("expose", "hello")
    assert juju.status().apps["hello"].exposed is True
    assert _json(juju, "show-application", "hello")["hello"]["exposed"] is True
    juju.cli("unexpose", "hello")
    assert juju.status().apps["hello"].exposed is False
    assert 'application "nope" not found' in _refused(juju, "expose", "nope")
    assert 'application "nope" not found' in _refused(juju, "unexpose", "nope")
    assert 'application "nope" not found' in _refused(juju, "show-application", "nope")


def test_actions_and_show_action(juju: jubilant.Juju) -> None:
    listed = _json(juju, "actions", "hello")
    assert list(listed) == ["greet"] and listed["greet"].startswith("Return the greeting")
    schema = _json(juju, "actions", "hello", "--schema")
    assert schema["greet"]["properties"]["name"]["type"] == "string"
    assert schema["greet"]["title"] == "greet"
    shown = juju.cli("show-action", "hello", "greet")
    assert shown.startswith("Return the greeting") and "Arguments:" in shown and "name:" in shown
    assert 'unknown action "nope"' in _refused(juju, "show-action", "hello", "nope")
    assert 'application "nope" not found' in _refused(juju, "actions", "nope")


def test_status_filters_and_watch(rune: Rune, juju: jubilant.Juju) -> None:
    status = juju.status()
    machine = status.apps["hello"].units["hello/1"].machine
    one = _json(juju, "status", "hello/1")
    assert list(one["applications"]) == ["hello"]
    assert list(one["applications"]["hello"]["units"]) == ["hello/1"]
    assert list(one["machines"]) == [machine]
    assert sorted(_json(juju, "status", "hello")["applications"]["hello"]["units"]) == [
        "hello/0",
        "hello/1",
    ]
    assert _json(juju, "status", "nope")["applications"] == {}
    by_machine = _json(juju, "status", machine)
    assert list(by_machine["applications"]["hello"]["units"]) == ["hello/1"]
    # --watch prints the status again and again until stopped (interactive: not jubilant's).
    assert RUNE_JUJU is not None
    argv = [RUNE_JUJU, "status", "--watch", "0.2s", "--format", "json", "-m", "cmds", "hello"]
    with subprocess.Popen(argv, env=os.environ, stdout=subprocess.PIPE, text=True) as watching:
        assert watching.stdout is not None
        first, second = watching.stdout.readline(), watching.stdout.readline()
        watching.terminate()
    assert json.loads(first)["applications"].keys() == json.loads(second)["applications"].keys()
    assert "often" in _refused(juju, "status", "--watch", "often", code=2)


def test_storage_lists_none(juju: jubilant.Juju) -> None:
    assert _json(juju, "storage") == {}
    assert juju.cli("storage") == ""  # "No storage to display." on stderr, as Juju


def test_controllers_whoami_and_show_controller(juju: jubilant.Juju) -> None:
    listed = _json(juju, "controllers", include_model=False)
    assert listed["current-controller"] == "runecraft"
    mine = listed["controllers"]["runecraft"]
    assert mine["model-count"] >= 2 and mine["user"] == "admin"
    assert (mine["cloud"], mine["agent-version"]) == ("local", "3.6.12")
    assert _json(juju, "whoami", include_model=False) == {
        "controller": "runecraft",
        "model": "default",
        "user": "admin",
    }
    shown = _json(juju, "show-controller", include_model=False)
    assert shown["runecraft"]["details"]["uuid"] == mine["uuid"]
    assert shown["runecraft"]["details"]["cloud"] == "local"
    assert "cmds" in shown["runecraft"]["models"]
    missing = _refused(juju, "show-controller", "elsewhere", include_model=False)
    assert 'controller "elsewhere" not found' in missing


def test_help_is_the_commands_help(juju: jubilant.Juju) -> None:
    assert juju.cli("help", "status", include_model=False) == juju.cli(
        "status", "--help", include_model=False
    )
    assert "show-application" in juju.cli("help", include_model=False)
    unknown = _refused(juju, "help", "nope", code=2, include_model=False)
    assert 'unknown command "nope"' in unknown


def test_add_machine_then_exec_on_it(juju: jubilant.Juju) -> None:
    before = set(juju.status().machines)
    juju.add_machine()
    (number,) = set(juju.status().machines) - before
    juju.wait(lambda s: s.machines[number].juju_status.current == "started")
    task = juju.exec("echo", "hi", machine=int(number))
    assert (task.return_code, task.stdout) == (0, "hi\n")
    with pytest.raises(jubilant.TaskError) as failed:
        juju.exec("exit 3", machine=number)
    assert failed.value.task.return_code == 3
    with pytest.raises(jubilant.CLIError, match='machine "99" not found'):
        juju.exec("true", machine=99)
    both = ("exec", "--machine", number, "--unit", "hello/0", "--", "true")
    assert "--unit" in _refused(juju, *both, code=2)
    # The empty machine stays (it was added on its own) until removed.
    shown = _json(juju, "show-machine", number)["machines"][number]
    assert set(shown) >= {"juju-status", "machine-status", "base"}, shown
    assert 'machine "99" not found' in _refused(juju, "show-machine", "99")
    juju.cli("remove-machine", number)
    assert number not in juju.status().machines


def test_ssh_keys_through_jubilant(juju: jubilant.Juju) -> None:
    one, two = public_key("me@laptop"), public_key("ci")
    juju.add_ssh_key(one, two)
    listed = juju.cli("ssh-keys").splitlines()
    assert listed[0] == "Keys used in model: admin/cmds"
    assert [line.rpartition(" ")[2] for line in listed[1:]] == ["(me@laptop)", "(ci)"]
    assert juju.cli("ssh-keys", "--full").splitlines()[1:] == [one, two]
    fingerprint = listed[1].partition(" ")[0]
    juju.remove_ssh_key(fingerprint)
    juju.remove_ssh_key("ci")
    assert juju.cli("ssh-keys").strip() == "No keys to display."
    assert 'unknown key type "ssh-nope"' in _refused(juju, "add-ssh-key", "ssh-nope AAAA x")
    assert 'ssh key "ci" not found' in _refused(juju, "remove-ssh-key", "ci")


def test_model_defaults(juju: jubilant.Juju) -> None:
    key = "automatically-retry-hooks"
    assert _json(juju, "model-defaults", include_model=False)[key] == {"default": True}
    juju.cli("model-defaults", f"{key}=false", include_model=False)
    one = _json(juju, "model-defaults", key, include_model=False)
    assert one == {key: {"default": True, "controller": False}}
    juju.cli("add-model", "--no-switch", "later", include_model=False)
    later = jubilant.Juju(model="later", cli_binary=RUNE_JUJU)
    assert later.model_config()[key] is False
    assert _json(later, "model-config")[key] == {"Value": False, "Source": "controller"}
    assert _json(juju, "model-config")[key]["Value"] is True
    bad = _refused(juju, "model-defaults", "nope=1", include_model=False)
    assert 'unknown model config key "nope"' in bad
    juju.cli("model-defaults", "--reset", key, include_model=False)
    assert _json(juju, "model-defaults", include_model=False)[key] == {"default": True}
    later.destroy_model("later")


def test_add_cloud_and_credential_through_jubilant(juju: jubilant.Juju) -> None:
    definition = {"clouds": {"k8s-lab": {"type": "k8s", "endpoint": "https://10.1.2.3:6443"}}}
    juju.add_cloud("k8s-lab", definition, client=True)
    credential = {"credentials": {"k8s-lab": {"lab": {"auth-type": "oauth2", "Token": "t0k"}}}}
    juju.add_credential("k8s-lab", credential, client=True)
    listed = _json(juju, "credentials", include_model=False)
    assert listed["client-credentials"]["k8s-lab"]["cloud-credentials"]["lab"] == {
        "auth-type": "oauth2",
        "details": {},  # the token is a secret: shown with --show-secrets only
    }
    juju.add_cloud("k8s-lab", definition, controller="runecraft", credential="lab")
    shown = _json(juju, "show-cloud", "k8s-lab", "--controller", "runecraft", include_model=False)
    assert shown[0]["endpoint"] == "https://10.1.2.3:6443"
    moved = {"clouds": {"k8s-lab": {"type": "k8s", "endpoint": "https://10.1.2.4:6443"}}}
    juju.update_cloud("k8s-lab", moved, client=True, controller="runecraft")
    shown = _json(juju, "show-cloud", "k8s-lab", "--controller", "runecraft", include_model=False)
    assert shown[0]["endpoint"] == "https://10.1.2.4:6443"
    with pytest.raises(jubilant.CLIError, match='cloud type "lxd" cannot be added'):
        juju.add_cloud("box", {"clouds": {"box": {"type": "lxd"}}}, client=True)
    rotated = {"credentials": {"k8s-lab": {"rotated": {"auth-type": "oauth2", "Token": "n3w"}}}}
    juju.add_credential("k8s-lab", rotated, controller="runecraft")
    on_controller = _json(juju, "credentials", "--controller", "runecraft", include_model=False)
    assert on_controller == {
        "controller-credentials": {
            "k8s-lab": {"cloud-credentials": {"rotated": {"auth-type": "oauth2", "details": {}}}}
        }
    }
    juju.cli("remove-cloud", "k8s-lab", include_model=False)


def test_deploy_and_refresh_from_charmhub_then_download_info_find(
    juju: jubilant.Juju, hub: CharmhubEmulator, tmp_path: Path
) -> None:
    """By name from the emulated Charmhub: revision 1 pinned on latest/edge, then refreshed
    to the channel's head (2); `download`, `info` and `find` ask the same Charmhub."""
    juju.deploy("hello", "hub", channel="latest/edge", revision=1)
    status = juju.wait(lambda s: jubilant.all_active(s, "hub"))
    app = status.apps["hub"]
    assert (app.charm_name, app.version) == ("hello", "1.0")
    assert (app.charm, app.charm_origin, app.charm_channel, app.charm_rev) == (
        "hello",
        "charmhub",
        "latest/edge",
        1,
    )
    assert app.base is not None and (app.base.name, app.base.channel) == ("ubuntu", "22.04")
    assert app.units["hub/0"].workload_status.message == "hello from stable"
    juju.refresh("hub", channel="latest/edge")
    status = juju.wait(
        lambda s: s.apps["hub"].units["hub/0"].workload_status.message.endswith("edge")
    )
    app = status.apps["hub"]
    assert app.units["hub/0"].workload_status.message == "hello from edge"
    assert (app.charm_origin, app.charm_channel, app.charm_rev) == ("charmhub", "latest/edge", 2)
    with pytest.raises(jubilant.CLIError, match="--channel"):
        juju.deploy("hello", "unpinned", revision=1)  # Juju: a revision needs a channel
    juju.remove_application("hub")

    target = tmp_path / "hello.charm"
    juju.cli(
        "download",
        "hello",
        "--channel",
        "latest/edge",
        "--filepath",
        str(target),
        include_model=False,
    )
    assert hashlib.sha256(target.read_bytes()).hexdigest() == hub.published[1].sha256
    info = _json(juju, "info", "hello", include_model=False)
    assert info["name"] == "hello" and info["type"] == "charm"
    tracks = info["channels"]["latest"]
    assert (tracks["stable"][0]["revision"], tracks["edge"][0]["revision"]) == (1, 2)
    found = _json(juju, "find", "hello", include_model=False)
    assert [entry["name"] for entry in found] == ["hello"]
    assert _json(juju, "find", "nothing-like-it", include_model=False) == []
    missing = _refused(juju, "info", "nosuch", include_model=False)
    assert "No charm or bundle with name 'nosuch'." in missing


def test_a_charmhub_out_of_reach_is_named(juju: jubilant.Juju) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUNECRAFT_CHARMHUB_URL", url)
        with pytest.raises(jubilant.CLIError) as failed:
            juju.deploy("hello", "unreachable")
    assert f"cannot reach Charmhub at {url}" in failed.value.stderr
    assert "RUNECRAFT_CHARMHUB_URL" in failed.value.stderr
    assert "unreachable" not in juju.status().apps


def test_zz_destroy_controller_needs_destroy_all_models_then_removes_everything(
    juju: jubilant.Juju,
) -> None:
    """Last in the module: it takes the controller down."""
    before = juju.status()
    refused = _refused(juju, "destroy-controller", "runecraft", "--no-prompt", include_model=False)
    assert "--destroy-all-models" in refused and "admin/cmds" in refused
    wrong = _refused(juju, "destroy-controller", "elsewhere", "--no-prompt", include_model=False)
    assert 'controller "elsewhere" not found' in wrong
    assert juju.status().apps.keys() == before.apps.keys()
    juju.cli(
        "destroy-controller",
        "runecraft",
        "--destroy-all-models",
        "--no-prompt",
        include_model=False,
    )
    with pytest.raises(jubilant.CLIError):
        juju.status()  # no controller to ask
    with pytest.raises(jubilant.CLIError):
        juju.cli("controllers", include_model=False)
