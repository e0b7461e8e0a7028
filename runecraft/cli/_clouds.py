"""Clouds: `add-k8s`, `add-cloud`, `clouds`, `show-cloud`, `remove-cloud`, and their
credentials: `credentials`, `add-credential`.

The clouds this client added are kept in `<home>/clouds.yaml` (0600: they hold
credentials); the controller's are asked of it. As in Juju, with neither `--client` nor
`--controller` a command works on this client and on the current controller (if there is
one); `--client` alone on this client only, `--controller` alone on the controller only.
"""

from __future__ import annotations

import base64
import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import BaseModel, ConfigDict, Field

from runecraft import errors
from runecraft.cli import _juju, _output
from runecraft.cli._common import _client_config, _read_yaml, _run
from runecraft.schemas import api
from runecraft.schemas.clouds import (
    KUBERNETES,
    builtin_clouds,
    check_cloud_name,
    cloud_type,
    display_type,
)
from runecraft.schemas.kubeconfig import (
    auth_type,
    credential_user,
    juju_credential,
    narrow_kubeconfig,
    narrowed_parts,
    with_credential,
)
from runecraft.settings import KubeSettings, home_settings

__all__ = [
    "ClientCloud",
    "ClientClouds",
    "add_cloud",
    "add_credential",
    "add_k8s",
    "cloud_from_definition",
    "clouds",
    "credentials",
    "load_clouds",
    "remove_cloud",
    "show_cloud",
    "update_cloud",
]

_DESCRIPTIONS = {
    "local": "machines are processes on this host",
    "lxd": "machines are LXD containers on this host's LXD",
    "manual": "machines are existing hosts reached over SSH",
    "fake": "machines are entries in memory (tests)",
    KUBERNETES: "units are pods of a Kubernetes cluster",
}


class ClientCloud(BaseModel):
    """A cloud this client added: a Kubernetes cluster and the kubeconfig that reaches it
    (narrowed to one context, its files embedded)."""

    model_config = ConfigDict(extra="forbid")

    type: str = KUBERNETES
    endpoint: str
    kubeconfig: dict[str, Any]
    credential: str | None = None
    """The name of its credential (None: named after the cloud, as `add-k8s` names it)."""

    @property
    def user(self) -> dict[str, Any]:
        """The kubeconfig's user: the cloud's credential (none yet after `add-cloud`)."""
        user: dict[str, Any] = self.kubeconfig["users"][0]["user"]
        return user

    def request(self, name: str) -> api.AddCloudRequest:
        """What adds this cloud to a controller (it needs a credential)."""
        if auth_type(self.user) is None:
            raise errors.InvalidSpecError(
                f'cloud "{name}" has no credential yet: add one with '
                f"`add-credential {name} -f FILE` first"
            )
        # The controller's copy names its user after the credential, as `credentials` does.
        kubeconfig = with_credential(self.kubeconfig, self.credential or name, self.user)
        return api.AddCloudRequest(name=name, type="kubernetes", kubeconfig=kubeconfig)


class ClientClouds(BaseModel):
    """`<home>/clouds.yaml`."""

    model_config = ConfigDict(extra="forbid")

    clouds: dict[str, ClientCloud] = Field(default_factory=dict)


def load_clouds() -> ClientClouds:
    path = home_settings().client_clouds
    if not path.exists():
        return ClientClouds()
    try:
        return ClientClouds.model_validate(yaml.safe_load(path.read_text()) or {})
    except (yaml.YAMLError, ValueError) as exc:
        raise errors.InvalidSpecError(f"{path}: {exc}") from exc


def _save_clouds(clouds: ClientClouds) -> None:
    path = home_settings().client_clouds
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    tmp.write_text(yaml.safe_dump(clouds.model_dump(mode="json"), sort_keys=False))
    tmp.replace(path)


@dataclass(frozen=True)
class _Targets:
    """Where a command works: this client, and the controller (by name) if any."""

    client: bool
    controller: str | None


def _targets(client: bool, controller: str | None) -> _Targets:
    if controller is not None:
        return _Targets(client, _juju.check_controller(controller))
    if client or not home_settings().client_config.exists():
        return _Targets(True, None)
    return _Targets(True, _client_config().controller)


_CLIENT_FLAG = click.option("--client", is_flag=True, help="Work on this client's clouds.")
_CONTROLLER_FLAG = click.option(
    "--controller", "-c", help="Work on this controller's clouds (this home's only one)."
)


# --- add-k8s ---------------------------------------------------------------------------


def _read_kubeconfig(path: Path | None) -> tuple[Any, Path]:
    """The kubeconfig document, and the directory its relative file names start from."""
    if path == Path("-"):
        return yaml.safe_load(sys.stdin.read()), Path.cwd()
    path = path or KubeSettings().kubeconfig_path
    return _read_yaml(path, "kubeconfig"), path.parent


def _context_of_cluster(document: Any, cluster: str) -> str:
    """The context that uses `cluster` (Juju's `--cluster-name`)."""
    contexts = document.get("contexts") if isinstance(document, dict) else None
    for entry in contexts or []:
        body = entry.get("context") if isinstance(entry, dict) else None
        if isinstance(body, dict) and body.get("cluster") == cluster:
            return str(entry.get("name"))
    raise errors.InvalidSpecError(f'no context of the kubeconfig uses cluster "{cluster}"')


@click.command("add-k8s")
@click.argument("name")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The kubeconfig to read (`-`: standard input). Default: $KUBECONFIG, else ~/.kube/config.",
)
@click.option("--context", "--context-name", "context", help="Its context (default: current).")
@click.option("--cluster-name", help="Use the context of this cluster.")
@_CLIENT_FLAG
@_CONTROLLER_FLAG
@click.option("--region", help="Accepted for Juju compatibility.")
@click.option("--storage", help="Accepted for Juju compatibility.")
@click.option("--skip-storage", is_flag=True, help="Accepted for Juju compatibility.")
def add_k8s(
    name: str,
    kubeconfig: Path | None,
    context: str | None,
    cluster_name: str | None,
    client: bool,
    controller: str | None,
    region: str | None,
    storage: str | None,
    skip_storage: bool,
) -> None:
    """Add a Kubernetes cluster as cloud NAME, from a context of a kubeconfig.

    The files the context names (certificates, key, token) are embedded, so the controller
    never reads this client's files. Models go on it with `add-model M --cloud NAME`, or
    `bootstrap NAME` makes a controller whose default model is on it.
    """
    del region, storage, skip_storage
    if context and cluster_name:
        raise errors.UsageError("give one of --context-name and --cluster-name, not both")
    check_cloud_name(name)
    targets = _targets(client, controller)
    document, base = _read_kubeconfig(kubeconfig)
    if cluster_name:
        context = _context_of_cluster(document, cluster_name)
    narrowed = narrow_kubeconfig(document, context, files=base)
    user = narrowed_parts(narrowed.config)[1]  # the credential, named after the cloud
    cloud = ClientCloud(
        endpoint=narrowed.server, kubeconfig=with_credential(narrowed.config, name, user)
    )
    stored = load_clouds()
    if targets.client and name in stored.clouds:
        raise errors.ConflictError(f'cloud "{name}" already exists on this client')
    if targets.controller is not None:
        _run(lambda c: c.add_cloud(cloud.request(name)))
    if targets.client:
        stored.clouds[name] = cloud
        _save_clouds(stored)
    where = " and ".join(
        [*(["this client"] if targets.client else []), *_controller_words(targets)]
    )
    _output.err_console.print(
        f'k8s substrate "{narrowed.cluster}" added as cloud "{name}" on {where}.', markup=False
    )
    if targets.controller is None:
        _output.err_console.print(
            f"You can now bootstrap to this cloud by running 'rune bootstrap {name}'.",
            markup=False,
        )


def _controller_words(targets: _Targets) -> list[str]:
    return [] if targets.controller is None else [f'controller "{targets.controller}"']


# --- clouds and show-cloud -------------------------------------------------------------


def _details(
    cloud_type: str, defined: str, endpoint: str = "", auth: str | None = None
) -> dict[str, Any]:
    """Juju's details of a cloud (`clouds`/`show-cloud`): never its credential."""
    document: dict[str, Any] = {
        "defined": defined,
        "type": display_type(cloud_type),
        "description": _DESCRIPTIONS.get(cloud_type, ""),
    }
    if auth:
        document["auth-types"] = [auth]
    if endpoint:
        document["endpoint"] = endpoint
    return document


def _client_details() -> dict[str, dict[str, Any]]:
    """The clouds this client knows: the built-in ones and those it added (Juju's
    `defined: local`)."""
    found = {name: _details(name, "built-in") for name in builtin_clouds()}
    for name, cloud in load_clouds().clouds.items():
        found[name] = _details(cloud.type, "local", cloud.endpoint, auth_type(cloud.user))
    return found


def _controller_entry(info: api.CloudInfo) -> dict[str, Any]:
    # Juju says `public` of every cloud a controller returns; the built-in ones are ours.
    defined = "built-in" if info.defined == "built-in" else "public"
    return _details(info.type, defined, info.endpoint, info.auth_type or None)


def _controller_details() -> dict[str, dict[str, Any]]:
    return {info.name: _controller_entry(info) for info in _run(lambda c: c.clouds())}


def _table(heading: str, found: dict[str, dict[str, Any]]) -> None:
    table = _output._table("Cloud", "Type", "Defined", "Endpoint", "Description")
    for name, details in sorted(found.items()):
        table.add_row(
            name,
            details["type"],
            details["defined"],
            details.get("endpoint", ""),
            details["description"],
        )
    _output.console.print(heading)
    _output.console.print(table)


@click.command()
@_output.FORMAT_OPTION
@_CLIENT_FLAG
@_CONTROLLER_FLAG
def clouds(output_format: str, client: bool, controller: str | None) -> None:
    """List the clouds models can be added on: the controller's and this client's."""
    targets = _targets(client, controller)
    remote = _controller_details() if targets.controller is not None else {}
    local = _client_details() if targets.client else {}
    if _output.emit({**local, **remote}, output_format):
        return
    if targets.controller is not None:
        _table(f'Clouds available on controller "{targets.controller}":', remote)
    if targets.client:
        _table("Clouds available on this client:", local)


@click.command("show-cloud")
@click.argument("name")
@_output.format_option("yaml", "json", help="Output format.")
@_CLIENT_FLAG
@_CONTROLLER_FLAG
def show_cloud(name: str, output_format: str, client: bool, controller: str | None) -> None:
    """Show a cloud: its type, endpoint and how it is reached (never its credential)."""
    targets = _targets(client, controller)
    outputs: list[dict[str, Any]] = []
    if targets.controller is not None:
        try:
            info = _run(lambda c: c.show_cloud(name))
        except errors.NotFoundError:
            if not targets.client:
                raise
        else:
            summary = f'Cloud "{name}" from controller "{targets.controller}"'
            outputs.append({"name": name, "summary": summary, **_controller_entry(info)})
    local = _client_details().get(name) if targets.client else None
    if local is not None:
        outputs.append({"name": name, "summary": f'Client cloud "{name}"', **local})
    if not outputs:
        raise errors.NotFoundError(f'cloud "{name}" not found')
    if output_format == "json":
        _output.emit(outputs, "json")
        return
    sys.stdout.write("---\n".join(yaml.safe_dump(o, sort_keys=False) for o in outputs))


# --- remove-cloud ----------------------------------------------------------------------


@click.command("remove-cloud")
@click.argument("name")
@_CLIENT_FLAG
@_CONTROLLER_FLAG
def remove_cloud(name: str, client: bool, controller: str | None) -> None:
    """Remove a cloud from the controller (refused while a model is on it) and from this
    client."""
    if name in builtin_clouds():
        raise errors.ConflictError(f'cloud "{name}" is a built-in cloud: it cannot be removed')
    targets = _targets(client, controller)
    removed: list[str] = []
    if targets.controller is not None:
        try:
            _run(lambda c: c.remove_cloud(name))
        except errors.NotFoundError:
            if not targets.client:
                raise
        else:
            removed += _controller_words(targets)
    stored = load_clouds()
    if targets.client and stored.clouds.pop(name, None) is not None:
        _save_clouds(stored)
        removed.append("this client")
    if not removed:
        raise errors.NotFoundError(f'cloud "{name}" not found')
    _output.err_console.print(f'Removed cloud "{name}" from {" and ".join(removed)}.', markup=False)


# --- credentials -----------------------------------------------------------------------

_HIDDEN = frozenset({"Token", "password", "ClientKeyData"})
"""The credential attributes Juju hides unless `--show-secrets`."""


def _client_credentials(cloud: str | None, show_secrets: bool) -> dict[str, Any]:
    """Juju's `client-credentials`: an added Kubernetes cloud's credential is its
    kubeconfig's user, named after the cloud (as Juju's `add-k8s` names it)."""
    found: dict[str, Any] = {}
    for name, added in sorted(load_clouds().clouds.items()):
        if (cloud is not None and name != cloud) or auth_type(added.user) is None:
            continue
        credential = juju_credential(added.user)
        named = added.credential or name
        details = {
            key: value
            for key, value in credential["attrs"].items()
            if show_secrets or key not in _HIDDEN
        }
        found[name] = {
            "default-credential": named,
            "cloud-credentials": {
                named: {"auth-type": credential["auth-type"], "details": details}
            },
        }
    return found


def _controller_credentials(cloud: str | None) -> dict[str, Any]:
    """Juju's `controller-credentials`: the credential each added cloud of the controller
    authenticates with, by name and auth type (its attributes stay on the controller)."""
    infos = _run(lambda c: c.clouds())
    if cloud is not None and cloud not in {info.name for info in infos}:
        raise errors.NotFoundError(f'cloud "{cloud}" not found on the controller')
    found: dict[str, Any] = {}
    for info in infos:
        if info.credential and cloud in (None, info.name):
            credential = {"auth-type": info.auth_type, "details": {}}
            found[info.name] = {"cloud-credentials": {info.credential: credential}}
    return found


def _credential_tables(document: dict[str, Any]) -> None:
    for key, title in (
        ("client-credentials", "Client Credentials:"),
        ("controller-credentials", "Controller Credentials:"),
    ):
        if not document.get(key):
            continue
        table = _output._table("Cloud", "Credentials")
        for name, entry in document[key].items():
            marked = "*" if key == "client-credentials" else ""
            table.add_row(name, ", ".join(f"{c}{marked}" for c in entry["cloud-credentials"]))
        _output.console.print(title)
        _output.console.print(table)


@click.command()
@click.argument("cloud", required=False)
@click.option("--show-secrets", is_flag=True, help="Show the secret attributes too.")
@_output.FORMAT_OPTION
@_CLIENT_FLAG
@_CONTROLLER_FLAG
def credentials(
    cloud: str | None,
    show_secrets: bool,
    output_format: str,
    client: bool,
    controller: str | None,
) -> None:
    """List cloud credentials: this client's (secret attributes hidden unless
    --show-secrets), or with --controller the controller's (by name and auth type); the
    built-in clouds need none."""
    document: dict[str, Any] = {}
    if client or controller is None:
        known = cloud is None or cloud in builtin_clouds() or cloud in load_clouds().clouds
        if not known and controller is None:
            raise errors.NotFoundError(f'cloud "{cloud}" not found')
        document["client-credentials"] = _client_credentials(cloud, show_secrets)
    if controller is not None:
        _juju.check_controller(controller)
        document["controller-credentials"] = _controller_credentials(cloud)
    if _output.emit(document, output_format):
        return
    if not any(document.values()):
        _output.err_console.print("No credentials to display.")
        return
    _credential_tables(document)


# --- add-cloud and add-credential ----------------------------------------------------------


def _file_section(path: Path, section: str, name: str) -> Any:
    """`section.name` of a Juju clouds or credentials file (`section:` may be left out)."""
    document = _read_yaml(path, f"{section} file")
    entries = document.get(section, document) if isinstance(document, dict) else None
    if not isinstance(entries, dict) or name not in entries:
        raise errors.NotFoundError(f'"{name}" not found in {section} file {path}')
    return entries[name]


def cloud_from_definition(name: str, definition: Any) -> ClientCloud:
    """A client cloud from Juju's definition (`type`, `endpoint`, `ca-certificates`): a
    Kubernetes cluster, with no credential until `add-credential`."""
    if not isinstance(definition, dict):
        raise errors.InvalidSpecError(f'cloud "{name}": the definition must be a mapping')
    cloud_type(str(definition.get("type", "")))
    endpoint = definition.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        raise errors.InvalidSpecError(f'cloud "{name}": endpoint must be an http(s) URL')
    authorities = definition.get("ca-certificates") or []
    if not isinstance(authorities, list) or not all(isinstance(c, str) for c in authorities):
        raise errors.InvalidSpecError(f'cloud "{name}": ca-certificates must be a list of PEM')
    cluster: dict[str, Any] = {"server": endpoint}
    if authorities:
        cluster["certificate-authority-data"] = base64.b64encode(authorities[0].encode()).decode()
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "clusters": [{"name": name, "cluster": cluster}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": {}}],
    }
    return ClientCloud(endpoint=endpoint, kubeconfig=kubeconfig)


def _with_client_credential(name: str, cloud: ClientCloud, stored: ClientClouds) -> ClientCloud:
    """`cloud` with the credential this client keeps for a cloud of that name (as Juju
    uploads the client's credential with a cloud it adds to a controller)."""
    known = stored.clouds.get(name)
    if known is None or auth_type(known.user) is None or auth_type(cloud.user) is not None:
        return cloud
    kubeconfig = copy.deepcopy(cloud.kubeconfig)
    kubeconfig["users"][0]["user"] = dict(known.user)
    return cloud.model_copy(update={"kubeconfig": kubeconfig, "credential": known.credential})


@click.command("add-cloud")
@click.argument("name")
@click.option(
    "--file", "-f", "path", type=click.Path(dir_okay=False, path_type=Path), help="clouds.yaml"
)
@click.option("--credential", help="The credential to add it with (this client's, by name).")
@click.option("--force", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--target-controller", help="Alias of --controller.")
@_CLIENT_FLAG
@_CONTROLLER_FLAG
def add_cloud(
    name: str,
    path: Path | None,
    credential: str | None,
    force: bool,
    target_controller: str | None,
    client: bool,
    controller: str | None,
) -> None:
    """Add a Kubernetes cloud from its definition in a Juju clouds file (`type: k8s`,
    `endpoint`, `ca-certificates`); with no --file, give this client's cloud to the
    controller. A cloud goes to a controller only with a credential (`add-credential`)."""
    del force
    check_cloud_name(name)
    stored = load_clouds()
    explicit = controller or target_controller
    targets = _targets(client, explicit)
    if path is None:
        if name not in stored.clouds:
            raise errors.NotFoundError(
                f'cloud "{name}" not found on this client: give its definition with --file'
            )
        cloud, targets = stored.clouds[name], _Targets(False, targets.controller)
    else:
        cloud = cloud_from_definition(name, _file_section(path, "clouds", name))
        if targets.client and name in stored.clouds:
            raise errors.ConflictError(f'cloud "{name}" already exists on this client')
        cloud = _with_client_credential(name, cloud, stored)
    if credential is not None and credential != (cloud.credential or name):
        raise errors.NotFoundError(f'credential "{credential}" not found for cloud "{name}"')
    if targets.controller is not None and (explicit or auth_type(cloud.user) is not None):
        _run(lambda c: c.add_cloud(cloud.request(name)))
    elif targets.controller is not None:
        targets = _Targets(targets.client, None)  # no credential yet: this client only
    if targets.client:
        stored.clouds[name] = cloud
        _save_clouds(stored)
    where = " and ".join(
        [*(["this client"] if targets.client else []), *_controller_words(targets)]
    )
    _output.err_console.print(f'Cloud "{name}" added to {where}.', markup=False)


def _credential_from_file(path: Path, cloud: str) -> tuple[str, dict[str, Any]]:
    """The one credential a Juju credentials file gives `cloud`: its name and the
    kubeconfig user it stands for."""
    given = _file_section(path, "credentials", cloud)
    if not isinstance(given, dict) or len(given) != 1:
        raise errors.InvalidSpecError(
            f'credentials file {path}: give one credential for "{cloud}" '
            "(this client keeps one per cloud)"
        )
    ((name, attrs),) = given.items()
    if not isinstance(attrs, dict):
        raise errors.InvalidSpecError(f'credential "{name}": must be a mapping')
    fields = {k: v for k, v in attrs.items() if k != "auth-type"}
    return str(name), credential_user(attrs.get("auth-type"), fields)


@click.command("update-cloud")
@click.argument("name")
@click.option(
    "--file", "-f", "path", type=click.Path(dir_okay=False, path_type=Path), required=True
)
@_CLIENT_FLAG
@_CONTROLLER_FLAG
def update_cloud(name: str, path: Path, client: bool, controller: str | None) -> None:
    """Give a Kubernetes cloud a new definition from a Juju clouds file (`endpoint`,
    `ca-certificates`); its credential stays. On this client and the controller, as
    `add-cloud` (--client, --controller: only there)."""
    definition = _file_section(path, "clouds", name)
    if name in builtin_clouds():
        raise errors.InvalidSpecError(f'cloud "{name}" is built in: it cannot be updated')
    new = cloud_from_definition(name, definition)
    targets = _targets(client, controller)
    stored = load_clouds()
    implicit = not client and controller is None
    on_client = targets.client and (name in stored.clouds or not implicit)
    if on_client and name not in stored.clouds:
        raise errors.NotFoundError(f'cloud "{name}" not found on this client')
    if targets.controller is not None and (
        not implicit or name in {info.name for info in _run(lambda c: c.clouds())}
    ):
        authorities = definition.get("ca-certificates") or []
        request = api.UpdateCloudRequest(endpoint=new.endpoint, ca_certificates=authorities)
        _run(lambda c: c.update_cloud(name, request))
    else:
        targets = _Targets(targets.client, None)
    if on_client:
        kept = stored.clouds[name]
        kubeconfig = (
            new.kubeconfig
            if auth_type(kept.user) is None
            else with_credential(new.kubeconfig, kept.credential or name, kept.user)
        )
        stored.clouds[name] = kept.model_copy(
            update={"endpoint": new.endpoint, "kubeconfig": kubeconfig}
        )
        _save_clouds(stored)
    where = [*(["this client"] if on_client else []), *_controller_words(targets)]
    if not where:
        raise errors.NotFoundError(f'cloud "{name}" not found')
    _output.err_console.print(f'Cloud "{name}" updated on {" and ".join(where)}.', markup=False)


@click.command("add-credential")
@click.argument("cloud")
@click.option(
    "--file", "-f", "path", type=click.Path(dir_okay=False, path_type=Path), required=True
)
@click.option("--region", help="Accepted for Juju compatibility.")
@_CLIENT_FLAG
@_CONTROLLER_FLAG
def add_credential(
    cloud: str, path: Path, region: str | None, client: bool, controller: str | None
) -> None:
    """Give a cloud its credential, from a Juju credentials file (`credentials: {CLOUD:
    {NAME: {auth-type: …, …}}}`; one credential per cloud here): this client's cloud, or
    with --controller the controller's, which authenticates with it from then on (both
    with --client too)."""
    del region
    if cloud in builtin_clouds():
        raise errors.InvalidSpecError(f'cloud "{cloud}" is built in: it needs no credential')
    on_client = client or controller is None
    stored = load_clouds()
    if on_client and cloud not in stored.clouds:
        raise errors.NotFoundError(f'cloud "{cloud}" not found on this client')
    name, user = _credential_from_file(path, cloud)
    if controller is not None:
        _juju.check_controller(controller)
        request = api.CloudCredentialRequest(credential=name, user=user)
        _run(lambda c: c.set_cloud_credential(cloud, request))
        _output.err_console.print(
            f'Controller credential "{name}" for cloud "{cloud}" on controller '
            f'"{controller}" added.',
            markup=False,
        )
    if not on_client:
        return
    kubeconfig = copy.deepcopy(stored.clouds[cloud].kubeconfig)
    kubeconfig["users"][0]["user"] = user
    narrowed = narrow_kubeconfig(kubeconfig)
    stored.clouds[cloud] = stored.clouds[cloud].model_copy(
        update={"kubeconfig": narrowed.config, "credential": name}
    )
    _save_clouds(stored)
    _output.err_console.print(
        f'Credential "{name}" added locally for cloud "{cloud}".', markup=False
    )
