"""Charmhub from the command line: `info`, `find` and `download`, and what `deploy`,
`refresh` and bundles use to fetch a charm by name (`fetch`).

The CLI fetches (as it packs local charms): a charm named on Charmhub is resolved and
downloaded into the cache, checked against its published sha256, then uploaded to the
controller like a local `.charm`, addressed by its sha256.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runecraft import errors
from runecraft.cli import _output
from runecraft.settings import home_settings

if TYPE_CHECKING:
    from runecraft.client import _charmhub
    from runecraft.schemas import api

__all__ = ["charm_origin", "download", "fetch", "find", "info", "is_charmhub_name"]

_NAME = re.compile(r"^(ch:)?[a-z0-9][a-z0-9-]*\Z")
"""A Charmhub charm name, optionally with the `ch:` scheme."""

_REVISION_NEEDS_CHANNEL = (
    "specifying a revision requires a channel for future upgrades. Please use --channel"
)


def is_charmhub_name(text: str) -> bool:
    """Whether `text` names a charm on Charmhub rather than a path."""
    return bool(_NAME.match(text)) and not Path(text).exists()


def _hub() -> _charmhub.Charmhub:
    from runecraft.client import _charmhub  # noqa: PLC0415 (httpx and pydantic: only here)

    return _charmhub.Charmhub(home_settings().charm_cache)


def _base(text: str | None) -> _charmhub.Base | None:
    from runecraft.client import _charmhub  # noqa: PLC0415

    return _charmhub.parse_base(text) if text else None


def fetch(
    name: str,
    *,
    channel: str | None = None,
    revision: int | None = None,
    base: str | None = None,
    require_channel: bool = True,
) -> tuple[_charmhub.Release, Path]:
    """The release `name` resolves to on Charmhub and its archive in the cache (downloaded
    unless there already); `--revision` needs `--channel` (Juju's rule for deploy and
    refresh, so later refreshes know what to follow)."""
    if revision is not None and channel is None and require_channel:
        raise errors.UsageError(_REVISION_NEEDS_CHANNEL)
    name = name.removeprefix("ch:")
    with _hub() as hub, _output.err_console.status(f'fetching "{name}" from Charmhub'):
        return hub.fetch(name, channel=channel, revision=revision, base=_base(base))


def charm_origin(
    release: _charmhub.Release, channel: str | None, followed: str = ""
) -> api.CharmOrigin:
    """What the controller records of a Charmhub charm: its name, its revision and the
    channel it follows, in full as Juju shows it: the one it was found in, else the one
    asked for, else `followed` (the one it had), else `latest/stable`."""
    from runecraft.client import _charmhub  # noqa: PLC0415
    from runecraft.schemas import api  # noqa: PLC0415

    if release.channel:
        followed = release.channel
    elif channel:
        followed = _charmhub.parse_channel(channel)
    return api.CharmOrigin(
        source="charmhub",
        name=release.name,
        channel=followed or "latest/stable",
        revision=release.revision,
    )


def origin_line(release: _charmhub.Release) -> str:
    """Juju's words for what was chosen."""
    channel = f" in channel {release.channel}" if release.channel else ""
    return (
        f'Located charm "{release.name}" in charm-hub, revision {release.revision}{channel} '
        f"(base {release.base.name}@{release.base.channel}, {release.base.architecture})"
    )


# --- commands ------------------------------------------------------------------------------


@click.command()
@click.argument("charm")
@click.option("--channel", help="Channel to fetch from (default latest/stable).")
@click.option("--revision", type=click.IntRange(min=0), help="Revision to fetch.")
@click.option("--base", help="NAME@CHANNEL the charm must run on, e.g. ubuntu@22.04.")
@click.option("--filepath", type=click.Path(path_type=Path), help="Where to write the .charm file.")
@click.option("--no-progress", is_flag=True, help="Accepted for Juju compatibility.")
def download(
    charm: str,
    channel: str | None,
    revision: int | None,
    base: str | None,
    filepath: Path | None,
    no_progress: bool,
) -> None:
    """Download a charm from Charmhub to a .charm file (default ./NAME_rREVISION.charm),
    checked against the sha256 Charmhub publishes."""
    del no_progress
    import shutil  # noqa: PLC0415

    release, cached = fetch(
        charm, channel=channel, revision=revision, base=base, require_channel=False
    )
    target = filepath or Path(f"{release.name}_r{release.revision}.charm")
    if target.is_dir():
        raise errors.InvalidSpecError(f'"{target}" is a directory: give a file path')
    shutil.copyfile(cached, target)
    where = f'"{release.channel}" channel' if release.channel else f"revision {release.revision}"
    _output.err_console.print(
        f'Fetching charm "{release.name}" revision {release.revision} using {where} and base '
        f'"{release.base.juju()}"\nInstall the "{release.name}" charm with:\n'
        f"    juju deploy ./{target}",
        markup=False,
        highlight=False,
    )


@click.command()
@click.argument("charm")
@click.option("--channel", help="Show only this channel.")
@_output.FORMAT_OPTION
@click.option("--base", help="Accepted for Juju compatibility.")
@click.option("--arch", help="Accepted for Juju compatibility.")
@click.option("--revision", help="Accepted for Juju compatibility.")
def info(
    charm: str,
    channel: str | None,
    output_format: str,
    base: str | None,
    arch: str | None,
    revision: str | None,
) -> None:
    """What Charmhub knows of a charm: summary, publisher, channels and revisions."""
    del base, arch, revision
    with _hub() as hub:
        found = hub.info(charm.removeprefix("ch:"), channel)
    document = info_document(found)
    if output_format in ("json", "yaml"):
        _output.emit(document, output_format)
        return
    click.echo(_info_text(document), nl=False)


def info_document(found: _charmhub.InfoResponse) -> dict[str, Any]:
    """Juju's `info --format json` document."""
    import yaml  # noqa: PLC0415

    channels: dict[str, dict[str, list[dict[str, Any]]]] = {}
    tracks: list[str] = []
    for entry in found.channel_map:
        track, risk = entry.channel.track, entry.channel.risk
        if track not in tracks:
            tracks.append(track)
        bases = [entry.channel.base] if entry.channel.base else entry.revision.bases
        revisions = channels.setdefault(track, {}).setdefault(risk, [])
        revisions.append(
            {
                "track": track,
                "risk": risk,
                "version": entry.revision.version,
                "revision": entry.revision.revision,
                "released-at": entry.channel.released_at,
                "size": entry.revision.download.size if entry.revision.download else 0,
                "architectures": sorted({b.architecture for b in bases}),
                "bases": [{"name": b.name, "channel": b.channel} for b in bases],
            }
        )
    document: dict[str, Any] = {
        "type": found.type,
        "id": found.id,
        "name": found.name,
        "description": found.result.description,
        "publisher": found.result.publisher.get("display-name", ""),
        "summary": found.result.summary,
        "store-url": found.result.store_url or f"https://charmhub.io/{found.name}",
    }
    release = found.default_release
    if release is not None and (release.revision.metadata_yaml or release.revision.config_yaml):
        meta = yaml.safe_load(release.revision.metadata_yaml or "{}") or {}
        config = yaml.safe_load(release.revision.config_yaml or "{}") or {}
        charm: dict[str, Any] = {}
        if config.get("options"):
            charm["config"] = {"options": config["options"]}
        relations = {
            role: {
                str(ep): str((spec or {}).get("interface", "")) for ep, spec in meta[role].items()
            }
            for role in ("provides", "requires")
            if meta.get(role)
        }
        if relations:
            charm["relations"] = relations
        if meta.get("subordinate"):
            charm["subordinate"] = True
        document["charm"] = charm
    document["channels"] = channels
    document["tracks"] = tracks
    return document


def _info_text(document: dict[str, Any]) -> str:
    lines = [
        f"name: {document['name']}",
        f"publisher: {document['publisher']}",
        f"summary: {document['summary']}",
        f"store-url: {document['store-url']}",
        f"charm-id: {document['id']}",
        "channels: |",
    ]
    for track, risks in document["channels"].items():
        for risk, revisions in risks.items():
            for revision in revisions:
                bases = ", ".join(f"{b['name']}@{b['channel']}" for b in revision["bases"])
                lines.append(
                    f"  {track}/{risk}:  {revision['version'] or '-'}  "
                    f"{revision['released-at'][:10]}  ({revision['revision']})  "
                    f"{revision['size']}B  {' '.join(revision['architectures'])}  {bases}"
                )
    return "\n".join(lines) + "\n"


@click.command()
@click.argument("query", required=False, default="")
@_output.FORMAT_OPTION
@click.option("--category", help="Accepted for Juju compatibility.")
@click.option("--channel", help="Accepted for Juju compatibility.")
@click.option("--type", "kind", help="Accepted for Juju compatibility.")
@click.option("--publisher", help="Accepted for Juju compatibility.")
def find(
    query: str,
    output_format: str,
    category: str | None,
    channel: str | None,
    kind: str | None,
    publisher: str | None,
) -> None:
    """Search Charmhub for charms whose name or summary match QUERY."""
    del category, channel, kind, publisher
    with _hub() as hub:
        results = hub.find(query)
    documents = [find_document(r) for r in results]
    if output_format in ("json", "yaml"):
        _output.emit(documents, output_format)
        return
    if not documents:
        _output.err_console.print(f'No matching charms for "{query}"', markup=False)
        return
    rows = [["Name", "Bundle", "Version", "Architectures", "Supports", "Publisher", "Summary"]]
    for doc in documents:
        rows.append(
            [
                doc["name"],
                "Y" if doc["type"] == "bundle" else "-",
                doc["version"] or "-",
                ", ".join(doc.get("architectures", [])),
                ", ".join(f"{b['name']}@{b['channel']}" for b in doc.get("supports", [])),
                doc["publisher"],
                doc["summary"],
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + row[-1])


def find_document(found: _charmhub.FindResult) -> dict[str, Any]:
    """One entry of Juju's `find --format json` list."""
    release = found.default_release
    bases = []
    if release is not None:
        bases = [release.channel.base] if release.channel.base else release.revision.bases
    document: dict[str, Any] = {
        "type": found.type,
        "id": found.id,
        "name": found.name,
        "publisher": found.result.publisher.get("display-name", ""),
        "summary": found.result.summary,
        "version": release.revision.version if release else "",
    }
    if bases:
        document["architectures"] = sorted({b.architecture for b in bases if b})
        document["os"] = sorted({b.name for b in bases if b})
        document["supports"] = [{"name": b.name, "channel": b.channel} for b in bases if b]
    document["store-url"] = found.result.store_url or f"https://charmhub.io/{found.name}"
    return document
