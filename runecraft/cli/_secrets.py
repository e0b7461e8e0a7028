"""User secrets, with Juju 3.6's command names: `add-secret`, `update-secret`,
`grant-secret`, `revoke-secret`, `remove-secret`, `secrets`, `show-secret`.

Content is `key=value`, `key#base64=<base64>` or `key#file=<path>` arguments, and/or a
YAML map given with `--file` (what jubilant passes). A secret is named by its name or URI.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from runecraft import errors
from runecraft.cli import _output
from runecraft.cli._common import _model, _read_yaml, _run
from runecraft.schemas import secrets as sec

__all__ = [
    "add_secret",
    "grant_secret",
    "list_secrets",
    "remove_secret",
    "revoke_secret",
    "rotate_secrets_key",
    "show_secret",
    "update_secret",
]


def _file_content(path: Path) -> dict[str, str]:
    document = _read_yaml(path, "secret file")
    if not isinstance(document, dict):
        raise errors.InvalidSpecError(f'secret file "{path}" must be a map of keys to values')
    return {str(key): "" if value is None else str(value) for key, value in document.items()}


def _content(pairs: tuple[str, ...], file: Path | None) -> dict[str, str]:
    """Secret content from the arguments and `--file` (arguments win)."""
    content = _file_content(file) if file is not None else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise errors.UsageError(f'invalid content "{pair}": expected key=value')
        name, _, suffix = key.partition("#")
        if suffix == "base64":
            try:
                value = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise errors.UsageError(f'invalid base64 value for key "{name}": {exc}') from exc
        elif suffix == "file":
            try:
                value = Path(value).expanduser().read_text()
            except OSError as exc:
                raise errors.UsageError(f'cannot read "{value}" for key "{name}": {exc}') from exc
        elif suffix:
            raise errors.UsageError(f'invalid content "{pair}": unknown suffix "#{suffix}"')
        content[name] = value
    return content


def _apps(text: str) -> list[str]:
    apps = [name.strip() for name in text.split(",") if name.strip()]
    if not apps:
        raise errors.UsageError("missing application names")
    return apps


@click.command("add-secret")
@click.argument("name")
@click.argument("content", nargs=-1)
@click.option("--info", default="", help="The secret description.")
@click.option("--file", "file", type=click.Path(path_type=Path), help="YAML file of content.")
def add_secret(name: str, content: tuple[str, ...], info: str, file: Path | None) -> None:
    """Add a user secret to the model; prints its URI."""
    values = _content(content, file)
    if not values:
        raise errors.UsageError("missing secret value")
    model = _model()
    request = sec.AddSecretRequest(name=name, content=values, description=info)
    click.echo(_run(lambda c: c.add_secret(model, request)))


@click.command("update-secret")
@click.argument("secret")
@click.argument("content", nargs=-1)
@click.option("--info", default=None, help="A new description.")
@click.option("--name", "new_name", default=None, help="A new name.")
@click.option("--file", "file", type=click.Path(path_type=Path), help="YAML file of content.")
@click.option("--auto-prune", is_flag=True, help="Accepted for Juju compatibility.")
def update_secret(
    secret: str,
    content: tuple[str, ...],
    info: str | None,
    new_name: str | None,
    file: Path | None,
    auto_prune: bool,
) -> None:
    """Update a user secret: new content makes a new revision."""
    values = _content(content, file)
    model = _model()
    request = sec.UpdateSecretRequest(content=values or None, description=info, name=new_name)
    _run(lambda c: c.update_secret(model, secret, request))


def _access_command(*, grant: bool, help: str) -> click.Command:
    """`grant-secret` or `revoke-secret SECRET APP[,APP…]`: the same shape, opposite ways."""

    @click.command("grant-secret" if grant else "revoke-secret", help=help)
    @click.argument("secret")
    @click.argument("applications")
    def command(secret: str, applications: str) -> None:
        model = _model()
        _run(
            lambda c: (c.grant_secret if grant else c.revoke_secret)(
                model, secret, _apps(applications)
            )
        )

    return command


grant_secret = _access_command(
    grant=True, help="Let applications (comma-separated) read a user secret."
)
revoke_secret = _access_command(
    grant=False, help="Stop applications (comma-separated) reading a user secret."
)


@click.command("rotate-secrets-key")
def rotate_secrets_key() -> None:
    """Seal every secret's content under a new controller key; the old key is dropped."""
    rotation = _run(lambda c: c.rotate_secrets_key())
    _output.err_console.print(
        f'Secret key rotated: "{rotation.key}" now seals {rotation.resealed} secret '
        f"revision(s); dropped: {', '.join(rotation.retired) or 'none'}.",
        markup=False,
    )


@click.command("remove-secret")
@click.argument("secret")
@click.option("--revision", type=click.IntRange(min=1), default=None, help="Only this revision.")
def remove_secret(secret: str, revision: int | None) -> None:
    """Remove a user secret (or one of its revisions)."""
    model = _model()
    _run(lambda c: c.remove_secret(model, secret, revision))


@click.command("secrets")
@click.option("--owner", default=None, help="Only secrets of this owner.")
@click.option("--reveal", is_flag=True, help="Include the content.")
@_output.FORMAT_OPTION
def list_secrets(owner: str | None, reveal: bool, output_format: str) -> None:
    """List the model's secrets."""
    model = _model()
    document = _run(lambda c: c.secrets(model, owner=owner, reveal=reveal))
    if _output.emit(document, output_format):
        return
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for header in ("ID", "Name", "Owner", "Rotation", "Revision", "Last updated"):
        table.add_column(header, no_wrap=True)
    for secret_id, doc in document.items():
        table.add_row(
            secret_id,
            str(doc.get("name") or doc.get("label") or "-"),
            str(doc["owner"]),
            str(doc.get("rotation") or "never"),
            str(doc["revision"]),
            str(doc["updated"]),
        )
    _output.console.print(table)


@click.command("show-secret")
@click.argument("secret")
@click.option("--reveal", is_flag=True, help="Include the content.")
@click.option("--revision", type=click.IntRange(min=1), default=None, help="Reveal this one.")
@click.option("--revisions", is_flag=True, help="List every revision.")
@_output.format_option("yaml", "json", help="Output format.")
def show_secret(
    secret: str, reveal: bool, revision: int | None, revisions: bool, output_format: str
) -> None:
    """Show one secret, by name or URI."""
    model = _model()
    query = sec.SecretQuery(reveal=reveal, revision=revision, revisions=revisions)
    document: dict[str, Any] = _run(lambda c: c.show_secret(model, secret, query))
    _output.emit(document, output_format)
