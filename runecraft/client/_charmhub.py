"""Charmhub's public API (`https://api.charmhub.io`, or the mirror `RUNECRAFT_CHARMHUB_URL`
names): what a name's channels hold (`info`, `find`), which revision a channel, revision
and base resolve to (`resolve`, the refresh endpoint's `install` action, as Juju asks it),
and that revision's archive (`download`).

The CLI fetches, as it packs local charms: the archive it downloads is checked against the
sha256 Charmhub publishes, kept in the cache under its name, revision and sha256 (so a
revision is fetched once), and uploaded to the controller like any local charm. An archive
whose sha256 differs is refused and nothing is stored.
"""

from __future__ import annotations

import hashlib
import os
import platform
import tempfile
import uuid
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from runecraft import errors
from runecraft.schemas.channels import parse_channel

__all__ = [
    "DEFAULT_URL",
    "URL_VARIABLE",
    "Base",
    "ChannelMapEntry",
    "Charmhub",
    "FindResult",
    "InfoResponse",
    "Release",
    "charmhub_url",
    "host_architecture",
    "parse_base",
    "parse_channel",
]

DEFAULT_URL = "https://api.charmhub.io"
URL_VARIABLE = "RUNECRAFT_CHARMHUB_URL"
"""Names a Charmhub mirror (or a test's emulator) to use instead of `DEFAULT_URL`."""

TIMEOUT = httpx.Timeout(60.0, connect=10.0)
"""Seconds to connect, and to wait on each read: archives can be large."""

MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
"""The largest archive fetched: the controller takes no larger charm."""

_M = TypeVar("_M", bound=BaseModel)

INFO_FIELDS = ",".join(
    [
        "channel-map.channel",
        "channel-map.revision.revision",
        "channel-map.revision.version",
        "channel-map.revision.bases",
        "channel-map.revision.download",
        "channel-map.revision.created-at",
        "default-release.revision.revision",
        "default-release.revision.version",
        "default-release.revision.bases",
        "default-release.revision.metadata-yaml",
        "default-release.revision.config-yaml",
        "default-release.channel",
        "result.summary",
        "result.description",
        "result.publisher.display-name",
        "result.store-url",
        "result.categories",
    ]
)
FIND_FIELDS = ",".join(
    [
        "default-release.revision.version",
        "default-release.revision.bases",
        "default-release.channel",
        "result.summary",
        "result.publisher.display-name",
        "result.store-url",
    ]
)
REFRESH_FIELDS = ["bases", "download", "id", "revision", "version", "type", "name"]

_ARCHITECTURES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "ppc64le": "ppc64el",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def host_architecture() -> str:
    """This machine's architecture as Charmhub names it (`amd64`, `arm64`, …)."""
    machine = platform.machine().lower()
    return _ARCHITECTURES.get(machine, machine)


def charmhub_url() -> str:
    """The Charmhub API this client talks to: `RUNECRAFT_CHARMHUB_URL`, else Charmhub."""
    return (os.environ.get(URL_VARIABLE) or DEFAULT_URL).rstrip("/")


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class Base(_Wire):
    name: str
    channel: str
    architecture: str = ""

    def juju(self) -> str:
        """Juju's spelling in messages: `amd64/ubuntu/22.04`."""
        return f"{self.architecture}/{self.name}/{self.channel}"


def parse_base(text: str, architecture: str | None = None) -> Base:
    """`ubuntu@22.04` (Juju's `--base`) as Charmhub's base."""
    name, sep, channel = text.partition("@")
    if not sep or not name or not channel:
        raise errors.InvalidSpecError(f'invalid base "{text}": expected NAME@CHANNEL')
    return Base(name=name, channel=channel, architecture=architecture or host_architecture())


class Download(_Wire):
    hash_sha256: str = Field(validation_alias=AliasChoices("hash-sha-256", "hash-sha256"))
    """Charmhub spells it `hash-sha-256`; `hash-sha256` is taken too (some mirrors)."""
    size: int = 0
    url: str


class Channel(_Wire):
    name: str
    track: str
    risk: str
    released_at: str = Field(default="", alias="released-at")
    base: Base | None = None


class Revision(_Wire):
    revision: int
    version: str = ""
    created_at: str = Field(default="", alias="created-at")
    bases: list[Base] = []
    download: Download | None = None
    metadata_yaml: str = Field(default="", alias="metadata-yaml")
    config_yaml: str = Field(default="", alias="config-yaml")


class ChannelMapEntry(_Wire):
    channel: Channel
    revision: Revision


class Entity(_Wire):
    summary: str = ""
    description: str = ""
    publisher: dict[str, str] = {}
    store_url: str = Field(default="", alias="store-url")
    categories: list[dict[str, Any]] = []


class InfoResponse(_Wire):
    type: str = "charm"
    id: str = ""
    name: str
    result: Entity = Entity()
    channel_map: list[ChannelMapEntry] = Field(default=[], alias="channel-map")
    default_release: ChannelMapEntry | None = Field(default=None, alias="default-release")


class FindResult(_Wire):
    type: str = "charm"
    id: str = ""
    name: str
    result: Entity = Entity()
    default_release: ChannelMapEntry | None = Field(default=None, alias="default-release")


class _FindResponse(_Wire):
    results: list[FindResult] = []


class _APIError(_Wire):
    code: str = ""
    message: str = ""
    extra: dict[str, Any] = {}


class _RefreshEntity(_Wire):
    type: str = "charm"
    id: str = ""
    name: str
    revision: int
    version: str = ""
    bases: list[Base] = []
    download: Download


class _RefreshResult(_Wire):
    result: str
    instance_key: str = Field(default="", alias="instance-key")
    name: str = ""
    id: str = ""
    effective_channel: str = Field(default="", alias="effective-channel")
    charm: _RefreshEntity | None = None
    error: _APIError | None = None


class _RefreshResponse(_Wire):
    results: list[_RefreshResult] = []
    error_list: list[_APIError] = Field(default=[], alias="error-list")


class Release(BaseModel):
    """One revision a request resolved to: what to download and what to record."""

    name: str
    id: str
    revision: int
    version: str
    channel: str
    """The channel it was found in (empty when asked by revision alone)."""
    base: Base
    sha256: str
    size: int
    url: str

    @property
    def cache_name(self) -> str:
        return f"{self.name}_r{self.revision}_{self.sha256[:16]}.charm"


class Charmhub:
    """A client of one Charmhub API (`url`, default `charmhub_url()`); archives are cached
    under `cache_dir/charmhub`. `transport` replaces the network (tests)."""

    def __init__(
        self,
        cache_dir: Path,
        url: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = (url or charmhub_url()).rstrip("/")
        self.cache = cache_dir / "charmhub"
        self._http = httpx.Client(
            timeout=TIMEOUT, transport=transport, follow_redirects=True, trust_env=True
        )

    def __enter__(self) -> Charmhub:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    # --- reading ---------------------------------------------------------------------------

    def info(self, name: str, channel: str | None = None) -> InfoResponse:
        """What Charmhub knows of `name`: its channels and their revisions."""
        params = {"fields": INFO_FIELDS}
        if channel:
            params["channel"] = parse_channel(channel)
        response = self._request("GET", f"/v2/charms/info/{name}", params=params)
        if response.status_code == httpx.codes.NOT_FOUND:
            raise errors.NotFoundError(f"No charm or bundle with name '{name}'.")
        return self._parse(InfoResponse, response)

    def find(self, query: str) -> list[FindResult]:
        """The charms whose name or summary match `query`, Charmhub's best first."""
        response = self._request(
            "GET", "/v2/charms/find", params={"q": query, "fields": FIND_FIELDS}
        )
        results = self._parse(_FindResponse, response).results
        return results

    def resolve(
        self,
        name: str,
        *,
        channel: str | None = None,
        revision: int | None = None,
        base: Base | None = None,
    ) -> Release:
        """The revision `name` has in `channel` (default `latest/stable`) for `base`, or the
        given `revision`; with no base, the base the channel's release names for this
        machine's architecture (as Juju picks one for a model with no default)."""
        full_channel = parse_channel(channel) if channel else None
        if base is None:
            base = self._default_base(name, full_channel or "latest/stable", revision)
        action: dict[str, Any] = {
            "action": "install" if revision is None else "download",
            "instance-key": str(uuid.uuid4()),
            "name": name,
            "base": base.model_dump(),
        }
        if revision is not None:
            action["revision"] = revision
        else:
            action["channel"] = full_channel or "latest/stable"
        body = {"context": [], "actions": [action], "fields": REFRESH_FIELDS}
        response = self._request("POST", "/v2/charms/refresh", json=body)
        answer = self._parse(_RefreshResponse, response)
        if answer.error_list and not answer.results:
            raise errors.InvalidSpecError(
                "Charmhub refused the request: "
                + "; ".join(e.message or e.code for e in answer.error_list)
            )
        if not answer.results:
            raise errors.PermanentError(f"Charmhub at {self.url} answered with no result")
        result = answer.results[0]
        if result.result == "error" or result.charm is None:
            raise _refresh_error(name, full_channel, revision, base, result.error)
        return Release(
            name=result.charm.name or name,
            id=result.charm.id or result.id,
            revision=result.charm.revision,
            version=result.charm.version,
            channel=result.effective_channel or (full_channel or ""),
            base=base,
            sha256=result.charm.download.hash_sha256,
            size=result.charm.download.size,
            url=result.charm.download.url,
        )

    def _default_base(self, name: str, channel: str, revision: int | None) -> Base:
        info = self.info(name)
        architecture = host_architecture()
        candidates: list[Base] = []
        for entry in info.channel_map:
            if revision is None and entry.channel.name != channel:
                continue
            if revision is not None and entry.revision.revision != revision:
                continue
            bases = [entry.channel.base] if entry.channel.base else entry.revision.bases
            candidates += [b for b in bases if b.architecture in (architecture, "all")]
        if candidates:
            chosen = candidates[0]
            return Base(name=chosen.name, channel=chosen.channel, architecture=architecture)
        available = _available(info.channel_map)
        if revision is not None:
            raise errors.NotFoundError(
                f'charm "{name}" revision {revision} not found for architecture {architecture}'
            )
        raise errors.NotFoundError(
            f'charm or bundle not found for channel "{channel}", architecture "{architecture}"'
            + (f"\navailable releases are:\n{available}" if available else "")
        )

    # --- fetching --------------------------------------------------------------------------

    def cached(self, release: Release) -> Path | None:
        path = self.cache / release.cache_name
        return path if path.is_file() else None

    def download(self, release: Release) -> Path:
        """The archive of `release` in the cache, fetched unless it is there already; its
        sha256 must be the one Charmhub published, or nothing is stored."""
        path = self.cache / release.cache_name
        if path.is_file():
            return path
        response = self._request("GET", release.url, absolute=True)
        if response.status_code != httpx.codes.OK:
            raise errors.PermanentError(
                f'cannot download charm "{release.name}" revision {release.revision} from '
                f"{release.url}: HTTP {response.status_code}"
            )
        data = response.content
        if len(data) > MAX_ARCHIVE_BYTES:
            raise errors.InvalidSpecError(
                f'charm "{release.name}" revision {release.revision} is larger than '
                f"{MAX_ARCHIVE_BYTES} bytes"
            )
        digest = hashlib.sha256(data).hexdigest()
        if digest != release.sha256:
            raise errors.PermanentError(
                f'downloaded charm "{release.name}" revision {release.revision} has sha256 '
                f"{digest}, but Charmhub publishes {release.sha256}: refused, nothing stored"
            )
        self.cache.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(dir=self.cache, prefix=".download-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(staging, path)
        except BaseException:
            Path(staging).unlink(missing_ok=True)
            raise
        return path

    def fetch(
        self,
        name: str,
        *,
        channel: str | None = None,
        revision: int | None = None,
        base: Base | None = None,
    ) -> tuple[Release, Path]:
        """Resolve and download: the release and its archive in the cache."""
        release = self.resolve(name, channel=channel, revision=revision, base=base)
        return release, self.download(release)

    # --- the wire --------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, absolute: bool = False, **kwargs: Any
    ) -> httpx.Response:
        url = path if absolute else f"{self.url}{path}"
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc or 'no answer'}"
            raise errors.UnavailableError(
                f"cannot reach Charmhub at {self.url} ({reason}); "
                f"set {URL_VARIABLE} to use a Charmhub mirror"
            ) from exc
        if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise errors.UnavailableError(
                f"Charmhub at {self.url} answered HTTP {response.status_code}; "
                f"set {URL_VARIABLE} to use a Charmhub mirror"
            )
        return response

    def _parse(self, model: type[_M], response: httpx.Response) -> _M:
        if response.status_code >= httpx.codes.BAD_REQUEST and response.status_code != 404:
            raise errors.InvalidSpecError(
                f"Charmhub at {self.url} refused the request (HTTP {response.status_code}): "
                f"{_error_text(response)}"
            )
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise errors.PermanentError(
                f"Charmhub at {self.url} answered {response.request.url.path} with a document "
                f"that is not Charmhub's: {exc.errors()[0]['msg']}"
            ) from exc


def _error_text(response: httpx.Response) -> str:
    try:
        listed = response.json().get("error-list") or []
        return "; ".join(str(e.get("message") or e.get("code")) for e in listed) or response.text
    except ValueError:
        return response.text[:200]


def _available(channel_map: list[ChannelMapEntry]) -> str:
    lines: dict[str, list[str]] = {}
    for entry in channel_map:
        bases = [entry.channel.base] if entry.channel.base else entry.revision.bases
        names = lines.setdefault(entry.channel.name, [])
        for base in bases:
            spelled = f"{base.name}@{base.channel}"
            if spelled not in names:
                names.append(spelled)
    return "\n".join(
        f'  channel "{channel}": available bases are: {", ".join(bases)}'
        for channel, bases in lines.items()
    )


def _refresh_error(
    name: str, channel: str | None, revision: int | None, base: Base, error: _APIError | None
) -> errors.RunecraftError:
    """Juju's wording for what Charmhub could not resolve."""
    code = error.code if error else ""
    if code in ("name-not-found", "resource-not-found", "id-not-found", "not-found"):
        return errors.NotFoundError(f"No charm or bundle with name '{name}'.")
    if revision is not None:
        return errors.NotFoundError(
            f'charm "{name}" revision {revision} not found for base "{base.juju()}"'
        )
    releases = (error.extra.get("releases") if error else None) or []
    listed = "\n".join(
        f'  channel "{r.get("channel")}": available base '
        f"{r['base'].get('name')}@{r['base'].get('channel')}"
        for r in releases
        if isinstance(r, dict) and isinstance(r.get("base"), dict)
    )
    return errors.NotFoundError(
        "selecting releases: charm or bundle not found for channel "
        f'"{channel or "latest/stable"}", base "{base.juju()}"'
        + (f"\navailable releases are:\n{listed}" if listed else "")
    )
