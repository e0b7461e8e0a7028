"""Secret hook tools through the real client: secret-add/get/set/info-get/ids/grant/revoke/
remove, their buffering into the commit, and Juju's errors (charm-contract §4.3)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runecraft.agents import _relations
from runecraft.schemas import bus
from runecraft.schemas import secrets as sec

from .test_hook_tools import Harness, make_harness, remote

OWNED = "c0ffee00000000000001"
GRANTED = "c0ffee00000000000002"
DB = bus.RelationRemote(
    id=1,
    endpoint="db",
    interface="mysql",
    role="requirer",
    remote_application="mysql",
    units={"mysql/0": 1},
)
STATES = {1: _relations.RelationState(id=1, endpoint="db", remote_app="mysql")}
SECRETS = (
    sec.SecretRemote(
        id=OWNED,
        owner="application",
        owned=True,
        manage=True,
        label="mine",
        revision=2,
        content={"password": "two"},
        tracked=2,
        access=(sec.SecretAccess(target="application-mysql", scope="relation-1"),),
    ),
    sec.SecretRemote(
        id=GRANTED,
        owner="application",
        label="theirs",
        revision=3,
        content={"token": "three"},
        tracked=1,
        tracked_content={"token": "one"},
    ),
)


def harness_for(tmp_path: Path, *, leader: bool, **changes: Any) -> AsyncIterator[Harness]:
    state = remote(leader=leader, relations=(DB,), secrets=SECRETS, **changes)
    return make_harness(tmp_path, leader=leader, state=state, relations=STATES)


@pytest.fixture
async def leader(tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in harness_for(tmp_path, leader=True):
        yield harness


@pytest.fixture
async def follower(tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in harness_for(tmp_path, leader=False):
        yield harness


def ops(harness: Harness) -> list[dict[str, Any]]:
    return [op.model_dump(exclude_none=True) for op in harness.ctx.commit_parts().secrets]


async def test_add_then_get_in_the_same_hook(leader: Harness, tmp_path: Path) -> None:
    (tmp_path / "cert").write_text("PEM\ndata")
    code, out, err = await leader.run(
        "secret-add",
        "--label",
        "db-pass",
        "--owner",
        "application",
        "user=admin",
        f"blob#base64={base64.b64encode(b'bytes!').decode()}",
        f"cert#file={tmp_path / 'cert'}",
    )
    assert (code, err) == (0, "")
    uri = out.strip()
    assert re.fullmatch(r"secret:[0-9a-v]{20}", uri)
    content = {"user": "admin", "blob": "bytes!", "cert": "PEM\ndata"}
    assert await leader.json("secret-get", uri) == content
    assert await leader.json("secret-get", "--label", "db-pass") == content
    assert await leader.run("secret-get", uri, "user") == (0, "admin\n", "")
    info = await leader.json("secret-info-get", "--label", "db-pass")
    assert info == {
        uri[len("secret:") :]: {
            "revision": 1,
            "label": "db-pass",
            "owner": "application",
            "rotation": "never",
        }
    }
    assert ops(leader) == [
        {
            "op": "add",
            "id": uri[len("secret:") :],
            "owner": "application",
            "label": "db-pass",
            "content": content,
        }
    ]


async def test_get_default_format_is_yaml_and_owner_sees_latest(leader: Harness) -> None:
    assert await leader.run("secret-get", f"secret:{OWNED}") == (0, "password: two\n", "")
    # ops' canonical URI form with the model uuid works too.
    assert await leader.json("secret-get", f"secret://some-model/{OWNED}") == {"password": "two"}
    assert ops(leader) == []


async def test_consumer_tracks_peeks_and_refreshes(follower: Harness) -> None:
    uri = f"secret:{GRANTED}"
    assert await follower.json("secret-get", uri) == {"token": "one"}
    assert await follower.json("secret-get", uri, "--peek") == {"token": "three"}
    assert await follower.json("secret-get", uri) == {"token": "one"}
    assert ops(follower) == []
    assert await follower.json("secret-get", uri, "--refresh", "--label", "tok") == {
        "token": "three"
    }
    assert await follower.json("secret-get", "--label", "tok") == {"token": "three"}
    assert ops(follower) == [
        {"op": "track", "id": GRANTED, "label": "tok"},
        {"op": "track", "id": GRANTED, "revision": 3},
    ]


async def test_unknown_or_invalid_secret(follower: Harness) -> None:
    missing = "c0ffee0000000000000f"
    assert await follower.run("secret-get", f"secret:{missing}") == (
        1,
        "",
        f'ERROR secret "{missing}" not found\n',
    )
    code, _, err = await follower.run("secret-get", "--label", "nope")
    assert code == 1 and "not found" in err
    assert await follower.run("secret-get", "secret:bogus") == (
        2,
        "",
        'ERROR secret URI "secret:bogus" not valid\n',
    )
    assert await follower.run("secret-get", f"secret:{GRANTED}", "--peek", "--refresh") == (
        2,
        "",
        "ERROR specify one of --peek or --refresh but not both\n",
    )
    # Consumers may not read the owner's metadata.
    code, _, err = await follower.run("secret-info-get", f"secret:{GRANTED}")
    assert code == 1 and "not found" in err
    assert ops(follower) == []


async def test_non_leader_cannot_add_or_change_app_secrets(follower: Harness) -> None:
    assert await follower.run("secret-add", "a-key=v") == (
        1,
        "",
        "ERROR this unit is not the leader\n",
    )
    assert await follower.run("secret-set", f"secret:{OWNED}", "password=x") == (
        1,
        "",
        "ERROR this unit is not the leader\n",
    )
    assert await follower.run("secret-grant", "-r", "1", f"secret:{OWNED}") == (
        1,
        "",
        "ERROR this unit is not the leader\n",
    )
    assert await follower.run("secret-remove", f"secret:{OWNED}") == (
        1,
        "",
        "ERROR this unit is not the leader\n",
    )
    # A unit-owned secret needs no leadership.
    code, out, _ = await follower.run("secret-add", "--owner", "unit", "a-key=v")
    assert code == 0
    assert ops(follower) == [
        {
            "op": "add",
            "id": out.strip()[len("secret:") :],
            "owner": "unit",
            "content": {"a-key": "v"},
        }
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "missing secret value"),
        (["novalue"], 'key value "novalue" not valid'),
        (["Bad=1"], 'secret key "Bad" not valid'),
        (["ab=1"], 'secret key "ab" not valid'),
        (["key#base64=!!"], 'invalid base64 value for key "key"'),
        (["key=1", "--rotate", "often"], 'invalid secret rotate policy "often"'),
        (["key=1", "--expire", "soon"], 'invalid expire value "soon"'),
        (["key=1", "--owner", "model"], 'secret owner "model" not valid'),
        (["key=1", "--label", "mine"], 'secret with label "mine" already exists'),
    ],
)
async def test_add_refuses_bad_input(leader: Harness, args: list[str], message: str) -> None:
    code, out, err = await leader.run("secret-add", *args)
    assert code in (1, 2) and out == ""
    assert err.startswith(f"ERROR {message}"), err
    assert ops(leader) == []


async def test_set_makes_a_revision_only_for_new_content(leader: Harness) -> None:
    uri = f"secret:{OWNED}"
    assert await leader.run("secret-set", uri, "password=two") == (0, "", "")
    assert (await leader.json("secret-info-get", uri))[OWNED]["revision"] == 2
    assert await leader.run("secret-set", uri, "password=three", "--description", "d") == (
        0,
        "",
        "",
    )
    info = (await leader.json("secret-info-get", uri))[OWNED]
    assert (info["revision"], info["description"]) == (3, "d")
    assert await leader.json("secret-get", uri) == {"password": "three"}
    assert [op["op"] for op in ops(leader)] == ["set", "set"]


async def test_grant_revoke_remove_are_buffered(leader: Harness) -> None:
    uri = f"secret:{OWNED}"
    assert await leader.run("secret-grant", "--relation", "db:1", uri) == (0, "", "")
    assert await leader.run("secret-grant", "-r", "1", "--unit", "mysql/0", uri) == (0, "", "")
    code, _, err = await leader.run("secret-grant", "-r", "7", uri)
    assert code == 2 and "relation not found" in err
    code, _, err = await leader.run("secret-grant", "-r", "1", "--unit", "other/0", uri)
    assert code == 2 and 'unit "other/0" is not in relation db:1' in err
    assert await leader.run("secret-revoke", "--relation", "1", "--unit", "mysql/0", uri) == (
        0,
        "",
        "",
    )
    assert await leader.run("secret-remove", uri, "--revision", "1") == (0, "", "")
    code, _, err = await leader.run("secret-remove", uri, "--revision", "9")
    assert code == 1 and "not found" in err
    assert await leader.json("secret-ids") == [OWNED]
    assert ops(leader) == [
        {"op": "grant", "id": OWNED, "relation_id": 1, "app": "mysql"},
        {"op": "grant", "id": OWNED, "relation_id": 1, "unit": "mysql/0"},
        {"op": "revoke", "id": OWNED, "relation_id": 1, "unit": "mysql/0"},
        {"op": "remove", "id": OWNED, "revision": 1},
    ]
    assert await leader.run("secret-remove", uri) == (0, "", "")
    code, _, err = await leader.run("secret-get", uri)
    assert (code, err) == (1, f'ERROR secret "{OWNED}" not found\n')


async def test_pending_commit_secrets_are_visible(tmp_path: Path) -> None:
    new = "c0ffee00000000000003"
    earlier = bus.HookCommit(
        unit="app/0",
        seq=1,
        hook="install",
        secrets=(
            sec.SecretOp(op="add", id=new, owner="unit", content={"k-1": "v"}),
            sec.SecretOp(op="set", id=OWNED, content={"password": "four"}),
        ),
    )
    state = remote(leader=True, relations=(DB,), secrets=SECRETS)
    async for harness in make_harness(
        tmp_path, leader=True, state=state, relations=STATES, pending=(earlier,)
    ):
        assert await harness.json("secret-get", f"secret:{new}") == {"k-1": "v"}
        assert await harness.json("secret-get", f"secret:{OWNED}") == {"password": "four"}
        info = await harness.json("secret-info-get", f"secret:{OWNED}")
        assert info[OWNED]["revision"] == 3
        assert json.loads(json.dumps(ops(harness))) == []
