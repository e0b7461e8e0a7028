"""Charmhub from the CLI against the emulated Charmhub (tests/charmhub_emulator) and, in
process, the controller's real API app: deploy, refresh, download, info and find by name,
the errors when Charmhub cannot be reached or a name, channel or revision is unknown, and
an archive whose sha256 is not the published one refused with nothing cached."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.charmhub_emulator import CharmhubEmulator, packed_variant
from tests.component.test_cli_in_process import EXAMPLES, Controller
from tests.component.test_cli_in_process import controller as controller  # noqa: PLC0414

HELLO_BASH = EXAMPLES / "hello-bash"


def _hello(tmp_path: Path, message: str, version: str) -> bytes:
    """hello-bash published as `hello`, its default message and version telling revisions
    apart."""
    return packed_variant(
        HELLO_BASH,
        tmp_path / "variants",
        tmp_path / "pack-cache",
        {
            "metadata.yaml": ("name: hello-bash", "name: hello"),
            "config.yaml": ("default: ready", f"default: {message}"),
            "hooks/start": (
                'application-version-set "1.0"',
                f'application-version-set "{version}"',
            ),
        },
    )


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CharmhubEmulator]:
    """`hello` with revision 1 in latest/stable and revision 2 in latest/edge."""
    with CharmhubEmulator() as emulator:
        emulator.publish(
            "hello",
            1,
            _hello(tmp_path, "stable-one", "1.0"),
            "latest/stable",
            version="1.0",
            summary="Says hello from shell hooks.",
        )
        emulator.publish(
            "hello",
            2,
            _hello(tmp_path, "edge-two", "2.0"),
            "latest/edge",
            version="2.0",
            summary="Says hello from shell hooks.",
        )
        monkeypatch.setenv("RUNECRAFT_CHARMHUB_URL", emulator.url)
        yield emulator


def _default_message(controller: Controller) -> object:
    settings = controller.json("config", "hello")["settings"]
    assert isinstance(settings, dict)
    return settings["message"]["default"]


def _closed_url() -> str:
    """A loopback URL on a port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _cached(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "cache" / "charmhub").glob("*"))


def _origin(controller: Controller, application: str = "hello") -> tuple[object, ...]:
    """Juju's charm keys of the application in `status --format json`."""
    apps = controller.json("status")["applications"]
    app = apps[application]  # type: ignore[index]
    keys = ("charm", "charm-origin", "charm-name", "charm-rev", "charm-channel")
    return tuple(app.get(k) for k in keys)


def test_deploy_from_a_channel_then_refresh_to_another(
    controller: Controller, hub: CharmhubEmulator, tmp_path: Path
) -> None:
    code, _, stderr = controller.run("deploy", "hello", "--channel", "edge", "-n", "0")
    assert code == 0, stderr
    assert 'Located charm "hello" in charm-hub, revision 2 in channel latest/edge' in stderr
    assert _default_message(controller) == "edge-two"
    assert _cached(tmp_path) == [f"hello_r2_{hub.published[1].sha256[:16]}.charm"]
    assert _origin(controller) == ("hello", "charmhub", "hello", 2, "latest/edge")
    base = controller.json("status")["applications"]["hello"]["base"]  # type: ignore[index]
    assert base == {"name": "ubuntu", "channel": "22.04"}  # the release's, none asked for

    code, _, stderr = controller.run("refresh", "hello", "--channel", "stable")
    assert code == 0, stderr
    assert "revision 1 in channel latest/stable" in stderr
    assert 'Refreshed "hello" to charm hello revision 1.' in stderr
    assert _default_message(controller) == "stable-one"
    assert _origin(controller) == ("hello", "charmhub", "hello", 1, "latest/stable")

    code, _, stderr = controller.run("refresh", "hello", "--revision", "2")
    assert code == 0, stderr
    assert _default_message(controller) == "edge-two"
    # a revision alone keeps the channel followed
    assert _origin(controller) == ("hello", "charmhub", "hello", 2, "latest/stable")
    table = controller.rune("status")
    row = next(line for line in table.splitlines() if line.startswith("hello "))
    assert row.split()[-4:-1] == ["hello", "latest/stable", "2"]  # Charm, Channel, Rev
    # revision 2 came from the cache: Charmhub served its archive once
    downloads = [r for r in hub.requests if r.startswith("GET /api/v1/charms/download/")]
    assert len(downloads) == 2


def test_deploy_by_name_defaults_to_latest_stable_under_the_juju_entry_point(
    controller: Controller, hub: CharmhubEmulator
) -> None:
    code, _, stderr = controller.run("deploy", "ch:hello", "greeter", "-n", "0", prog="juju")
    assert code == 0, stderr
    assert "revision 1 in channel latest/stable" in stderr
    settings = controller.json("config", "greeter")["settings"]
    assert settings["message"]["default"] == "stable-one"  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nosuch",), "No charm or bundle with name 'nosuch'."),
        (("hello", "--channel", "3.6/beta"), 'charm or bundle not found for channel "3.6/beta"'),
        (("hello", "--channel", "edge", "--revision", "9"), 'charm "hello" revision 9 not found'),
        (("hello", "--revision", "2"), "specifying a revision requires a channel"),
        (
            ("hello", "--channel", "edge", "--base", "ubuntu@20.04"),
            'selecting releases: charm or bundle not found for channel "latest/edge", base "',
        ),
        (("hello", "--channel", "latest/nightly"), 'risk "nightly" is not one of'),
    ],
)
def test_unknown_name_channel_revision_or_base_deploys_nothing(
    controller: Controller, hub: CharmhubEmulator, args: tuple[str, ...], message: str
) -> None:
    code, _, stderr = controller.run("deploy", *args, "-n", "0")
    assert code != 0
    assert message in stderr
    assert controller.json("status")["applications"] == {}


def test_unreachable_charmhub_names_its_url_and_the_variable(
    controller: Controller, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = _closed_url()
    monkeypatch.setenv("RUNECRAFT_CHARMHUB_URL", url)
    for args in (("deploy", "hello"), ("info", "hello"), ("find", "hello"), ("download", "hello")):
        code, _, stderr = controller.run(*args)
        assert code == 1, args
        assert f"cannot reach Charmhub at {url}" in stderr
        assert "RUNECRAFT_CHARMHUB_URL" in stderr
    assert controller.json("status")["applications"] == {}


def test_an_archive_with_another_sha256_is_refused_and_not_cached(
    controller: Controller, hub: CharmhubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.published[1].corrupt = True
    monkeypatch.chdir(tmp_path)
    for args in (
        ("deploy", "hello", "--channel", "edge"),
        ("download", "hello", "--channel", "edge"),
    ):
        code, _, stderr = controller.run(*args)
        assert code == 1
        assert (
            f"but Charmhub publishes {hub.published[1].sha256}: refused, nothing stored" in stderr
        )
    assert _cached(tmp_path) == []
    assert not list(tmp_path.glob("*.charm"))
    assert controller.json("status")["applications"] == {}


def test_download_writes_the_published_archive(
    controller: Controller, hub: CharmhubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = controller.run("download", "hello", "--channel", "latest/edge")
    assert code == 0, stderr
    written = tmp_path / "hello_r2.charm"
    assert hashlib.sha256(written.read_bytes()).hexdigest() == hub.published[1].sha256
    assert "juju deploy ./hello_r2.charm" in stderr

    target = tmp_path / "out" / "h.charm"
    target.parent.mkdir()
    code, _, stderr = controller.run(
        "download", "hello", "--revision", "1", "--filepath", str(target)
    )
    assert code == 0, stderr
    assert hashlib.sha256(target.read_bytes()).hexdigest() == hub.published[0].sha256


def test_info_and_find_print_jujus_documents(controller: Controller, hub: CharmhubEmulator) -> None:
    document = json.loads(controller.rune("info", "hello", "--format", "json"))
    assert document["name"] == "hello"
    assert document["type"] == "charm"
    assert document["publisher"] == "Runecraft tests"
    assert document["summary"] == "Says hello from shell hooks."
    assert document["store-url"] == "https://charmhub.io/hello"
    assert document["tracks"] == ["latest"]
    edge = document["channels"]["latest"]["edge"]
    assert [(r["revision"], r["version"], r["track"], r["risk"]) for r in edge] == [
        (2, "2.0", "latest", "edge")
    ]
    assert edge[0]["size"] == len(hub.published[1].data)
    assert edge[0]["bases"] == [{"name": "ubuntu", "channel": "22.04"}]
    assert document["channels"]["latest"]["stable"][0]["revision"] == 1
    assert document["charm"]["config"]["options"]["message"]["default"] == "stable-one"
    assert document["charm"]["relations"] == {"requires": {"greeting": "greeting"}}
    assert yaml.safe_load(controller.rune("info", "hello", "--format", "yaml")) == document
    assert "latest/edge:  2.0" in controller.rune("info", "ch:hello")

    found = json.loads(controller.rune("find", "hello", "--format", "json"))
    assert [(f["name"], f["type"], f["version"], f["publisher"]) for f in found] == [
        ("hello", "charm", "1.0", "Runecraft tests")
    ]
    assert found[0]["supports"] == [{"name": "ubuntu", "channel": "22.04"}]
    assert json.loads(controller.rune("find", "nothing-like-it", "--format", "json")) == []

    code, _, stderr = controller.run("info", "nosuch")
    assert code == 1
    assert "No charm or bundle with name 'nosuch'." in stderr


def test_a_bundle_naming_charmhub_charms_applies(
    controller: Controller, hub: CharmhubEmulator, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(
        "applications:\n"
        "  edge-hello: {charm: hello, channel: latest/edge, num_units: 0}\n"
        "  old-hello: {charm: ch:hello, channel: latest/stable, revision: 1, num_units: 0}\n"
    )
    code, stdout, stderr = controller.run("apply", str(bundle))
    assert code == 0, stdout + stderr
    edge = controller.json("config", "edge-hello")["settings"]
    old = controller.json("config", "old-hello")["settings"]
    assert edge["message"]["default"] == "edge-two"  # type: ignore[index]
    assert old["message"]["default"] == "stable-one"  # type: ignore[index]
    assert _origin(controller, "edge-hello") == ("hello", "charmhub", "hello", 2, "latest/edge")
    assert _origin(controller, "old-hello") == ("hello", "charmhub", "hello", 1, "latest/stable")


def test_export_bundle_of_charmhub_applications_round_trips(
    controller: Controller, hub: CharmhubEmulator, tmp_path: Path
) -> None:
    """The export names the Charmhub charm with its channel and revision; planning it
    against the model it came from has nothing to do."""
    controller.rune("deploy", "hello", "--channel", "edge", "-n", "0")
    controller.rune("deploy", "hello", "steady", "-n", "0")
    exported = tmp_path / "exported.yaml"
    controller.rune("export-bundle", "--filename", str(exported))
    apps = yaml.safe_load(exported.read_text())["applications"]
    assert {k: apps["hello"][k] for k in ("charm", "channel", "revision")} == {
        "charm": "hello",
        "channel": "latest/edge",
        "revision": 2,
    }
    assert (apps["steady"]["channel"], apps["steady"]["revision"]) == ("latest/stable", 1)
    code, stdout, stderr = controller.run("plan", str(exported))
    assert code == 0, stdout + stderr
    assert "already matches the bundle" in stdout


def test_a_bundle_uses_the_controllers_charm_before_charmhub(
    controller: Controller, hub: CharmhubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A charm the controller already holds is not fetched again: the bundle applies with
    Charmhub out of reach."""
    controller.rune("deploy", "hello", "--channel", "edge", "-n", "0")
    monkeypatch.setenv("RUNECRAFT_CHARMHUB_URL", _closed_url())
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text("applications:\n  hello: {charm: hello}\n  again: {charm: hello}\n")
    code, stdout, stderr = controller.run("apply", str(bundle))
    assert code == 0, stdout + stderr
    assert controller.json("config", "again")["settings"]["message"]["default"] == "edge-two"  # type: ignore[index]


def test_a_bundle_asking_another_channel_or_revision_refreshes_from_charmhub(
    controller: Controller, hub: CharmhubEmulator, tmp_path: Path
) -> None:
    """Planning compares the whole origin, not the name: another channel or revision is a
    refresh (`rune plan` exits 2 and fetches nothing), applying it fetches that charm and
    refreshes to it, and then the plan is empty."""
    controller.rune("deploy", "hello", "--channel", "edge", "-n", "0")
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text("applications:\n  hello: {charm: hello, channel: edge, revision: 2}\n")
    code, stdout, stderr = controller.run("plan", str(bundle))
    assert (code, "already matches the bundle" in stdout) == (0, True), stdout + stderr

    bundle.write_text("applications:\n  hello: {charm: hello, channel: stable}\n")
    seen = len(hub.requests)
    code, stdout, stderr = controller.run("plan", str(bundle))
    assert code == 2, stdout + stderr
    assert (
        "refresh hello to charm hello channel latest/stable "
        "(from channel latest/edge revision 2)" in stdout
    )
    assert hub.requests[seen:] == []  # the plan asked Charmhub nothing
    diff = yaml.safe_load(controller.rune("diff-bundle", str(bundle)))
    assert diff == {
        "applications": {"hello": {"channel": {"bundle": "latest/stable", "model": "latest/edge"}}}
    }
    assert _origin(controller) == ("hello", "charmhub", "hello", 2, "latest/edge")

    code, stdout, stderr = controller.run("apply", str(bundle))
    assert code == 0, stdout + stderr
    assert _origin(controller) == ("hello", "charmhub", "hello", 1, "latest/stable")
    assert _default_message(controller) == "stable-one"
    code, stdout, stderr = controller.run("plan", str(bundle))
    assert (code, "already matches the bundle" in stdout) == (0, True), stdout + stderr

    bundle.write_text("applications:\n  hello: {charm: hello, channel: stable, revision: 2}\n")
    code, stdout, stderr = controller.run("apply", str(bundle))
    assert code == 0, stdout + stderr
    assert _origin(controller) == ("hello", "charmhub", "hello", 2, "latest/stable")
    assert _default_message(controller) == "edge-two"
    code, stdout, stderr = controller.run("plan", str(bundle))
    assert code == 0, stdout + stderr


def test_a_bundle_refresh_to_an_unknown_revision_changes_nothing(
    controller: Controller, hub: CharmhubEmulator, tmp_path: Path
) -> None:
    controller.rune("deploy", "hello", "--channel", "edge", "-n", "0")

    def model() -> dict[str, object]:
        """Status without the controller's clock (`controller.timestamp`)."""
        document = dict(controller.json("status"))
        del document["controller"]
        return document

    before = model()
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text("applications:\n  hello: {charm: hello, channel: edge, revision: 9}\n")
    code, stdout, stderr = controller.run("apply", str(bundle))
    assert code == 1, stdout + stderr
    assert 'applications.hello.charm "hello"' in stderr and "nothing was changed" in stderr
    assert model() == before
