"""Users and access: `add-user`, `remove-user`, `change-user-password`, `login`, `logout`,
`whoami`, `users`, `grant` and `revoke`, with Juju's names, flags and levels.

Passwords are never arguments: commands read one line from standard input when it is not a
terminal (so scripts pipe them in), and prompt without echo when it is.
"""

from __future__ import annotations

import asyncio
import datetime
import sys
import time

import click

from runecraft import errors
from runecraft.cli import _argv, _config, _juju, _output
from runecraft.cli._common import TRANSPORT, _client_config, _model, _run
from runecraft.client import Client
from runecraft.schemas import users as user_schema
from runecraft.settings import home_settings

__all__ = [
    "add_user",
    "change_user_password",
    "grant",
    "login",
    "logout",
    "remove_user",
    "revoke",
    "users",
    "whoami",
]

_LEVELS = (*user_schema.MODEL_LEVELS, *user_schema.CONTROLLER_LEVELS, "consume")


def _read_password(prompt: str, *, confirm: bool) -> str:
    """A password: the first line of standard input, or a prompt at a terminal."""
    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise errors.UsageError("no password on standard input")
    return line


def _when(at: float | None, exact: bool, *, never: str) -> str:
    """Juju's user-friendly time: "just now", "N minutes ago", "N hours ago", else the date."""
    if at is None:
        return never
    moment = datetime.datetime.fromtimestamp(at, tz=datetime.UTC)
    if exact:
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    age = time.time() - at
    if age < 60:
        return "just now"
    if age < 3600:
        return f"{int(age // 60)} minutes ago"
    if age < 86400:
        return f"{int(age // 3600)} hours ago"
    return moment.strftime("%Y-%m-%d")


@click.command("add-user")
@click.argument("name")
@click.argument("display_name", required=False, default="")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of having one made.",
)
@click.option("--controller", "-c", help="The controller (this home's only one).")
def add_user(name: str, display_name: str, password_stdin: bool, controller: str | None) -> None:
    """Add a user. Without --password-stdin the controller makes a password, printed once
    on standard output (alone, so `PASSWORD=$(rune add-user bob)` keeps it)."""
    _juju.check_controller(controller)
    password = _read_password("Password", confirm=True) if password_stdin else None
    added = _run(lambda c: c.add_user(name, display_name, password))
    shown = f"{display_name} ({name})" if display_name else name
    _output.err_console.print(f'User "{shown}" added', markup=False)
    if added.password is not None:
        sys.stdout.write(added.password + "\n")


@click.command("remove-user")
@click.argument("name")
@click.option("--yes", "-y", "--no-prompt", "yes", is_flag=True, help="Do not ask.")
@click.option("--controller", "-c", help="The controller (this home's only one).")
def remove_user(name: str, yes: bool, controller: str | None) -> None:
    """Remove a user: its access to every model goes and its tokens stop working."""
    _juju.check_controller(controller)
    if not yes and sys.stdin.isatty():
        click.confirm(f'Remove user "{name}"? Its tokens stop working.', abort=True)
    _run(lambda c: c.remove_user(name))
    _output.err_console.print(f'User "{name}" removed', markup=False)


@click.command("change-user-password")
@click.argument("name", required=False)
@click.option("--controller", "-c", help="The controller (this home's only one).")
def change_user_password(name: str | None, controller: str | None) -> None:
    """Change a user's password (yours by default); the user's other tokens stop working.
    The new password is read from standard input when it is not a terminal."""
    _juju.check_controller(controller)
    user = name or _client_config().user
    password = _read_password("new password", confirm=True)
    _run(lambda c: c.set_password(user, password))
    _output.err_console.print(f'Password for "{user}" has been changed.', markup=False)


@click.command()
@click.option("--user", "-u", help="The user to log in as (default: this client's).")
@click.option("--controller", "-c", help="The controller (this home's only one).")
@click.option("--ttl", default="24h", show_default=True, help="How long the token lives.")
def login(user: str | None, controller: str | None, ttl: str) -> None:
    """Log in: a token that expires (after --ttl) replaces this client's. The password is
    read from standard input when it is not a terminal."""
    _juju.check_controller(controller)
    config = _client_config()
    name = user or config.user
    seconds = _argv.parse_duration(ttl)
    password = _read_password(f'please enter password for "{name}"', confirm=False)

    async def go() -> user_schema.LoginResponse:
        async with Client(
            config.endpoint, "", transport=TRANSPORT.get(), ca_cert=config.ca_cert
        ) as client:
            return await client.login(name, password, ttl=seconds)

    issued = asyncio.run(go())
    _config.save(
        home_settings().client_config,
        config.model_copy(update={"token": issued.token, "user": issued.user}),
    )
    _output.err_console.print(
        f'Welcome, {issued.user}. You are now logged into "{config.controller}".', markup=False
    )


@click.command()
@click.option("--force", is_flag=True, help="Forget the admin token even with no password set.")
@click.option("--controller", "-c", help="The controller (this home's only one).")
def logout(force: bool, controller: str | None) -> None:
    """Log out: the controller revokes this client's token, which is then forgotten."""
    _juju.check_controller(controller)
    config = _client_config()
    revoked = _run(lambda c: c.logout())
    if not revoked and not force:
        raise errors.ConflictError(
            "this client holds the controller's admin token, which cannot be revoked; to "
            "forget it anyway, set a password (`rune change-user-password`) and run "
            "`rune logout --force`"
        )
    _config.save(home_settings().client_config, config.model_copy(update={"token": ""}))
    _output.err_console.print(f'Logged out of "{config.controller}".', markup=False)


@click.command()
@_output.FORMAT_OPTION
def whoami(output_format: str) -> None:
    """The current controller, model and user."""
    config = _client_config()
    document = {"controller": config.controller, "model": _model(), "user": config.user}
    if _output.emit(document, output_format):
        return
    for key in ("controller", "model", "user"):
        sys.stdout.write(f"{key.capitalize() + ':':<12} {document[key]}\n")


@click.command()
@_output.FORMAT_OPTION
@click.option("--exact-time", is_flag=True, help="Times as ISO-8601, not relative.")
@click.option("--controller", "-c", help="The controller (this home's only one).")
def users(output_format: str, exact_time: bool, controller: str | None) -> None:
    """The controller's users (a user who is not a superuser sees itself)."""
    name = _juju.check_controller(controller)
    found = _run(lambda c: c.users())
    current = _client_config().user
    rows = [
        {
            "user-name": u.name,
            "display-name": u.display_name,
            "access": u.access,
            "date-created": _when(u.created, exact_time, never=""),
            "last-connection": _when(u.last_login, exact_time, never="never connected"),
        }
        for u in found
    ]
    if _output.emit(rows, output_format):
        return
    sys.stdout.write(f"Controller: {name}\n\n")
    table = _output._table("Name", "Display name", "Access", "Date created", "Last connection")
    for row in rows:
        marker = "*" if row["user-name"] == current else ""
        table.add_row(
            row["user-name"] + marker,
            row["display-name"],
            row["access"],
            row["date-created"],
            row["last-connection"],
        )
    _output.console.print(table)


def _check_level(level: str, targets: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The models and the offer URLs (`[CONTROLLER:][OWNER/]MODEL.OFFER`: a model name has
    no dot) a level is given on."""
    if level not in _LEVELS:
        raise errors.UsageError(
            f'invalid access level "{level}": valid levels are ' + ", ".join(_LEVELS)
        )
    offers = [t for t in targets if "." in t]
    if offers or level == "consume":
        if level not in user_schema.OFFER_LEVELS or len(offers) != len(targets) or not offers:
            raise errors.UsageError(
                f'"{level}" on offers: give an offer level '
                f"({', '.join(user_schema.OFFER_LEVELS)}) and offer URLs only"
            )
        return [], offers
    if level in user_schema.MODEL_LEVELS and not targets:
        raise errors.UsageError(f'no model given: "{level}" is a model access level')
    if level in user_schema.CONTROLLER_LEVELS and targets:
        raise errors.UsageError(f'"{level}" is a controller access level: it takes no model')
    return [_argv.model_name(m) for m in targets], []


@click.command()
@click.argument("user")
@click.argument("level")
@click.argument("models", nargs=-1)
def grant(user: str, level: str, models: tuple[str, ...]) -> None:
    """Give USER LEVEL on each MODEL (read, write, admin), on each OFFER-URL (read,
    consume, admin) or on the controller (login, add-model, superuser)."""
    names, offers = _check_level(level, models)
    _run(lambda c: c.grant(user, level, names, offers))


@click.command()
@click.argument("user")
@click.argument("level")
@click.argument("models", nargs=-1)
def revoke(user: str, level: str, models: tuple[str, ...]) -> None:
    """Take LEVEL from USER: admin leaves write, write leaves read, read removes access (on
    an offer admin leaves consume, consume leaves read; superuser leaves add-model,
    add-model leaves login, login disables the user)."""
    names, offers = _check_level(level, models)
    _run(lambda c: c.revoke(user, level, names, offers))
