"""The user commands in process against the controller's real API app: add-user, login,
logout, whoami, users, grant, revoke, change-user-password and remove-user, and what a user
without the access gets from the other commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runecraft.cli import _config
from runecraft.settings import home_settings
from tests.component._api import TOKEN
from tests.component.test_cli_in_process import Controller as Cli
from tests.component.test_cli_in_process import controller  # noqa: F401 (a fixture)

HELLO = str(Path(__file__).parents[2] / "examples" / "charms" / "hello-bash")


@pytest.fixture
def cli(controller: Cli) -> Cli:  # noqa: F811 (the imported fixture, by name)
    """A client home (as the admin) whose commands reach a controller app in process, with a
    `default` model."""
    return controller


def test_add_user_prints_a_made_password_that_logs_in(cli: Cli) -> None:
    code, stdout, stderr = cli.run("add-user", "bob", "Bob Builder")
    assert code == 0, stderr
    assert 'User "Bob Builder (bob)" added' in stderr
    password = stdout.splitlines()[-1]  # the last line: the controller logs here, in process
    cli.rune("login", "-u", "bob", stdin=password)
    config = cli.config()
    assert config.user == "bob" and config.token not in ("", TOKEN)
    assert json.loads(cli.rune("whoami", "--format", "json")) == {
        "controller": "ctl",
        "model": "default",
        "user": "bob",
    }
    assert cli.rune("whoami").splitlines() == [
        "Controller:  ctl",
        "Model:       default",
        "User:        bob",
    ]


def test_users_json_has_jujus_fields(cli: Cli) -> None:
    cli.rune("add-user", "bob", "--password-stdin", stdin="secret-1\n")
    users = json.loads(cli.rune("users", "--format", "json"))
    assert [sorted(u) for u in users] == [
        ["access", "date-created", "display-name", "last-connection", "user-name"]
    ] * 2
    assert [(u["user-name"], u["access"], u["last-connection"]) for u in users] == [
        ("admin", "superuser", "never connected"),
        ("bob", "login", "never connected"),
    ]
    assert users[1]["date-created"] == "just now"
    exact = json.loads(cli.rune("list-users", "--format", "json", "--exact-time"))
    assert exact[1]["date-created"].endswith("Z")
    table = cli.rune("users")
    assert table.startswith("Controller: ctl\n")
    assert "admin*" in table


def test_isolation_a_read_only_user_cannot_deploy_or_configure(cli: Cli) -> None:
    cli.rune("deploy", HELLO, "-n", "0")
    cli.rune("add-user", "bob", "--password-stdin", stdin="secret-1\n")
    cli.rune("grant", "bob", "read", "default")
    cli.rune("login", "-u", "bob", stdin="secret-1\n")
    before = cli.revision("default")
    assert "hello-bash" in cli.rune("status")
    needs_write = 'write access to model "default" is required; user "bob" has read'
    for args in (
        ("deploy", HELLO, "other", "-n", "0"),
        ("config", "hello-bash", "message=hi"),
        ("model-config", "update-status-hook-interval=10m"),
    ):
        code, _, stderr = cli.run(*args)
        assert code == 1, args
        assert needs_write in stderr, stderr
    code, _, stderr = cli.run("destroy-model", "default", "-y", "--no-wait")
    assert code == 1
    assert 'admin access to model "default" is required; user "bob" has read' in stderr
    code, _, stderr = cli.run("add-user", "eve")
    assert code == 1
    assert "superuser access to the controller is required" in stderr
    assert cli.revision("default") == before


def test_isolation_a_user_sees_only_models_it_may_read(cli: Cli) -> None:
    cli.rune("add-model", "private", "--no-switch")
    cli.rune("add-user", "bob", "--password-stdin", stdin="secret-1\n")
    cli.rune("grant", "bob", "write", "default")
    cli.rune("login", "-u", "bob", stdin="secret-1\n")
    before = cli.revision("private")
    models = json.loads(cli.rune("models", "--format", "json"))["models"]
    assert [m["short-name"] for m in models] == ["default"]
    for args in (("status", "-m", "private"), ("show-model", "private"), ("switch", "private")):
        code, _, stderr = cli.run(*args)
        assert code == 1, args
        assert 'user "bob" has no access to model "private"' in stderr
    assert cli.revision("private") == before


def test_logout_revokes_the_token_and_forgets_it(cli: Cli) -> None:
    cli.rune("add-user", "bob", "--password-stdin", stdin="secret-1\n")
    cli.rune("login", "-u", "bob", stdin="secret-1\n")
    token = cli.config().token
    cli.rune("logout")
    assert cli.config().token == ""
    code, _, stderr = cli.run("models")
    assert code == 1 and "not logged in" in stderr
    # The forgotten token is dead on the controller too.
    _config.save(home_settings().client_config, cli.config().model_copy(update={"token": token}))
    code, _, stderr = cli.run("models")
    assert code == 1 and "the token was revoked" in stderr


def test_logout_keeps_the_admin_token_unless_forced(cli: Cli) -> None:
    code, _, stderr = cli.run("logout")
    assert code == 1 and "admin token, which cannot be revoked" in stderr
    assert cli.config().token == TOKEN
    cli.rune("logout", "--force")
    assert cli.config().token == ""


def test_change_user_password_and_remove_user(cli: Cli) -> None:
    cli.rune("add-user", "bob", "--password-stdin", stdin="secret-1\n")
    cli.rune("grant", "bob", "read", "default")
    cli.rune("change-user-password", "bob", stdin="secret-2\n")
    code, _, stderr = cli.run("login", "-u", "bob", stdin="secret-1\n")
    assert code == 1 and "invalid user name or password" in stderr
    cli.rune("login", "-u", "bob", stdin="secret-2\n")
    cli.rune("change-user-password", stdin="secret-3\n")  # one's own, token kept
    assert "default" in cli.rune("models")
    # Back to the admin, who removes bob: bob's token no longer works.
    bob = cli.config().token
    _config.save(
        home_settings().client_config,
        cli.config().model_copy(update={"token": TOKEN, "user": "admin"}),
    )
    cli.rune("remove-user", "bob", "-y")
    assert "bob" not in cli.rune("users", "--format", "json")
    _config.save(home_settings().client_config, cli.config().model_copy(update={"token": bob}))
    code, _, stderr = cli.run("models")
    assert code == 1 and "invalid credentials" in stderr


BAD = [
    (["grant", "bob", "owner", "default"], 2, 'invalid access level "owner"'),
    (["grant", "bob", "read"], 2, 'no model given: "read" is a model access level'),
    (["grant", "bob", "superuser", "default"], 2, '"superuser" is a controller access level'),
    (["revoke", "nobody", "read", "default"], 1, 'user "nobody" not found'),
    (["add-user", "Bad Name"], 1, 'invalid user name "Bad Name"'),
    (["add-user", "bob", "--password-stdin"], 2, "no password on standard input"),
    (["login", "-u", "admin"], 2, "no password on standard input"),
    (["remove-user", "admin", "-y"], 1, 'cannot remove user "admin"'),
    (["grant", "bob", "consume", "default"], 2, '"consume" on offers: give an offer level'),
    (["grant", "bob", "write", "default.src"], 2, '"write" on offers: give an offer level'),
    (["revoke", "bob", "read", "default", "m.o"], 2, "offer URLs only"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_user_commands_are_refused_and_change_nothing(
    cli: Cli, args: list[str], code: int, message: str
) -> None:
    before = cli.rune("users", "--format", "json", "--exact-time")
    got, _, stderr = cli.run(*args, stdin="")
    assert (got, message in stderr) == (code, True), stderr
    assert cli.rune("users", "--format", "json", "--exact-time") == before


def test_find_offers_shows_a_user_the_offers_of_its_models_with_its_access(cli: Cli) -> None:
    cli.rune("add-model", "hidden", "--no-switch")
    cli.rune("add-model", "shared", "--no-switch")
    provider = str(Path(__file__).parents[1] / "charms" / "bash-provider")
    for model in ("default", "hidden", "shared"):
        cli.rune("deploy", provider, "prov", "-n", "0", "-m", model)
        cli.rune("offer", f"{model}.prov:source", "src")
    cli.rune("add-user", "bob", "--password-stdin", stdin="secret-1\n")
    cli.rune("grant", "bob", "read", "default")
    cli.rune("grant", "bob", "admin", "shared")
    cli.rune("login", "-u", "bob", stdin="secret-1\n")
    found = json.loads(cli.rune("find-offers", "--format", "json"))
    assert {url: offer["access"] for url, offer in found.items()} == {
        "ctl:admin/default.src": "read",
        "ctl:admin/shared.src": "admin",
    }
    # A model bob may not read is refused as one that does not exist: nothing leaks.
    for name in ("hidden", "no-such-model"):
        for args in (("find-offers", name), ("show-offer", f"{name}.src")):
            code, _, stderr = cli.run(*args)
            assert code == 1, stderr
            assert f'user "bob" has no access to model "{name}"' in stderr, stderr


def _as_admin(cli: Cli) -> None:
    _config.save(
        home_settings().client_config,
        cli.config().model_copy(update={"token": TOKEN, "user": "admin"}),
    )


def test_consume_access_on_an_offer_alone_finds_and_consumes_it_as_juju(cli: Cli) -> None:
    cli.rune("add-model", "offering", "--no-switch")
    cli.rune("add-model", "mine", "--no-switch")
    provider = str(Path(__file__).parents[1] / "charms" / "bash-provider")
    cli.rune("deploy", provider, "prov", "-n", "0", "-m", "offering")
    cli.rune("offer", "offering.prov:source", "src")
    cli.rune("add-user", "bob", "--password-stdin", stdin="secret-1\n")
    cli.rune("grant", "bob", "admin", "mine")
    cli.rune("login", "-u", "bob", stdin="secret-1\n")
    cli.rune("switch", "mine")
    assert json.loads(cli.rune("find-offers", "--format", "json")) == {}
    code, _, stderr = cli.run("consume", "admin/offering.src")
    assert code == 1 and 'application offer "admin/offering.src" not found' in stderr
    assert json.loads(cli.rune("status", "--format", "json")).get("application-endpoints") is None

    _as_admin(cli)
    cli.rune("grant", "bob", "consume", "ctl:admin/offering.src")
    cli.rune("login", "-u", "bob", stdin="secret-1\n")
    found = json.loads(cli.rune("find-offers", "--format", "json"))
    assert {url: offer["access"] for url, offer in found.items()} == {
        "ctl:admin/offering.src": "consume"
    }
    shown = json.loads(cli.rune("show-offer", "offering.src", "--format", "json"))
    assert shown["ctl:admin/offering.src"]["access"] == "consume"
    assert shown["ctl:admin/offering.src"]["users"] == {"bob": {"access": "consume"}}
    cli.rune("consume", "admin/offering.src")
    saas = json.loads(cli.rune("status", "--format", "json"))["application-endpoints"]
    assert list(saas) == ["src"]
    code, _, stderr = cli.run("offers", "-m", "offering")
    assert code == 1 and 'has no access to model "offering"' in stderr

    _as_admin(cli)
    shown = json.loads(cli.rune("show-offer", "offering.src", "--format", "json"))
    assert shown["ctl:admin/offering.src"]["users"] == {  # all of them, to its admin
        "admin": {"display-name": "admin", "access": "admin"},
        "bob": {"access": "consume"},
    }
    cli.rune("revoke", "bob", "consume", "offering.src")
    cli.rune("login", "-u", "bob", stdin="secret-1\n")
    found = json.loads(cli.rune("find-offers", "--format", "json"))
    assert [offer["access"] for offer in found.values()] == ["read"]
    code, _, stderr = cli.run("consume", "admin/offering.src", "again")
    assert code == 1 and 'consume access to offer "admin/offering.src" is required' in stderr
    saas = json.loads(cli.rune("status", "--format", "json"))["application-endpoints"]
    assert list(saas) == ["src"]
