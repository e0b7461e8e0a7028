"""Secret content sealed at rest: the SQLite file never holds it in plaintext, an older
database's plaintext is sealed at first start with the keyring file's key, rotation keeps
every secret readable, and a database without its keyring is refused with a clear error."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import stat
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.state import KEY_FILE, Keyring, Store
from runecraft.controller.state._upgrade import migrate
from runecraft.schemas import secrets as sec

from .test_relations import REGULAR, commit, integrated, make_world
from .test_secrets_state import SID, op, views

MODEL_UUID = "00000000-0000-0000-0000-00000000000a"


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _database_bytes(directory: Path) -> bytes:
    """The database file and whatever SQLite keeps beside it (WAL, journal)."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob("state.db*")))


async def test_the_database_file_holds_no_plaintext_secret_content(tmp_path: Path) -> None:
    first, second = f"first-{uuid.uuid4().hex}", f"second-{uuid.uuid4().hex}"
    keyring = Keyring.load_or_create(tmp_path / KEY_FILE)
    store = await Store.open(_url(tmp_path / "state.db"), keyring)
    try:
        hub = services.ChangeHub()
        await services.ModelService(store, hub).add_model("m")
        secrets = services.SecretService(store, hub)
        uri = await secrets.add(
            "m", sec.AddSecretRequest(name="db-pass", content={"password": first})
        )
        await secrets.update("m", uri, sec.UpdateSecretRequest(content={"password": second}))
        shown = await secrets.show("m", "db-pass", reveal=True, revision=1)
        assert shown[sec.parse_secret_uri(uri)]["content"] == {"Data": {"password": first}}
    finally:
        await store.close()
    stored = _database_bytes(tmp_path)
    assert b"db-pass" in stored  # the file is readable: names are not secret
    assert first.encode() not in stored
    assert second.encode() not in stored
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


async def _put_plaintext_secret(url: str, content: dict[str, str]) -> None:
    """A model with one user secret, as revision 0002's tables hold it (plaintext)."""
    engine = create_async_engine(url)
    now = time.time()
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO models (uuid, name, cloud, revision, next_machine, "
                    "next_relation, next_action, config, life, created, constraints, type) "
                    "VALUES (:u, 'm', 'local', 1, 0, 0, 0, '{}', 'alive', :now, '{}', 'iaas')"
                ),
                {"u": MODEL_UUID, "now": now},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO secrets (model_uuid, id, owner_kind, owner, name, label, "
                    "description, rotate, revision, created, updated) "
                    "VALUES (:u, :id, 'model', 'm', 'old', '', '', '', 1, :now, :now)"
                ),
                {"u": MODEL_UUID, "id": SID, "now": now},
            )
            table = sa.table(
                "secret_revisions",
                sa.column("model_uuid"),
                sa.column("secret_id"),
                sa.column("revision"),
                sa.column("content", sa.JSON),
                sa.column("created"),
            )
            await conn.execute(
                sa.insert(table).values(
                    model_uuid=MODEL_UUID, secret_id=SID, revision=1, content=content, created=now
                )
            )
    finally:
        await engine.dispose()


async def test_plaintext_content_of_an_older_database_is_sealed_at_first_start(
    tmp_path: Path,
) -> None:
    url, value = _url(tmp_path / "state.db"), f"legacy-{uuid.uuid4().hex}"
    await migrate(url, "0002")
    await _put_plaintext_secret(url, {"token": value})
    assert value.encode() in _database_bytes(tmp_path)

    # Without a keyring the upgrade is refused before anything changes.
    with pytest.raises(errors.PermanentError, match="needs the controller's secret keyring"):
        await migrate(url)
    assert value.encode() in _database_bytes(tmp_path)

    keyring = Keyring.load_or_create(tmp_path / "keys" / KEY_FILE)
    store = await Store.open(url, keyring)
    try:
        (revision,) = (await store.snapshot()).secrets.revisions
        assert revision.content == {"token": value}
        async with store.engine.connect() as conn:
            key_ids = (await conn.execute(sa.text("SELECT key_id FROM secret_revisions"))).all()
        assert key_ids == [(keyring.current,)]
    finally:
        await store.close()
    assert value.encode() not in _database_bytes(tmp_path)
    # The key itself is only in the keyring file, never in the database.
    document = json.loads((tmp_path / "keys" / KEY_FILE).read_text())
    key = base64.b64decode(document["keys"][keyring.current])
    assert key not in _database_bytes(tmp_path)
    assert base64.b64encode(key) not in _database_bytes(tmp_path)
    reopened = await Store.open(url, Keyring.load(tmp_path / "keys" / KEY_FILE))
    try:
        (revision,) = (await reopened.snapshot()).secrets.revisions
        assert revision.content == {"token": value}
    finally:
        await reopened.close()


async def test_rotation_reseals_every_secret_and_keeps_it_readable_by_owner_and_grantees(
    tmp_path: Path,
) -> None:
    path = tmp_path / KEY_FILE
    store = await Store.open(_url(tmp_path / "state.db"), Keyring.load_or_create(path))
    try:
        world = await make_world(store)
        await integrated(world)
        await world.send(
            0,
            commit(
                "db/0",
                1,
                secrets=(
                    op("add", owner="application", content={"password": "one"}),
                    op("grant", relation_id=REGULAR, app="web"),
                ),
            ),
        )
        await world.send(0, commit("db/0", 2, secrets=(op("set", content={"password": "two"}),)))
        user = services.SecretService(store, world.hub)
        uri = await user.add("m", sec.AddSecretRequest(name="api", content={"key": "k1"}))
        await user.grant("m", uri, ["web"])
        before = await views(world)
        listed = await user.list("m", reveal=True)
        old = store.keyring.current

        rotation = await user.rotate_key()

        assert rotation.retired == [old]
        assert rotation.resealed == 3  # two revisions of the charm secret, one user secret
        assert store.keyring.key_ids == [rotation.key] == Keyring.load(path).key_ids
        async with store.engine.connect() as conn:
            used = await conn.execute(sa.text("SELECT DISTINCT key_id FROM secret_revisions"))
            assert used.all() == [(rotation.key,)]
        after = await views(world)
        assert after == before
        assert after["web/0"][SID].content == {"password": "two"}
        assert after["db/0"][SID].content == {"password": "two"}
        assert await user.list("m", reveal=True) == listed
        # New content is sealed under the new key.
        await user.update("m", "api", sec.UpdateSecretRequest(content={"key": "k2"}))
        shown = await user.show("m", "api", reveal=True)
        assert shown[sec.parse_secret_uri(uri)]["content"] == {"Data": {"key": "k2"}}
    finally:
        await store.close()
    # The rotated keyring file opens the database again.
    again = await Store.open(_url(tmp_path / "state.db"), Keyring.load(path))
    await again.close()


async def test_a_database_copied_without_its_keyring_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    store = await Store.open(
        _url(tmp_path / "a" / "state.db"), Keyring.load_or_create(tmp_path / "a" / KEY_FILE)
    )
    try:
        hub = services.ChangeHub()
        await services.ModelService(store, hub).add_model("m")
        await services.SecretService(store, hub).add(
            "m", sec.AddSecretRequest(name="s", content={"key": "v"})
        )
        key_id = store.keyring.current
    finally:
        await store.close()
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / "state.db", tmp_path / "b" / "state.db")

    other = Keyring.load_or_create(tmp_path / "b" / KEY_FILE)  # a fresh keyring: no old key
    with pytest.raises(errors.PermanentError, match=f"{key_id}.*does not hold") as refused:
        await Store.open(_url(tmp_path / "b" / "state.db"), other)
    assert str(tmp_path / "b" / KEY_FILE) in refused.value.message

    # Content read with the wrong key is a clear error too, never a crash or garbage.
    sealed = Keyring.load(tmp_path / "a" / KEY_FILE).seal({"key": "v"}, "secret x/y/1")
    with pytest.raises(errors.PermanentError, match="does not hold"):
        other.open(sealed, "secret x/y/1")
    forged = Keyring({key_id: b"\0" * 32}, key_id)
    with pytest.raises(errors.PermanentError, match="cannot be unsealed"):
        forged.open(sealed, "secret x/y/1")
    with pytest.raises(errors.PermanentError, match="cannot be unsealed"):
        Keyring.load(tmp_path / "a" / KEY_FILE).open(sealed, "secret x/y/2")  # another row


def test_an_unreadable_keyring_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text("{not json")
    with pytest.raises(errors.PermanentError, match="cannot read the secret keyring"):
        Keyring.load(path)


async def test_two_rotations_at_once_take_turns_and_leave_one_key(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    store = await Store.open(_url(tmp_path / "state.db"), Keyring.load_or_create(path))
    try:
        world = await make_world(store)
        user = services.SecretService(store, world.hub)
        await user.add("m", sec.AddSecretRequest(name="api", content={"key": "k1"}))

        first, second = await asyncio.gather(user.rotate_key(), user.rotate_key())

        assert store.keyring.key_ids == [second.key] == Keyring.load(path).key_ids
        assert first.retired != second.retired and first.key in second.retired
        shown = await user.show("m", "api", reveal=True)
        assert [doc["content"] for doc in shown.values()] == [{"Data": {"key": "k1"}}]
    finally:
        await store.close()
