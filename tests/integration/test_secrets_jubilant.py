"""User secrets as the real `jubilant` reads them (juju-cli-contract "Secrets"): its
`add_secret`, `secrets`, `show_secret(reveal=True, revisions=True)`, `update_secret` and
`remove_secret` parse our output into its `Secret`/`RevealedSecret` types."""

from __future__ import annotations

from pathlib import Path

import jubilant
import pytest

from tests.integration.conftest import Rune
from tests.integration.test_jubilant import juju_on_path

__all__ = ["juju_on_path"]

pytestmark = pytest.mark.e2e


def test_jubilant_user_secrets(rune: Rune, juju_on_path: Path) -> None:
    rune("bootstrap")
    juju = jubilant.Juju()
    uri = juju.add_secret("db-admin", {"username": "admin", "password": "hunter2"}, info="ops")
    assert uri.startswith("secret:") and len(uri.unique_identifier) == 20

    (listed,) = juju.secrets()
    assert (listed.uri, listed.name, listed.description, listed.revision) == (
        uri,
        "db-admin",
        "ops",
        1,
    )
    assert listed.owner and listed.created <= listed.updated

    revealed = juju.show_secret("db-admin", reveal=True)
    assert revealed.content == {"username": "admin", "password": "hunter2"}
    assert revealed.checksum

    juju.update_secret(uri, {"username": "admin", "password": "s3cret"}, info="rotated")
    shown = juju.show_secret(uri, revisions=True)
    assert (shown.revision, shown.description) == (2, "rotated")
    assert shown.revisions is not None
    assert [r.revision for r in shown.revisions] == [1, 2]
    assert juju.show_secret(uri, reveal=True, revision=1).content["password"] == "hunter2"

    juju.remove_secret("db-admin", revision=1)
    left = juju.show_secret(uri, revisions=True).revisions
    assert left is not None and [r.revision for r in left] == [2]
    juju.remove_secret(uri)
    assert juju.secrets() == []
    with pytest.raises(jubilant.CLIError, match="not found"):
        juju.show_secret("db-admin")
