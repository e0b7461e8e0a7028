"""The CLI in process against the controller's real API app (real services, a real SQLite
store) over httpx's ASGI transport: no sockets and no controller process, so each command's
request/response behaviour (error mapping, `--format json` shapes) costs milliseconds. The
bootstrapped end-to-end checks stay in tests/integration."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner
from jubilant import statustypes

from runecraft.cli import _config, main
from runecraft.cli._common import TRANSPORT
from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.settings import home_settings
from tests._kubeconfigs import kubeconfig
from tests.component._api import TOKEN, URL, controller_app
from tests.component._resource_charm import IMAGE_DOCUMENT, resource_charm

EXAMPLES = Path(__file__).parents[2] / "examples" / "charms"
HELLO = str(EXAMPLES / "hello-bash")


@dataclass
class Controller:
    store: Store
    runner: CliRunner

    def run(self, *args: str, prog: str = "rune", stdin: str | None = None) -> tuple[int, str, str]:
        """The entry point (`rune`, or `juju` for `rune-juju`) with ARGS and `stdin`, its
        output captured by click's runner: exit code, stdout, stderr."""
        with self.runner.isolation(input=stdin) as (out, err, _):
            try:
                main(list(args), prog_name=prog)
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
            sys.stdout.flush()
            sys.stderr.flush()
        return code, out.getvalue().decode(), err.getvalue().decode()

    def rune(self, *args: str, stdin: str | None = None) -> str:
        """`rune ARGS`, which must succeed: its stdout."""
        code, stdout, stderr = self.run(*args, stdin=stdin)
        assert code == 0, stderr
        return stdout

    def config(self) -> _config.ClientConfig:
        return _config.load(home_settings().client_config)

    def revision(self, model: str) -> tuple[int, dict[str, object]]:
        record = asyncio.run(self.store.model(model))
        return record.revision, record.config

    def json(self, *args: str) -> dict[str, object]:
        document: dict[str, object] = json.loads(self.rune(*args, "--format", "json"))
        return document


@pytest.fixture
def controller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Controller]:
    """A client home whose commands reach, in process, a controller app with a `default`
    model."""
    monkeypatch.setenv("RUNECRAFT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RUNECRAFT_CACHE_DIR", str(tmp_path / "cache"))
    _config.save(
        home_settings().client_config,
        _config.ClientConfig(controller="ctl", endpoint=URL, token=TOKEN),
    )
    store = asyncio.run(Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"))
    hub = services.ChangeHub()
    asyncio.run(services.ModelService(store, hub).add_model("default"))
    app = controller_app(store, hub, published_revision=None)
    token = TRANSPORT.set(httpx.ASGITransport(app=app))
    try:
        yield Controller(store, CliRunner())
    finally:
        TRANSPORT.reset(token)
        asyncio.run(store.close())


def test_models_json_names_the_current_model(controller: Controller) -> None:
    controller.rune("add-model", "second", "--no-switch")
    document = controller.json("models")
    assert document["current-model"] == "default"
    models = document["models"]
    assert isinstance(models, list)
    assert [(m["short-name"], m["name"], m["life"]) for m in models] == [
        ("default", "admin/default", "alive"),
        ("second", "admin/second", "alive"),
    ]


def test_status_json_is_what_jubilant_parses(controller: Controller) -> None:
    controller.rune("deploy", HELLO, "-n", "0")
    document = controller.json("status")
    assert "generation" not in document["model"]  # type: ignore[operator]
    status = statustypes.Status._from_dict(document)
    assert status.model.name == "default"
    assert list(status.apps) == ["hello-bash"]
    assert status.apps["hello-bash"].charm_name == "hello-bash"
    assert status.apps["hello-bash"].units == {}


def test_config_json_shows_each_option_with_its_source(controller: Controller) -> None:
    controller.rune("deploy", HELLO, "-n", "0")
    controller.rune("config", "hello-bash", "message=hi")
    document = controller.json("config", "hello-bash")
    settings = document["settings"]
    assert isinstance(settings, dict)
    assert settings["message"]["value"] == "hi"
    assert settings["message"]["source"] == "user"
    assert document["application-config"]["trust"]["value"] is False  # type: ignore[index]


def test_resources_in_each_format(controller: Controller, tmp_path: Path) -> None:
    """A file attached at deploy, an image document attached later, an unattached file
    and an oci-image from upstream: the same listing as JSON, YAML and a table, under
    `rune` and `rune-juju`."""
    motd, image = tmp_path / "motd.txt", tmp_path / "side.yaml"
    motd.write_text("hello\n")
    image.write_text(IMAGE_DOCUMENT)
    charm = resource_charm(tmp_path / "res-demo")
    controller.rune("deploy", str(charm), "demo", "-n", "0", "--resource", f"motd={motd}")
    controller.rune("attach-resource", "demo", f"side-image={image}")
    document = controller.json("resources", "demo")
    resources = document["resources"]
    assert isinstance(resources, list)
    assert [(r["name"], r["origin"], r["revision"]) for r in resources] == [
        ("extra", "none", 0),
        ("motd", "upload", 1),
        ("side-image", "upload", 1),
        ("web-image", "upstream", 0),
    ]
    assert resources[1]["filename"] == "motd.txt" and "image" not in resources[1]
    assert resources[2]["image"] == "registry.example/side:2" and "filename" not in resources[2]
    assert yaml.safe_load(controller.rune("resources", "demo", "--format", "yaml")) == document
    code, table, _ = controller.run("resources", "demo", prog="juju")
    assert code == 0
    assert [line.split() for line in table.splitlines()] == [
        ["Resource", "Type", "Origin", "Revision", "Image/Fingerprint"],
        ["extra", "file", "none", "-", "-"],
        ["motd", "file", "upload", "1", resources[1]["fingerprint"][:12]],
        ["side-image", "oci-image", "upload", "1", "registry.example/side:2"],
        ["web-image", "oci-image", "upstream", "-", "python:3.12-slim"],
    ]


def test_refresh_attaches_the_resources_jubilant_passes(
    controller: Controller, tmp_path: Path
) -> None:
    """jubilant's `refresh(app, path=…, resources={…})`: `refresh --model M APP --path P
    --resource NAME=PATH`; what is wrong is refused before the charm changes."""
    first, second = tmp_path / "motd-1.txt", tmp_path / "motd-2.txt"
    first.write_text("one\n")
    second.write_text("two\n")
    charm = resource_charm(tmp_path / "res-demo")
    controller.rune("deploy", str(charm), "demo", "-n", "0", "--resource", f"motd={first}")
    refresh = ("refresh", "--model", "default", "demo", "--path", str(charm))

    def state() -> tuple[object, object]:
        apps: Any = controller.json("status")["applications"]
        return apps["demo"]["charm-rev"], controller.json("resources", "demo")

    before = state()
    for args, message in [
        (("--resource", f"nope={second}"), 'charm "res-demo" declares no resource "nope"'),
        (("--resource", f"motd={tmp_path / 'gone.txt'}"), 'resource "motd": cannot read'),
        (("--storage", "data=1G"), "refresh --storage is not supported yet"),
    ]:
        code, _, stderr = controller.run(*refresh, *args, prog="juju")
        assert code != 0 and message in stderr, (args, stderr)
    assert state() == before
    code, _, stderr = controller.run(*refresh, "--resource", f"motd={second}", prog="juju")
    assert code == 0, stderr
    revision, listed = state()
    assert revision == before[0] + 1  # type: ignore[operator]
    (old,) = [r for r in before[1]["resources"] if r["name"] == "motd"]  # type: ignore[index]
    (motd,) = [r for r in listed["resources"] if r["name"] == "motd"]  # type: ignore[index]
    assert motd["revision"] == 2 and motd["fingerprint"] != old["fingerprint"]


def test_deploy_add_unit_and_add_machine_take_every_flag_jubilant_passes(
    controller: Controller, tmp_path: Path
) -> None:
    """The flags jubilant's `deploy`, `add_unit` and `add_machine` pass: accepted where
    Runecraft has the same meaning, else refused by name (not as unknown options)."""
    deploy = ("deploy", "--model", "default", HELLO, "hb", "--num-units", "0")
    code, _, stderr = controller.run(*deploy, "--bind", "alpha", "--force", prog="juju")
    assert code == 0, stderr
    refused = [
        (("deploy", "--model", "default", HELLO, "x", "--bind", "source=public"), 'space "public"'),
        (
            ("deploy", "--model", "default", HELLO, "y", "--attach-storage", "d/0"),
            "--attach-storage",
        ),
        (("add-unit", "--model", "default", "hb", "--attach-storage", "d/0"), "--attach-storage"),
        (("add-machine", "--model", "default", "--disks", "1G"), "--disks is not supported"),
        (
            (
                "add-machine",
                "--model",
                "default",
                "ssh:nobody@192.0.2.1",
                "--private-key",
                str(tmp_path / "id"),
                "--public-key",
                str(tmp_path / "id.pub"),
            ),
            "private key",  # --public-key parsed; the missing private key named
        ),
    ]
    before = controller.revision("default")
    for args, message in refused:
        code, _, stderr = controller.run(*args, prog="juju")
        assert code in (1, 2) and message in stderr and "No such option" not in stderr, stderr
    assert controller.revision("default") == before
    assert list(controller.json("status")["applications"]) == ["hb"]  # type: ignore[call-overload]


def test_bootstrap_takes_jubilants_metadata_source(controller: Controller, tmp_path: Path) -> None:
    """jubilant's `bootstrap(metadata_source=…)`: parsed (Runecraft needs no image
    metadata); here `--to` is what is refused, before anything starts."""
    args = ("bootstrap", "local", "other", "--no-switch", "--metadata-source", str(tmp_path))
    code, _, stderr = controller.run(*args, "--to", "0", prog="juju")
    assert (code, stderr.strip()) == (1, "ERROR bootstrap --to is not supported yet"), stderr


def test_resources_of_a_charm_that_declares_none(controller: Controller) -> None:
    controller.rune("deploy", HELLO, "-n", "0")
    assert controller.json("resources", "hello-bash") == {"resources": []}
    code, stdout, stderr = controller.run("resources", "hello-bash")
    assert (code, stdout, stderr.strip()) == (0, "", "No resources to display.")


BAD = [
    (["resources", "nope"], 1, 'application "nope" not found'),
    (["resources", "--model", "nope", "hello-bash"], 1, 'model "nope" not found'),
    (["resources", "hello-bash", "--format", "xml"], 2, "Invalid value for '--format'"),
    (["resources"], 2, "Missing argument"),
    (["show-model", "nope"], 1, 'model "nope" not found'),
    (["show-model", "elsewhere:admin/default"], 1, 'controller "elsewhere" not found'),
    (["add-model", "other", "--controller", "elsewhere"], 1, 'controller "elsewhere" not found'),
    (["add-model", "elsewhere:admin/other"], 1, 'controller "elsewhere" not found'),
    (["show-model", "--format", "xml"], 2, "Invalid value for '--format'"),
    (["show-unit", "nope/0"], 1, 'unit "nope/0" not found'),
    (["show-unit", "hello-bash/7"], 1, 'unit "hello-bash/7" not found'),
    (["show-unit", "hello-bash"], 1, 'invalid unit name "hello-bash"'),
    (["show-unit"], 2, "Missing argument"),
    (["scale-application", "nope", "2"], 1, 'application "nope" not found'),
    (["scale-application", "hello-bash", "x"], 2, "'x' is not a valid integer"),
    (["scale", "hello-bash", "--", "-1"], 2, "-1 is not in the range x>=0"),
    (["scale-application", "hello-bash"], 2, "Missing argument 'SCALE'"),
    (["version", "--format", "xml"], 2, "Invalid value for '--format'"),
    (["status", "--model", "ctl:admin/nope"], 1, 'model "nope" not found'),
    (["status", "--bogus"], 2, "No such option"),
    (["config", "nope"], 1, 'application "nope" not found'),
    (["config", "hello-bash", "nope=1"], 1, 'unknown option "nope"'),
    (["config", "hello-bash", "--reset", "nope"], 1, "nope"),
    (["config", "hello-bash", "message", "x=1"], 2, "give either one KEY"),
    (["config", "hello-bash", "--file", "/nonexistent.yaml"], 1, "cannot read config file"),
    (["deploy", "/nonexistent/charm"], 1, 'charm "/nonexistent/charm" not found'),
    (["deploy", HELLO, "--num-units", "-2"], 2, "--num-units"),
    (["deploy", HELLO, "other", "--config", "=x"], 2, 'invalid config "=x"'),
    (["deploy", HELLO, "x", "--constraints", "mem=lots"], 1, '"mem"'),
    (["deploy", HELLO, "x", "--constraints", "gpu=1"], 1, '"gpu"'),
    (["deploy", HELLO, "x", "--base", "jammy"], 1, 'invalid base "jammy"'),
    (["trust", "nope"], 1, 'application "nope" not found'),
    (["trust", "hello-bash", "--scope", "world"], 2, "'world' is not 'cluster'"),
    (["constraints", "nope"], 1, 'application "nope" not found'),
    (["set-constraints", "hello-bash", "cores=two"], 1, 'constraint "cores"'),
    (["set-constraints", "hello-bash"], 2, "Missing argument"),
    (["set-model-constraints", "mem=8Q"], 1, 'constraint "mem"'),
    (["set-model-constraints", "--model", "nope", "mem=8G"], 1, 'model "nope" not found'),
    (["model-constraints", "--format", "xml"], 2, "Invalid value for '--format'"),
    (["add-unit", "nope"], 1, 'application "nope" not found'),
    (["remove-unit", "--no-prompt", "nope/0"], 1, 'unit "nope/0" not found'),
    (["remove-unit", "--no-prompt", "hello-bash", "--num-units", "1"], 1, "it has 0"),
    (["remove-unit", "--no-prompt", "nope", "--num-units", "1"], 1, '"nope" not found'),
    (["remove-unit", "--no-prompt", "hello-bash", "--num-units", "0"], 2, "--num-units"),
    (
        ["destroy-model", "default", "--no-prompt", "--destroy-storage", "--release-storage"],
        2,
        "cannot be used together",
    ),
    (["remove-application", "--no-prompt", "nope"], 1, 'application "nope" not found'),
    (["run", "nope/0", "greet"], 0, 'unit "nope/0" not found'),  # Juju 3.6 exits 0
    (["exec", "--unit", "nope/0", "--", "true"], 0, 'unit "nope/0" not found'),
    (["run", "hello-bash/0", "greet", "--model", "nope"], 1, 'model "nope" not found'),
    (["run", "hello-bash/0", "x", "--wait", "soon"], 2, 'invalid duration "soon"'),
    (["destroy-model", "nope", "--no-prompt", "--timeout", "600s"], 1, 'model "nope" not found'),
    (["destroy-model", "default", "--no-prompt", "--timeout", "ages"], 2, "invalid duration"),
]


def test_bad_input_names_the_problem_and_changes_nothing(controller: Controller) -> None:
    """Each bad command, through the `rune-juju` entry point (its error mapping: `ERROR …`,
    exit 2 for usage errors, 1 otherwise), names what is wrong and changes nothing."""
    controller.rune("deploy", HELLO, "-n", "0", "--constraints", "mem=512M")
    controller.rune("set-model-constraints", "mem=8M")
    before = controller.json("status")
    wrong = []
    for args, code, message in BAD:
        got, _, stderr = controller.run(*args, prog="juju")
        if (got, message in stderr) != (code, True):
            wrong.append((args, got, stderr))
    assert wrong == []
    after = controller.json("status")
    assert after["applications"] == before["applications"]
    assert after["model"]["revision"] == before["model"]["revision"]  # type: ignore[index]
    assert controller.rune("constraints", "hello-bash").strip() == "mem=512M"
    assert controller.rune("model-constraints").strip() == "mem=8M"


# --- Kubernetes clouds (`add-k8s`, `clouds`, `show-cloud`, `remove-cloud`) ----------------


def _kubeconfig_file(directory: Path) -> Path:
    """A kubeconfig whose `prod` context names its certificate authority, client certificate
    and key as files next to it (relative paths, as kubectl reads them)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.crt").write_bytes(b"CA PEM")
    (directory / "me.crt").write_bytes(b"CERT PEM")
    (directory / "me.key").write_bytes(b"KEY PEM")
    document = kubeconfig()
    document["current-context"] = "prod"
    document["clusters"][1]["cluster"]["certificate-authority"] = "ca.crt"
    document["users"][1]["user"] = {"client-certificate": "me.crt", "client-key": "me.key"}
    path = directory / "config"
    path.write_text(yaml.safe_dump(document))
    return path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_k8s_add_k8s_embeds_the_files_and_adds_the_cloud_to_client_and_controller(
    controller: Controller, tmp_path: Path
) -> None:
    path = _kubeconfig_file(tmp_path / "kube")
    _, _, stderr = controller.run("add-k8s", "k8s-prod", "--kubeconfig", str(path))
    assert 'added as cloud "k8s-prod" on this client and controller "ctl"' in stderr
    stored = asyncio.run(controller.store.cloud("k8s-prod"))
    assert stored is not None and stored.endpoint == "https://10.9.9.9:6443"
    assert stored.config["clusters"][0]["cluster"] == {
        "server": "https://10.9.9.9:6443",
        "certificate-authority-data": _b64(b"CA PEM"),
    }
    assert stored.config["users"][0]["user"] == {
        "client-certificate-data": _b64(b"CERT PEM"),
        "client-key-data": _b64(b"KEY PEM"),
    }
    client_file = home_settings().client_clouds
    assert client_file.stat().st_mode & 0o777 == 0o600
    assert yaml.safe_load(client_file.read_text())["clouds"]["k8s-prod"]["kubeconfig"] == (
        stored.config
    )
    for output in ("json", "yaml"):
        stdout = controller.rune("clouds", "--format", output)
        document = json.loads(stdout) if output == "json" else yaml.safe_load(stdout)
        assert document["k8s-prod"] == {
            "defined": "public",
            "type": "k8s",
            "description": "units are pods of a Kubernetes cluster",
            "auth-types": ["clientcertificate"],
            "endpoint": "https://10.9.9.9:6443",
        }
        assert document["local"]["defined"] == "built-in"
        assert "KEY" not in stdout and _b64(b"KEY PEM") not in stdout
    shown = json.loads(controller.rune("show-cloud", "k8s-prod", "--format", "json"))
    assert [s["summary"] for s in shown] == [
        'Cloud "k8s-prod" from controller "ctl"',
        'Client cloud "k8s-prod"',
    ]


def test_k8s_a_wrong_context_is_refused_and_nothing_is_stored(
    controller: Controller, tmp_path: Path
) -> None:
    path = _kubeconfig_file(tmp_path / "kube")
    code, _, stderr = controller.run(
        "add-k8s", "k8s-prod", "--kubeconfig", str(path), "--context", "staging"
    )
    assert code == 1
    assert 'context "staging" not found in the kubeconfig (known contexts: dev, prod)' in stderr
    assert asyncio.run(controller.store.clouds()) == []
    assert not home_settings().client_clouds.exists()


def test_k8s_add_k8s_reads_kubeconfig_from_the_environment_and_client_only_stays_here(
    controller: Controller, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _kubeconfig_file(tmp_path / "kube")
    monkeypatch.setenv("KUBECONFIG", f"{path}:{tmp_path / 'other'}")
    controller.rune("add-k8s", "k8s-here", "--client", "--context", "dev")
    assert asyncio.run(controller.store.clouds()) == []
    document = json.loads(controller.rune("clouds", "--client", "--format", "json"))
    assert document["k8s-here"]["defined"] == "local"
    assert document["k8s-here"]["endpoint"] == "https://10.0.0.1:6443"
    code, _, stderr = controller.run("add-model", "pods", "--cloud", "k8s-here")
    assert code == 1
    assert 'unknown cloud "k8s-here"' in stderr and "on this client only" in stderr


def test_k8s_juju_flags_of_add_k8s_choose_the_context(
    controller: Controller, tmp_path: Path
) -> None:
    path = _kubeconfig_file(tmp_path / "kube")
    controller.run(
        "add-k8s", "k8s-a", "--kubeconfig", str(path), "--context-name", "dev", prog="juju"
    )
    controller.run(
        "add-k8s", "k8s-b", "--kubeconfig", str(path), "--cluster-name", "dev-cluster", prog="juju"
    )
    clouds = json.loads(controller.rune("clouds", "--controller", "ctl", "--format", "json"))
    assert clouds["k8s-a"]["endpoint"] == clouds["k8s-b"]["endpoint"] == "https://10.0.0.1:6443"
    code, _, stderr = controller.run(
        "add-k8s",
        "k8s-c",
        "--kubeconfig",
        str(path),
        "--context-name",
        "dev",
        "--cluster-name",
        "dev-cluster",
        prog="juju",
    )
    assert code == 2 and "not both" in stderr


def test_k8s_model_on_an_added_cloud_is_caas_and_keeps_its_cloud(
    controller: Controller, tmp_path: Path
) -> None:
    path = _kubeconfig_file(tmp_path / "kube")
    controller.rune("add-k8s", "k8s-prod", "--kubeconfig", str(path))
    code, _, stderr = controller.run("add-model", "pods", "--cloud", "k8s-prod", "--no-switch")
    assert code == 0, stderr
    assert 'Added model "pods" on cloud "k8s-prod" (model type caas)' in stderr
    shown = controller.json("show-model", "pods")["pods"]
    assert isinstance(shown, dict)
    assert (shown["model-type"], shown["cloud"], shown["type"]) == (
        "caas",
        "k8s-prod",
        "kubernetes",
    )
    models = controller.json("models")["models"]
    assert isinstance(models, list)
    assert {m["short-name"]: m["model-type"] for m in models} == {"default": "iaas", "pods": "caas"}
    assert controller.json("status", "-m", "pods")["model"]["type"] == "caas"  # type: ignore[index]
    code, _, stderr = controller.run("remove-cloud", "k8s-prod")
    assert code == 1 and 'cloud "k8s-prod" is in use by model "pods"' in stderr
    assert asyncio.run(controller.store.cloud("k8s-prod")) is not None
    assert "k8s-prod" in yaml.safe_load(home_settings().client_clouds.read_text())["clouds"]


def test_k8s_remove_cloud_removes_it_from_controller_and_client(
    controller: Controller, tmp_path: Path
) -> None:
    path = _kubeconfig_file(tmp_path / "kube")
    controller.rune("add-k8s", "k8s-prod", "--kubeconfig", str(path))
    _, _, stderr = controller.run("remove-cloud", "k8s-prod")
    assert 'Removed cloud "k8s-prod" from controller "ctl" and this client' in stderr
    assert asyncio.run(controller.store.clouds()) == []
    assert "k8s-prod" not in controller.json("clouds")
    code, _, stderr = controller.run("remove-cloud", "k8s-prod")
    assert code == 1 and 'cloud "k8s-prod" not found' in stderr
    code, _, stderr = controller.run("remove-cloud", "local")
    assert code == 1 and "built-in cloud" in stderr


# --- a k8s model (type "caas"): Juju's rules and shapes -----------------------------------


def _k8s_model(controller: Controller) -> None:
    """A k8s model `k8s` beside `default` (made in the store: no cluster is needed)."""
    config = dict(services.DEFAULT_MODEL_CONFIG)
    asyncio.run(controller.store.create_model("k8s", "k8s-uuid", "fake", config, "caas"))


K8S_BAD = [
    (["remove-unit", "hello-bash/1"], 2, "k8s models do not support removing named units"),
    (["remove-unit", "hello-bash"], 2, "specify the number of units (> 0) to remove"),
    (["remove-unit", "hello-bash", "x", "--num-units", "1"], 2, "only single application"),
    (["remove-unit", "hello-bash", "--num-units", "4"], 1, "it has 3"),
    (["add-unit", "hello-bash", "--to", "0"], 1, "k8s models only support --num-units"),
    (["deploy", HELLO, "other", "--to", "0"], 1, "k8s models only support --num-units"),
    (["machines"], 1, 'Juju command "machines" not supported on container models'),
    (["ssh", "0", "true"], 1, 'model "k8s" is a k8s model'),
    (["ssh", "hello-bash/0", "true"], 1, "ssh into pods is not supported yet"),
]


def test_k8s_cli_refusals_name_the_problem_and_change_nothing(controller: Controller) -> None:
    _k8s_model(controller)
    controller.rune("deploy", HELLO, "-n", "3", "-m", "k8s")
    before = controller.json("status", "-m", "k8s")
    wrong = []
    for args, code, message in K8S_BAD:
        got, _, stderr = controller.run(*args, "-m", "k8s", prog="juju")
        if (got, message in stderr) != (code, True):
            wrong.append((args, got, stderr))
    assert wrong == []
    after = controller.json("status", "-m", "k8s")
    assert after["applications"] == before["applications"]
    assert after["model"]["revision"] == before["model"]["revision"]  # type: ignore[index]


def test_k8s_cli_scales_by_count_highest_numbers_first(controller: Controller) -> None:
    _k8s_model(controller)
    controller.rune("deploy", HELLO, "-n", "3", "-m", "k8s")
    code, _, stderr = controller.run("remove-unit", "hello-bash", "--num-units", "2", "-m", "k8s")
    assert (code, "scaling down to 1 units" in stderr) == (0, True)
    controller.rune("scale-application", "hello-bash", "1", "-m", "k8s")  # already there
    units = controller.json("status", "-m", "k8s")["applications"]["hello-bash"]["units"]  # type: ignore[index]
    assert {name: unit["life"] for name, unit in units.items()} == {
        "hello-bash/0": "",
        "hello-bash/1": "dying",
        "hello-bash/2": "dying",
    }
    document = controller.json("show-model", "k8s")["k8s"]
    assert (document["model-type"], document["type"]) == ("caas", "kubernetes")  # type: ignore[index]


def test_k8s_cli_tabular_status_has_no_machines(controller: Controller) -> None:
    _k8s_model(controller)
    controller.rune("deploy", HELLO, "-n", "1", "-m", "k8s")
    table = controller.rune("status", "-m", "k8s")
    header = next(line for line in table.splitlines() if line.startswith("Unit"))
    assert header.split() == ["Unit", "Workload", "Agent", "Address", "Ports", "Message"]
    assert "hello-bash/0" in table and "Machine" not in table
    listed = controller.json("models")["models"]
    assert [(m["short-name"], m["type"]) for m in listed] == [  # type: ignore[attr-defined]
        ("default", "iaas"),
        ("k8s", "caas"),
    ]


def test_remove_unit_by_count_still_works_on_machine_models_not_k8s(
    controller: Controller,
) -> None:
    controller.rune("deploy", HELLO, "-n", "3")
    code, _, stderr = controller.run("remove-unit", "hello-bash", "--num-units", "2")
    assert (code, "Removing hello-bash/2, hello-bash/1" in stderr) == (0, True)


def test_plan_exit_codes(controller: Controller, tmp_path: Path) -> None:
    """Terraform's `-detailed-exitcode`: 0 nothing to do, 2 changes pending, 1 any error,
    a mistyped option included (click alone would exit 2 for that)."""
    pending = tmp_path / "pending.yaml"
    pending.write_text(f"applications:\n  greeter:\n    charm: {HELLO}\n    num_units: 0\n")
    code, stdout, stderr = controller.run("plan", str(pending))
    assert code == 2, stderr
    assert "deploy application greeter" in stdout or "greeter" in stdout

    controller.rune("deploy", HELLO, "greeter", "-n", "0")
    code, stdout, stderr = controller.run("plan", str(pending))
    assert code == 0, stdout + stderr
    assert "already matches the bundle" in stdout

    code, _, stderr = controller.run("plan", str(tmp_path / "missing.yaml"))
    assert code == 1 and "missing.yaml" in stderr

    code, _, stderr = controller.run("plan", str(pending), "--formt", "json")
    assert code == 1 and "No such option '--formt'" in stderr
    code, _, stderr = controller.run("-m", "default", "plan")
    assert code == 1 and "Missing argument" in stderr
    code, _, stderr = controller.run("plan", str(pending), "-m")
    assert code == 1 and "needs a model name" in stderr


def test_other_commands_keep_usage_status_two(controller: Controller) -> None:
    code, _, stderr = controller.run("status", "--formt", "json")
    assert code == 2 and "No such option" in stderr


def test_credentials_of_the_clouds_this_client_added(
    controller: Controller, tmp_path: Path
) -> None:
    """An added cloud's credential is its kubeconfig user, named after the cloud; secret
    attributes show only with --show-secrets (jubilant's tests read `details`)."""
    assert controller.json("credentials") == {"client-credentials": {}}
    path = _kubeconfig_file(tmp_path / "kube")
    controller.rune("add-k8s", "k8s-prod", "--kubeconfig", str(path))
    shown = controller.json("credentials")["client-credentials"]["k8s-prod"]
    assert shown == {
        "default-credential": "k8s-prod",
        "cloud-credentials": {
            "k8s-prod": {
                "auth-type": "clientcertificate",
                "details": {"ClientCertificateData": "CERT PEM"},
            }
        },
    }
    secret = controller.json("credentials", "k8s-prod", "--show-secrets")
    details = secret["client-credentials"]["k8s-prod"]["cloud-credentials"]["k8s-prod"]["details"]
    assert details == {"ClientCertificateData": "CERT PEM", "ClientKeyData": "KEY PEM"}
    code, _, stderr = controller.run("credentials", "nope", prog="juju")
    assert (code, 'cloud "nope" not found' in stderr) == (1, True)


def test_add_cloud_then_add_credential_then_the_controller(
    controller: Controller, tmp_path: Path
) -> None:
    """Juju's order: the cloud's definition (client), its credential, then the cloud to the
    controller; each bad file or step names what is wrong and changes nothing."""
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        yaml.safe_dump(
            {
                "clouds": {
                    "k8s-lab": {
                        "type": "k8s",
                        "endpoint": "https://10.1.2.3:6443",
                        "ca-certificates": ["CA PEM"],
                    },
                    "box": {"type": "lxd", "endpoint": "https://10.1.2.4:8443"},
                }
            }
        )
    )

    def credential(**attrs: str) -> Path:
        creds = tmp_path / f"credentials-{len(list(tmp_path.glob('credentials-*')))}.yaml"
        creds.write_text(yaml.safe_dump({"credentials": {"k8s-lab": {"lab-token": attrs}}}))
        return creds

    _, _, stderr = controller.run("add-cloud", "k8s-lab", "-f", str(clouds), prog="juju")
    assert 'Cloud "k8s-lab" added to this client.' in stderr  # no credential: not uploaded
    assert asyncio.run(controller.store.cloud("k8s-lab")) is None
    assert controller.json("credentials") == {"client-credentials": {}}
    token = credential(**{"auth-type": "oauth2", "Token": "sekret"})
    bad = [
        (["add-cloud", "box", "-f", str(clouds)], 'cloud type "lxd" cannot be added'),
        (["add-cloud", "nope", "-f", str(clouds)], '"nope" not found in clouds file'),
        (["add-cloud", "k8s-lab", "-f", str(clouds)], 'cloud "k8s-lab" already exists'),
        (["add-cloud", "k8s-lab", "--controller", "ctl"], "has no credential yet"),
        (["add-credential", "nope", "-f", str(credential(Token="t"))], 'cloud "nope" not found'),
        (
            ["add-credential", "k8s-lab", "-f", str(credential(**{"auth-type": "oauth2"}))],
            "needs Token",
        ),
        (
            ["add-credential", "k8s-lab", "-f", str(credential(**{"auth-type": "magic"}))],
            'auth-type "magic" is not supported',
        ),
        (
            ["add-credential", "k8s-lab", "-f", str(token), "--controller", "ctl"],
            'unknown cloud "k8s-lab"',  # not on the controller yet
        ),
    ]
    before = home_settings().client_clouds.read_text()
    wrong = []
    for args, message in bad:
        code, _, stderr = controller.run(*args, prog="juju")
        if (code, message in stderr) != (1, True):
            wrong.append((args, code, stderr))
    assert wrong == []
    assert home_settings().client_clouds.read_text() == before
    assert asyncio.run(controller.store.cloud("k8s-lab")) is None

    controller.rune("add-credential", "k8s-lab", "-f", str(token))
    shown = controller.json("credentials", "--show-secrets")["client-credentials"]
    assert shown == {
        "k8s-lab": {
            "default-credential": "lab-token",
            "cloud-credentials": {
                "lab-token": {"auth-type": "oauth2", "details": {"Token": "sekret"}}
            },
        }
    }
    controller.rune("add-cloud", "k8s-lab", "--controller", "ctl", "--credential", "lab-token")
    stored = asyncio.run(controller.store.cloud("k8s-lab"))
    assert stored is not None and stored.endpoint == "https://10.1.2.3:6443"
    assert stored.config["users"][0]["user"] == {"token": "sekret"}
    assert stored.config["clusters"][0]["cluster"]["certificate-authority-data"] == _b64(b"CA PEM")


def test_add_credential_to_the_controller_is_what_it_authenticates_with(
    controller: Controller, tmp_path: Path
) -> None:
    """Juju's `add-credential --controller`: the credential goes to the controller's copy
    of the cloud (the client's stays) and `credentials --controller` lists it; bad input
    names what is wrong and changes nothing."""
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        yaml.safe_dump(
            {"clouds": {"k8s-lab": {"type": "k8s", "endpoint": "https://10.1.2.3:6443"}}}
        )
    )

    def credential(name: str, **attrs: str) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            yaml.safe_dump({"credentials": {c: {name: attrs} for c in ("k8s-lab", "nope")}})
        )
        return path

    controller.rune("add-cloud", "k8s-lab", "-f", str(clouds), "--client")
    first = credential("lab-token", **{"auth-type": "oauth2", "Token": "t0k"})
    controller.rune("add-credential", "k8s-lab", "-f", str(first))
    controller.rune("add-cloud", "k8s-lab", "--controller", "ctl")
    listed = controller.json("credentials", "--controller", "ctl")
    assert listed == {
        "controller-credentials": {
            "k8s-lab": {"cloud-credentials": {"lab-token": {"auth-type": "oauth2", "details": {}}}}
        }
    }
    rotated = credential("rotated", **{"auth-type": "userpass", "username": "u", "password": "p"})
    before = asyncio.run(controller.store.cloud("k8s-lab"))
    for args, message in [
        (("k8s-lab", "-f", str(rotated), "--controller", "elsewhere"), 'controller "elsewhere"'),
        (("nope", "-f", str(rotated), "--controller", "ctl"), 'unknown cloud "nope"'),
        (("local", "-f", str(rotated), "--controller", "ctl"), 'cloud "local" is built in'),
        (
            ("k8s-lab", "-f", str(credential("bad", **{"auth-type": "magic"})), "-c", "ctl"),
            'auth-type "magic" is not supported',
        ),
    ]:
        code, _, stderr = controller.run("add-credential", *args, prog="juju")
        assert (code, message in stderr) == (1, True), (args, stderr)
    assert asyncio.run(controller.store.cloud("k8s-lab")) == before

    code, _, stderr = controller.run(
        "add-credential", "k8s-lab", "-f", str(rotated), "--controller", "ctl", prog="juju"
    )
    assert code == 0 and 'credential "rotated" for cloud "k8s-lab"' in stderr, stderr
    stored = asyncio.run(controller.store.cloud("k8s-lab"))
    assert stored is not None
    assert stored.config["users"] == [
        {"name": "rotated", "user": {"username": "u", "password": "p"}}
    ]
    assert stored.config["contexts"][0]["context"]["user"] == "rotated"
    shown = controller.json("credentials", "k8s-lab", "--controller", "ctl", "--client")
    assert shown["controller-credentials"] == {
        "k8s-lab": {"cloud-credentials": {"rotated": {"auth-type": "userpass", "details": {}}}}
    }
    client_side = shown["client-credentials"]["k8s-lab"]  # type: ignore[index]
    assert client_side["default-credential"] == "lab-token"  # the client's copy stays


def test_update_cloud_moves_the_endpoint_and_keeps_the_credential(
    controller: Controller, tmp_path: Path
) -> None:
    """jubilant's `update_cloud`: `update-cloud CLOUD [--client] [--controller C] -f F`, on
    the client's copy and the controller's; bad input changes neither."""

    def clouds(endpoint: str, **extra: Any) -> Path:
        path = tmp_path / f"clouds-{len(list(tmp_path.glob('clouds-*')))}.yaml"
        cloud = {"type": "k8s", "endpoint": endpoint, **extra}
        path.write_text(yaml.safe_dump({"clouds": {"k8s-lab": cloud}}))
        return path

    token = tmp_path / "credentials.yaml"
    token.write_text(
        yaml.safe_dump({"credentials": {"k8s-lab": {"lab": {"auth-type": "oauth2", "Token": "t"}}}})
    )
    controller.rune("add-cloud", "k8s-lab", "-f", str(clouds("https://10.1.2.3:6443")), "--client")
    controller.rune("add-credential", "k8s-lab", "-f", str(token))
    controller.rune("add-cloud", "k8s-lab", "--controller", "ctl")
    moved = clouds("https://10.7.7.7:6443", **{"ca-certificates": ["NEW CA"]})
    before = (
        home_settings().client_clouds.read_text(),
        asyncio.run(controller.store.cloud("k8s-lab")),
    )
    for args, message in [
        (("nope", "-f", str(moved)), '"nope" not found in clouds file'),
        (("k8s-lab", "-f", str(clouds("ftp://10.7.7.7"))), "endpoint must be an http(s) URL"),
        (("k8s-lab", "-f", str(moved), "--controller", "elsewhere"), 'controller "elsewhere"'),
    ]:
        code, _, stderr = controller.run("update-cloud", *args, prog="juju")
        assert (code, message in stderr) == (1, True), (args, stderr)
    after = (
        home_settings().client_clouds.read_text(),
        asyncio.run(controller.store.cloud("k8s-lab")),
    )
    assert after == before

    code, _, stderr = controller.run("update-cloud", "k8s-lab", "-f", str(moved), prog="juju")
    assert 'Cloud "k8s-lab" updated on this client and controller "ctl".' in stderr, (code, stderr)
    stored = asyncio.run(controller.store.cloud("k8s-lab"))
    assert stored is not None and stored.endpoint == "https://10.7.7.7:6443"
    assert stored.config["clusters"][0]["cluster"] == {
        "server": "https://10.7.7.7:6443",
        "certificate-authority-data": _b64(b"NEW CA"),
    }
    assert stored.config["users"] == [{"name": "lab", "user": {"token": "t"}}]
    client_copy = yaml.safe_load(home_settings().client_clouds.read_text())["clouds"]["k8s-lab"]
    assert client_copy["endpoint"] == "https://10.7.7.7:6443"
    assert client_copy["credential"] == "lab"
    assert client_copy["kubeconfig"]["users"][0]["user"] == {"token": "t"}
    back = clouds("https://10.1.2.3:6443")
    controller.rune("update-cloud", "k8s-lab", "-f", str(back), "--controller", "ctl")
    shown = controller.json("show-cloud", "k8s-lab", "--controller", "ctl")
    assert shown[0]["endpoint"] == "https://10.1.2.3:6443"  # type: ignore[index]


CHARMS = Path(__file__).parents[1] / "charms"


def test_offer_consume_integrate_and_remove_as_juju(controller: Controller) -> None:
    controller.rune("add-model", "consuming", "--no-switch")
    controller.rune("deploy", str(CHARMS / "bash-provider"), "prov", "-n", "0")
    controller.rune("deploy", str(CHARMS / "bash-requirer"), "req", "-n", "0", "-m", "consuming")

    # Bad input: a clear error naming the problem, nothing changed.
    before = (controller.revision("default"), controller.revision("consuming"))
    for args, named in [
        (("offer", "prov:nope"), 'application "prov" has no "nope" relation endpoint'),
        (("offer", "prov"), 'invalid offer "prov"'),
        (("offer", "ghost:source"), 'application "ghost" not found'),
        (("consume", "-m", "consuming", "default.nope"), 'offer "admin/default.nope" not found'),
        (("consume", "-m", "consuming", "missing.prov"), 'model "missing" not found'),
        (("remove-offer", "default.nope"), 'offer "admin/default.nope" not found'),
        (("remove-saas", "-m", "consuming", "nope"), 'SAAS "nope" not found'),
    ]:
        code, _, stderr = controller.run(*args)
        assert code != 0 and named in stderr, (args, stderr)
    assert (controller.revision("default"), controller.revision("consuming")) == before

    # jubilant's argv: `offer MODEL.APP:EP` (no --model), `consume --model M URL ALIAS`.
    code, _, stderr = controller.run("offer", "default.prov:source", "hosted", prog="juju")
    assert code == 0, stderr
    assert 'endpoints [source] available at "admin/default.hosted"' in stderr
    code, _, stderr = controller.run(
        "consume", "--model", "consuming", "admin/default.hosted", "theprov", prog="juju"
    )
    assert code == 0, stderr
    controller.rune("integrate", "-m", "consuming", "req", "theprov")

    offers: Any = controller.json("offers")
    (connection,) = offers["hosted"]["connections"]
    assert isinstance(connection["relation-id"], int) and connection["source-model-uuid"]
    assert offers == {
        "hosted": {
            "application": "prov",
            "charm": "bash-provider",
            "offer-url": "admin/default.hosted",
            "endpoints": {"source": {"interface": "conformance", "role": "provider"}},
            "connections": [
                {
                    "source-model-uuid": connection["source-model-uuid"],
                    "username": "admin",
                    "relation-id": connection["relation-id"],
                    "endpoint": "source",
                    "status": {"current": "joined"},
                }
            ],
            "users": {"admin": {"display-name": "admin", "access": "admin"}},
        }
    }
    table = controller.rune("offers")
    assert "hosted" in table and "source:conformance (provider)" in table
    consumer = statustypes.Status._from_dict(controller.json("status", "-m", "consuming"))
    assert consumer.app_endpoints["theprov"].url == "admin/default.hosted"
    assert consumer.apps["req"].relations["sink"][0].related_app == "theprov"
    offerer = statustypes.Status._from_dict(controller.json("status"))
    assert offerer.offers["hosted"].total_connected_count == 1

    code, _, stderr = controller.run("remove-offer", "admin/default.hosted")
    assert code != 0 and "--force" in stderr, stderr
    controller.rune("remove-offer", "hosted", "--force")
    assert controller.json("offers") == {}
    controller.rune("remove-saas", "-m", "consuming", "theprov")
    assert "application-endpoints" not in controller.json("status", "-m", "consuming")


def test_status_filters_keep_only_the_integrations_of_the_applications_shown(
    controller: Controller,
) -> None:
    """As Juju: `status APP|UNIT|MACHINE` lists the relations a shown application takes
    part in, in `integrations` and in the `--relations` table."""
    controller.rune("deploy", str(CHARMS / "bash-provider"), "prov", "-n", "0")
    controller.rune("deploy", str(CHARMS / "bash-requirer"), "req", "-n", "0")
    controller.rune("deploy", str(CHARMS / "bash-requirer"), "lonely", "-n", "0")
    controller.rune("integrate", "req", "prov")

    def keys(*patterns: str) -> list[str]:
        integrations: Any = controller.json("status", *patterns)["integrations"]
        return sorted(f"{i['provider']} {i['requirer']}" for i in integrations)

    assert keys() == [
        "lonely:peers lonely:peers",
        "prov:peers prov:peers",
        "prov:source req:sink",
        "req:peers req:peers",
    ]
    assert keys("prov") == ["prov:peers prov:peers", "prov:source req:sink"]
    assert keys("req", "prov") == [
        "prov:peers prov:peers",
        "prov:source req:sink",
        "req:peers req:peers",
    ]
    assert keys("lonely") == ["lonely:peers lonely:peers"]
    assert keys("nothing-here") == []
    table = controller.rune("status", "lonely", "--relations")
    assert "lonely:peers" in table
    assert "prov:source" not in table and "req:sink" not in table


def test_find_offers_and_show_offer_print_jujus_documents(controller: Controller) -> None:
    controller.rune("add-model", "consuming", "--no-switch")
    controller.rune("deploy", str(CHARMS / "bash-provider"), "prov", "-n", "0")
    controller.rune("deploy", str(CHARMS / "bash-requirer"), "req", "-n", "0", "-m", "consuming")
    controller.rune("offer", "prov:source", "hosted")
    controller.rune("offer", "consuming.req:sink", "wants")
    hosted = {
        "access": "admin",
        "endpoints": {"source": {"interface": "conformance", "role": "provider"}},
        "users": {"admin": {"display-name": "admin", "access": "admin"}},
    }
    wants = {
        "access": "admin",
        "endpoints": {"sink": {"interface": "conformance", "role": "requirer"}},
        "users": {"admin": {"display-name": "admin", "access": "admin"}},
    }
    assert controller.json("find-offers") == {
        "ctl:admin/consuming.wants": wants,
        "ctl:admin/default.hosted": hosted,
    }
    for narrowed in (
        ("default",),
        ("ctl:admin/default",),
        ("admin/default.host",),
        ("--url", "default.hosted"),
        ("--offer", "ost"),
    ):
        assert controller.json("find-offers", *narrowed) == {"ctl:admin/default.hosted": hosted}
    assert list(controller.json("find-offers", "--interface", "conformance")) == [
        "ctl:admin/consuming.wants",
        "ctl:admin/default.hosted",
    ]
    assert controller.json("find-offers", "--interface", "mysql") == {}
    assert yaml.safe_load(controller.rune("find-offers", "--format", "yaml")) == {
        "ctl:admin/consuming.wants": wants,
        "ctl:admin/default.hosted": hosted,
    }
    table = controller.rune("find-offers")
    assert table.splitlines()[0].split() == ["Store", "URL", "Access", "Interfaces"]
    assert "admin/default.hosted" in table and "conformance:source" in table

    assert controller.json("show-offer", "admin/default.hosted") == {
        "ctl:admin/default.hosted": hosted
    }
    assert controller.json("show-offer", "ctl:consuming.wants") == {
        "ctl:admin/consuming.wants": wants
    }
    table = controller.rune("show-offer", "default.hosted")
    assert table.splitlines()[0].split() == [
        "Store",
        "URL",
        "Access",
        "Endpoint",
        "Interface",
        "Role",
    ]
    assert "provider" in table

    before = (controller.revision("default"), controller.revision("consuming"))
    for args, named in [
        (("show-offer", "default.host"), 'application offer "admin/default.host" not found'),
        (("show-offer", "default"), 'invalid offer URL "default"'),
        (("show-offer", "nope.hosted"), 'model "admin/nope" not found'),
        (("find-offers", "nope"), 'model "admin/nope" not found'),
        (("find-offers", "other:default"), 'controller "other" not found'),
        (("find-offers", "bob/default"), 'no models of user "bob"'),
        (("find-offers", "default."), 'invalid offer URL "default."'),
        (("find-offers", "default", "--url", "default"), "as the argument or as --url"),
        (("find-offers", "default.hosted", "--offer", "x"), 'offer "hosted" differ'),
    ]:
        code, _, stderr = controller.run(*args)
        assert code != 0 and named in stderr, (args, stderr)
    assert (controller.revision("default"), controller.revision("consuming")) == before


def test_controllers_report_the_cloud_the_controller_was_bootstrapped_on(
    controller: Controller,
) -> None:
    listed = controller.json("controllers")["controllers"]
    assert listed["ctl"]["cloud"] == "local"  # type: ignore[index]  # a file from before
    lxd = controller.config().model_copy(update={"cloud": "lxd"})
    _config.save(home_settings().client_config, lxd)
    listed = controller.json("controllers")["controllers"]
    assert listed["ctl"]["cloud"] == "lxd"  # type: ignore[index]
    shown = controller.json("show-controller")["ctl"]
    assert shown["details"]["cloud"] == "lxd"  # type: ignore[index]
