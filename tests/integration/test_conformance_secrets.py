"""Conformance: charm secrets with real ops charms (charm-contract §2, §3.1, §4.2, §4.3).

An owner (1 unit) shares an application secret with a reader (2 units) over a relation:
the owner's leader adds it, grants it on the relation and publishes its id in its app bag;
each reader unit reads it with `model.get_secret(id=..., label=...)`. A config change makes
the owner set new content: every reader gets `secret-changed` (with `JUJU_SECRET_ID` and
its label) and reads the new content with `refresh=True`; once no reader tracks revision 1
the owner gets `secret-remove` for it (`JUJU_SECRET_REVISION=1`) and removes it. Errors: an
unknown id is `SecretNotFoundError` in ops and `ERROR secret "<id>" not found` (exit 1) from
the tool; a non-leader cannot add an application secret, and nothing is stored. Then user
secrets through the CLI: added, listed, revealed, granted to the reader (which reads it via
a `secret` config option), updated (the reader gets `secret-changed`), revoked, removed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration import _conformance as c
from tests.integration.conftest import Rune

OWNER, READER = "ops-secrets-owner", "ops-secrets-reader"
MISSING = "c0ffee0000000000000f"


def bare(uri: str) -> str:
    return uri.rpartition("/")[2].removeprefix("secret:")


def test_secret_shared_changed_and_removed(rune: Rune, tmp_path: Path) -> None:
    rec = c.Recorder(tmp_path / "events")
    rune("bootstrap")
    c.deploy(rune, OWNER, rec.directory, units=1)
    c.deploy(rune, READER, rec.directory, units=2)
    rune("integrate", OWNER, READER)
    c.settle(rune)

    status = rune.status()
    readers = c.unit_names(status, READER)
    for unit in readers:
        assert c.workload(status, unit) == {"current": "active", "message": "password=pw-1"}
    owner_events = rec.events(f"{OWNER}/0")
    shared = [e.data for e in owner_events if e.data and e.data.get("secret-id")]
    assert shared, c.describe(owner_events)
    # ops gives `secret:<id>` from add_secret and `secret://<model-uuid>/<id>` from get_info.
    ids = {bare(str(d["secret-id"])) for d in shared}
    assert len(ids) == 1, shared
    secret_id = ids.pop()
    assert len(secret_id) == 20, shared

    # -- New content: secret-changed on every reader, which refreshes; then the owner is
    # told revision 1 is no longer tracked.
    mark = rec.mark()
    rune("config", OWNER, "password=pw-2")
    c.settle(rune)
    status = rune.status()
    for unit in readers:
        assert c.workload(status, unit) == {"current": "active", "message": "password=pw-2"}
        changed = [e for e in rec.since(mark, unit) if e.name == "secret-changed"]
        assert len(changed) == 1, c.describe(rec.since(mark, unit))
        env = changed[0].env
        assert env["JUJU_SECRET_ID"] == f"secret:{secret_id}", env
        assert env["JUJU_SECRET_LABEL"] == "vault"
        assert "JUJU_SECRET_REVISION" not in env
        assert changed[0].data == {"label": "vault", "content": {"password": "pw-2"}}
    removes = [e for e in rec.since(mark, f"{OWNER}/0") if e.name == "secret-remove"]
    assert [e.env.get("JUJU_SECRET_REVISION") for e in removes] == ["1"], c.describe(removes)
    assert removes[0].data == {"removed": 1}

    # -- Bad input on a reader that does not lead: Juju's errors, and nothing stored.
    follower = next(u for u in readers if u != c.leader_of(status, READER))
    code, task = c.run_action(rune, follower, "probe", f"missing=secret:{MISSING}")
    assert (code, task["status"]) == (0, "completed"), task
    results = task["results"]
    assert results["get"] == "SecretNotFoundError", results
    assert results["tool-code"] == "1", results
    assert results["tool-stderr"] == f'ERROR secret "{MISSING}" not found', results
    assert results["add"] == "ERROR this unit is not the leader", results
    assert results["ids"] == "[]", results
    c.settle(rune)
    status = rune.status()
    for unit in readers:
        assert c.workload(status, unit) == {"current": "active", "message": "password=pw-2"}
    listed = secrets(rune)
    assert list(listed) == [secret_id], listed  # the probe stored nothing
    charm_secret = listed[secret_id]
    assert (charm_secret["owner"], charm_secret["label"], charm_secret["revision"]) == (
        OWNER,
        "shared",
        2,
    )
    assert charm_secret["description"] == "shared password"

    # -- User secrets through the CLI; a charm reads one it was granted, via a `secret`
    # config option holding its URI.
    check_user_secrets(rune, rec, readers, model=status["model"]["name"])


def secrets(rune: Rune) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(rune("secrets", "--format", "json").stdout)
    return document


def check_user_secrets(rune: Rune, rec: c.Recorder, readers: list[str], *, model: str) -> None:
    added = rune("add-secret", "api-token", "token=abc", "--info", "for the reader")
    uri = added.stdout.strip()
    assert uri.startswith("secret:") and len(bare(uri)) == 20, added.stdout
    user = secrets(rune)[bare(uri)]
    assert (user["owner"], user["name"], user["description"], user["revision"]) == (
        "<model>",
        "api-token",
        "for the reader",
        1,
    )
    assert "content" not in user
    table = rune("secrets").stdout
    assert bare(uri) in table and "api-token" in table and "<model>" in table, table
    shown = json.loads(rune("show-secret", "api-token", "--reveal", "--format", "json").stdout)
    assert shown[bare(uri)]["content"] == {"Data": {"token": "abc"}}, shown
    assert shown[bare(uri)]["checksum"]

    mark = rec.mark()
    rune("grant-secret", "api-token", READER)
    rune("config", READER, f"user-secret={uri}")
    c.settle(rune)
    for unit in readers:
        configured = [e for e in rec.since(mark, unit) if e.name == "config-changed"]
        assert configured and configured[-1].data, c.describe(rec.since(mark, unit))
        assert configured[-1].data.get("user-secret") == {"token": "abc"}, configured[-1].data

    # A new revision reaches the readers as secret-changed (they track revision 1; no label,
    # which ops shows as None).
    mark = rec.mark()
    rune("update-secret", uri, "token=def")
    c.settle(rune)
    for unit in readers:
        changed = [e for e in rec.since(mark, unit) if e.name == "secret-changed"]
        assert [e.data for e in changed] == [{"label": None, "content": {"token": "def"}}], (
            c.describe(rec.since(mark, unit))
        )
    shown = json.loads(rune("show-secret", "api-token", "--revisions", "--format", "json").stdout)
    revisions = shown[bare(uri)]
    assert revisions["revision"] == 2
    assert [r["revision"] for r in revisions["revisions"]] == [1, 2]
    assert [(a["target"], a["role"]) for a in revisions["access"]] == [
        (f"application-{READER}", "view")
    ]
    rune("revoke-secret", "api-token", READER)
    assert "access" not in secrets(rune)[bare(uri)]

    # Bad input: clear errors, non-zero exit, nothing changed.
    for args, message in [
        (("add-secret", "empty"), "missing secret value"),
        (("add-secret", "bad", "Key=1"), 'secret key "Key" not valid'),
        (("add-secret", "api-token", "token=x"), 'secret with name "api-token" already exists'),
        (("grant-secret", "nope", READER), 'secret "nope" not found'),
        (("grant-secret", "api-token", "no-such-app"), 'application "no-such-app" not found'),
        (("update-secret", "api-token"), "nothing to update"),
        (("show-secret", "api-token", "--reveal", "--revision", "9"), "not found"),
    ]:
        result = rune(*args, check=False)
        assert result.returncode != 0, (args, result.stdout)
        assert message in result.stderr, (args, result.stderr)
    after = secrets(rune)
    assert len(after) == 2, after
    assert after[bare(uri)]["revision"] == 2 and "access" not in after[bare(uri)]

    rune("remove-secret", "api-token")
    assert bare(uri) not in secrets(rune)
    result = rune("show-secret", uri, check=False)
    assert result.returncode != 0 and "not found" in result.stderr
