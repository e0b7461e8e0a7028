"""The rules of a hook commit's secret ops, as tables: who may add, change, grant, revoke,
remove and read a secret, and what each op writes (docs/runtime-contract.md, "Secrets")."""

from __future__ import annotations

from typing import Any

import pytest

from runecraft import errors
from runecraft.controller.services import _hook_commit as hc
from runecraft.controller.services import _secret_rules as sr
from runecraft.controller.state import (
    SecretConsumerRecord,
    SecretGrantRecord,
    SecretRecord,
)
from runecraft.schemas import bus
from runecraft.schemas import secrets as sec
from tests.unit.test_hook_commit_rules import MODEL, NOW, OTHER, REL, app_record, unit_record

SID = "c0ffee00000000000001"
NEW = "c0ffee00000000000002"


def secret(**fields: Any) -> SecretRecord:
    values: dict[str, Any] = {
        "model_uuid": MODEL,
        "id": SID,
        "owner_kind": "application",
        "owner": "db",
        "name": None,
        "label": "",
        "description": "",
        "expire": None,
        "rotate": "",
        "rotates": None,
        "revision": 2,
        "created": 1.0,
        "updated": 1.0,
    }
    return SecretRecord(**{**values, **fields})


def grant(kind: str, subject: str, relation: int = REL) -> SecretGrantRecord:
    return SecretGrantRecord(MODEL, SID, kind, subject, relation)


def view(**fields: Any) -> sr.SecretView:
    grants = frozenset(fields.pop("grants", ()))
    consumer = fields.pop("consumer", None)
    return sr.SecretView(secret(**fields), {1: {"key": "one"}, 2: {"key": "two"}}, grants, consumer)


def op(kind: str, **fields: Any) -> sec.SecretOp:
    return sec.SecretOp(op=kind, id=fields.pop("id", SID), **fields)  # type: ignore[arg-type]


def run(
    stored: sr.SecretView | None, message: sec.SecretOp, *, unit: str = "db/0", leader: str = "db/0"
) -> tuple[sr.SecretView | None, list[sr.SecretWrite]]:
    """One op by `unit` of its application (db unless named), stored `stored`."""
    app = unit.partition("/")[0]
    return sr.secret_op(
        {SID: stored} if stored is not None else {},
        message,
        model_uuid=MODEL,
        unit=unit_record(unit),
        app=app_record(app, leader=leader if app == "db" else f"{app}/0"),
        relations={REL: frozenset({"db", "web"})},
        now=NOW,
    )


def added(**fields: Any) -> sr.InsertSecret:
    record = secret(id=NEW, revision=1, created=NOW, updated=NOW, **fields)
    return sr.InsertSecret(record, {"key": "v"})


ALLOWED = [
    pytest.param(
        None,
        op("add", id=NEW, content={"key": "v"}),
        {},
        [added()],
        id="the leader adds an application secret",
    ),
    pytest.param(
        None,
        op("add", id=NEW, owner="unit", content={"key": "v"}, label="l"),
        {"unit": "db/1"},
        [added(owner_kind="unit", owner="db/1", label="l")],
        id="any unit adds a unit secret",
    ),
    pytest.param(
        None,
        op("add", id=NEW, content={"key": "v"}, rotate="hourly"),
        {},
        [added(rotate="hourly", rotates=NOW + 3600)],
        id="a rotation policy schedules the first rotation",
    ),
    pytest.param(
        view(),
        op("set", content={"key": "three"}),
        {},
        [
            sr.AddRevision(MODEL, SID, 3, {"key": "three"}, NOW),
            sr.UpdateSecret(MODEL, SID, {"revision": 3, "updated": NOW}),
        ],
        id="new content makes a revision",
    ),
    pytest.param(
        view(),
        op("set", content={"key": "two"}),
        {},
        [],
        id="content equal to the latest makes none",
    ),
    pytest.param(
        view(),
        op("set", content={"key": "one"}),
        {},
        [
            sr.AddRevision(MODEL, SID, 3, {"key": "one"}, NOW),
            sr.UpdateSecret(MODEL, SID, {"revision": 3, "updated": NOW}),
        ],
        id="content equal to an older revision makes one",
    ),
    pytest.param(
        view(),
        op("set", label="new", rotate="daily"),
        {},
        [
            sr.UpdateSecret(
                MODEL,
                SID,
                {"label": "new", "rotate": "daily", "rotates": NOW + 86400, "updated": NOW},
            )
        ],
        id="metadata only",
    ),
    pytest.param(
        view(owner_kind="unit", owner="db/1"),
        op("set", description="d"),
        {"unit": "db/1"},
        [sr.UpdateSecret(MODEL, SID, {"description": "d", "updated": NOW})],
        id="the owning unit manages its unit secret without leading",
    ),
    pytest.param(
        view(),
        op("grant", relation_id=REL, app="web"),
        {},
        [sr.AddGrant(grant("application", "web"))],
        id="grant to an application on the relation",
    ),
    pytest.param(
        view(),
        op("grant", relation_id=REL, unit="web/3"),
        {},
        [sr.AddGrant(grant("unit", "web/3"))],
        id="grant to a unit of an application on the relation",
    ),
    pytest.param(
        view(grants=[grant("application", "web")]),
        op("grant", relation_id=REL, app="web"),
        {},
        [],
        id="granting again changes nothing",
    ),
    pytest.param(
        view(grants=[grant("application", "web")]),
        op("revoke", relation_id=REL, app="web"),
        {},
        [sr.RevokeGrants(MODEL, SID, REL, "application", "web")],
        id="revoke from an application",
    ),
    pytest.param(
        view(),
        op("revoke", unit="web/3", app="web"),
        {},
        [sr.RevokeGrants(MODEL, SID, None, "unit", "web/3")],
        id="revoke from a unit (the unit wins over the application)",
    ),
    pytest.param(
        view(),
        op("revoke", relation_id=REL),
        {},
        [sr.RevokeGrants(MODEL, SID, REL, None, None)],
        id="revoke everyone on a relation",
    ),
    pytest.param(
        view(),
        op("remove", revision=1),
        {},
        [sr.RemoveRevision(MODEL, SID, 1)],
        id="remove one revision of several",
    ),
    pytest.param(
        sr.SecretView(secret(revision=1), {1: {"key": "one"}}),
        op("remove", revision=1),
        {},
        [sr.RemoveRevision(MODEL, SID, 1), sr.RemoveSecret(MODEL, SID)],
        id="the secret goes with its last revision",
    ),
    pytest.param(
        view(), op("remove"), {}, [sr.RemoveSecret(MODEL, SID)], id="remove the whole secret"
    ),
    pytest.param(
        view(rotate="hourly"),
        op("rotated"),
        {},
        [sr.UpdateSecret(MODEL, SID, {"rotate": "hourly", "rotates": NOW + 3600, "updated": NOW})],
        id="rotated schedules the next rotation",
    ),
    pytest.param(view(), op("rotated"), {}, [], id="rotated without a policy changes nothing"),
    pytest.param(
        view(grants=[grant("application", "web")]),
        op("track", revision=9, label="mine"),
        {"unit": "web/0"},
        [sr.SaveConsumer(SecretConsumerRecord(MODEL, SID, "web/0", 2, "mine"), new=True)],
        id="a grantee's first read tracks at most the latest revision",
    ),
    pytest.param(
        view(
            grants=[grant("unit", "web/0")],
            consumer=SecretConsumerRecord(MODEL, SID, "web/0", 1, "mine"),
        ),
        op("track", revision=2),
        {"unit": "web/0"},
        [sr.SaveConsumer(SecretConsumerRecord(MODEL, SID, "web/0", 2, "mine"), new=False)],
        id="a refresh keeps the label",
    ),
    pytest.param(
        view(),
        op("track", label="own"),
        {"unit": "db/1"},
        [sr.SaveConsumer(SecretConsumerRecord(MODEL, SID, "db/1", 0, "own"), new=True)],
        id="a unit of the owning application reads it",
    ),
]


@pytest.mark.parametrize(("stored", "message", "who", "expected"), ALLOWED)
def test_ops_that_hold(
    stored: sr.SecretView | None,
    message: sec.SecretOp,
    who: dict[str, str],
    expected: list[sr.SecretWrite],
) -> None:
    _, writes = run(stored, message, **who)
    assert writes == expected


REFUSED = [
    pytest.param(
        None,
        op("add", id=NEW, content={"key": "v"}),
        {"unit": "db/1"},
        errors.PermissionDeniedError,
        id="a non-leader adds an application secret",
    ),
    pytest.param(
        None,
        op("add", id="not-an-id", content={"key": "v"}),
        {},
        errors.InvalidSpecError,
        id="a malformed id",
    ),
    pytest.param(
        None,
        op("add", id=NEW, content={"k": "v"}),
        {},
        errors.InvalidSpecError,
        id="a malformed key",
    ),
    pytest.param(None, op("add", id=NEW), {}, errors.InvalidSpecError, id="no content"),
    pytest.param(
        view(),
        op("add", content={"key": "v"}),
        {},
        errors.ConflictError,
        id="an id already stored",
    ),
    pytest.param(None, op("set", label="x"), {}, errors.NotFoundError, id="an unknown secret"),
    pytest.param(
        view(),
        op("set", content={"key": "x"}),
        {"unit": "db/1"},
        errors.PermissionDeniedError,
        id="a non-leader of the owning application",
    ),
    pytest.param(
        view(),
        op("remove"),
        {"unit": "web/0"},
        errors.PermissionDeniedError,
        id="a unit of another application",
    ),
    pytest.param(
        view(owner_kind="unit", owner="db/1"),
        op("set", label="x"),
        {},
        errors.PermissionDeniedError,
        id="the leader does not manage another unit's secret",
    ),
    pytest.param(
        view(),
        op("set", content={"bad key": "x"}),
        {},
        errors.InvalidSpecError,
        id="set with malformed content",
    ),
    pytest.param(
        view(),
        op("grant", app="web"),
        {},
        errors.InvalidSpecError,
        id="a grant without a relation",
    ),
    pytest.param(
        view(),
        op("grant", relation_id=OTHER, app="web"),
        {},
        errors.NotFoundError,
        id="a grant on a relation the application is not on",
    ),
    pytest.param(
        view(),
        op("grant", relation_id=REL, app="cache"),
        {},
        errors.NotFoundError,
        id="a grantee not on the relation",
    ),
    pytest.param(
        view(),
        op("grant", relation_id=REL, app="db"),
        {},
        errors.NotFoundError,
        id="a grant to the owner's own application",
    ),
    pytest.param(
        view(),
        op("grant", relation_id=REL, app="web"),
        {"unit": "db/1"},
        errors.PermissionDeniedError,
        id="a grant by a non-leader",
    ),
    pytest.param(
        view(grants=[grant("application", "cache")]),
        op("track"),
        {"unit": "web/0"},
        errors.PermissionDeniedError,
        id="a read without a grant",
    ),
    pytest.param(
        view(owner_kind="unit", owner="db/1"),
        op("track"),
        {"unit": "db/0"},
        errors.PermissionDeniedError,
        id="another unit's unit secret, even by the leader",
    ),
]


@pytest.mark.parametrize(("stored", "message", "who", "error"), REFUSED)
def test_ops_that_do_not_hold(
    stored: sr.SecretView | None,
    message: sec.SecretOp,
    who: dict[str, str],
    error: type[errors.RunecraftError],
) -> None:
    with pytest.raises(error):
        run(stored, message, **who)


def test_each_op_sees_what_the_ones_before_it_did() -> None:
    """In one commit: add then grant holds; remove then set is refused, naming the op."""
    known = hc.CommitFacts(
        model_uuid=MODEL,
        unit=unit_record("db/0"),
        app=app_record(),
        relations={REL: frozenset({"db", "web"})},
        in_scope=frozenset(),
    )
    message = bus.HookCommit(
        unit="db/0",
        seq=1,
        hook="test",
        secrets=(
            op("add", id=SID, content={"key": "v"}),
            op("grant", relation_id=REL, app="web"),
            op("set", content={"key": "w"}),
            op("remove"),
            op("set", content={"key": "x"}),
        ),
    )
    result = hc.plan_commit(known, message, NOW)
    kinds = [type(w).__name__ for w in result.writes]
    assert kinds == [
        "InsertSecret",
        "AddGrant",
        "AddRevision",
        "UpdateSecret",
        "RemoveSecret",
        "UpdateUnit",
    ]
    [refusal] = result.refused
    assert refusal.field == "secrets[4]" and isinstance(refusal.error, errors.NotFoundError)


def test_revoke_and_remove_change_the_view_later_ops_see() -> None:
    stored = view(grants=[grant("application", "web"), grant("unit", "web/1", relation=OTHER)])
    after, _ = run(stored, op("revoke", relation_id=REL))
    assert after is not None and after.grants == {grant("unit", "web/1", relation=OTHER)}
    after, _ = run(stored, op("remove", revision=2))
    assert after is not None and set(after.contents) == {1}
    after, _ = run(stored, op("remove"))
    assert after is None
