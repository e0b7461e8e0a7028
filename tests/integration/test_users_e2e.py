"""Users on a bootstrapped controller: the real CLI and controller process, a user with
read access refused a change (naming the access), and its token dead after logout."""

from __future__ import annotations

import json

from tests.integration.conftest import EXAMPLES, Rune


def test_isolation_a_logged_in_reader_is_refused_changes_and_logout_kills_its_token(
    rune: Rune,
) -> None:
    rune("bootstrap")
    rune("deploy", str(EXAMPLES / "hello-bash"), "-n", "0")
    assert json.loads(rune("whoami", "--format", "json").stdout)["user"] == "admin"
    rune("add-user", "bob", "--password-stdin", stdin="bobs-password\n")
    rune("grant", "bob", "read", "default")
    rune("login", "-u", "bob", stdin="bobs-password\n")
    revision = rune.status()["model"]["revision"]

    refused = rune("config", "hello-bash", "message=hi", check=False)
    assert refused.returncode == 1
    assert 'write access to model "default" is required; user "bob" has read' in refused.stderr
    refused = rune("destroy-model", "default", "--no-prompt", check=False)
    assert refused.returncode == 1
    assert 'admin access to model "default" is required' in refused.stderr
    assert rune.status()["model"]["revision"] == revision

    users = json.loads(rune("users", "--format", "json").stdout)
    assert [(u["user-name"], u["access"]) for u in users] == [("bob", "login")]
    rune("logout")
    refused = rune("status", check=False)
    assert refused.returncode == 1 and "not logged in" in refused.stderr
