"""The files API of a real `rune-pebble run`, driven by ops' own client: push and pull
(10 MB, binary, per-path errors), list (404 for a missing path is `exists()`), make-dirs,
remove, ownership and modes, and paths kept inside the container root."""

from __future__ import annotations

import grp
import io
import json
import os
import pwd
import stat
from collections.abc import Iterator
from pathlib import Path

import ops.pebble
import pytest

from tests.component._pebble import Agent, running_agent


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    root = tmp_path / "root"
    root.mkdir()
    with running_agent(root) as running:
        yield running


def exists(client: ops.pebble.Client, path: str) -> bool:
    """`Container.exists()` as ops does it: list the path itself, 404 means missing."""
    try:
        client.list_files(path, itself=True)
    except ops.pebble.APIError as exc:
        if exc.code == 404:
            return False
        raise
    return True


def test_a_10_mb_push_and_pull_round_trip_under_the_root(agent: Agent) -> None:
    client = agent.client(timeout=60)
    content = os.urandom(10 * 1024 * 1024)
    client.push("/srv/data/blob.bin", io.BytesIO(content), make_dirs=True, encoding=None)
    on_host = agent.root / "srv" / "data" / "blob.bin"
    assert on_host.read_bytes() == content
    assert stat.S_IMODE(on_host.stat().st_mode) == 0o644
    assert stat.S_IMODE(on_host.parent.stat().st_mode) == 0o755
    assert client.pull("/srv/data/blob.bin", encoding=None).read() == content


def test_push_sets_permissions_and_replaces_atomically(agent: Agent) -> None:
    client = agent.client()
    client.push("/etc/app.conf", "one", make_dirs=True, permissions=0o600)
    client.push("/etc/app.conf", "two\u00e9", permissions=0o640)
    info = client.list_files("/etc/app.conf")[0]
    assert (info.type, info.size, info.permissions) == (ops.pebble.FileType.FILE, 5, 0o640)
    assert client.pull("/etc/app.conf").read() == "two\u00e9"
    assert sorted(p.name for p in (agent.root / "etc").iterdir()) == ["app.conf"]


def test_push_owner_by_name_and_the_ownership_rules(agent: Agent) -> None:
    client = agent.client()
    me = pwd.getpwuid(os.getuid())
    client.push("/owned", "x", user=me.pw_name)
    info = client.list_files("/owned")[0]
    assert (info.user_id, info.user, info.group_id) == (me.pw_uid, me.pw_name, me.pw_gid)
    assert info.group == grp.getgrgid(me.pw_gid).gr_name
    with pytest.raises(ops.pebble.PathError, match="must specify user, not just group"):
        client.push("/group-only", "x", group=grp.getgrgid(me.pw_gid).gr_name)
    with pytest.raises(ops.pebble.PathError, match=r"does not match user-id"):
        client.push("/mismatch", "x", user=me.pw_name, user_id=me.pw_uid + 1)
    with pytest.raises(ops.pebble.PathError, match="unknown user no-such-user-here"):
        client.push("/nobody-known", "x", user="no-such-user-here")
    assert not exists(client, "/group-only") and not exists(client, "/mismatch")


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file away needs root")
def test_push_and_make_dir_chown_to_another_user(agent: Agent) -> None:
    client = agent.client()
    nobody = pwd.getpwnam("nobody")
    client.push("/home/n/file", "x", make_dirs=True, user_id=nobody.pw_uid)
    client.make_dir("/home/n/sub", user="nobody")
    for path in ("/home/n", "/home/n/file", "/home/n/sub"):
        host = agent.root / path.lstrip("/")
        assert (host.stat().st_uid, host.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid)


def test_pull_errors_are_per_path(agent: Agent) -> None:
    client = agent.client()
    client.make_dir("/dir")
    with pytest.raises(ops.pebble.PathError) as missing:
        client.pull("/missing")
    assert (missing.value.kind, missing.value.message) == (
        "not-found",
        "stat /missing: no such file or directory",
    )
    with pytest.raises(ops.pebble.PathError) as directory:
        client.pull("/dir")
    assert directory.value.kind == "generic-file-error"
    assert directory.value.message == 'can only read a regular file: "/dir"'
    with pytest.raises(ops.pebble.PathError, match='paths must be absolute, got "rel"'):
        client.pull("rel")


def test_list_exists_and_isdir(agent: Agent) -> None:
    client = agent.client()
    client.push("/d/a.txt", "a", make_dirs=True)
    client.push("/d/b.log", "bb")
    client.make_dir("/d/sub")
    (agent.root / "d" / "link").symlink_to("a.txt")
    entries = {f.name: f for f in client.list_files("/d")}
    assert sorted(entries) == ["a.txt", "b.log", "link", "sub"]
    assert entries["sub"].type == ops.pebble.FileType.DIRECTORY
    assert entries["link"].type == ops.pebble.FileType.SYMLINK
    assert entries["b.log"].size == 2 and entries["b.log"].path == "/d/b.log"
    assert [f.name for f in client.list_files("/d", pattern="*.txt")] == ["a.txt"]
    assert [f.name for f in client.list_files("/d", pattern="[^ab]*")] == ["link", "sub"]
    itself = client.list_files("/d", itself=True)
    assert [(f.path, f.type) for f in itself] == [("/d", ops.pebble.FileType.DIRECTORY)]
    assert exists(client, "/d/a.txt") and not exists(client, "/d/nope")
    with pytest.raises(ops.pebble.APIError) as missing:
        client.list_files("/nope")
    assert (missing.value.code, missing.value.message) == (
        404,
        "stat /nope: no such file or directory",
    )
    assert client.list_files("/d/sub") == []


def test_make_dir_and_remove(agent: Agent) -> None:
    client = agent.client()
    client.make_dir("/a/b/c", make_parents=True, permissions=0o700)
    assert stat.S_IMODE((agent.root / "a/b/c").stat().st_mode) == 0o700
    client.make_dir("/a/b/c", make_parents=True)
    with pytest.raises(ops.pebble.PathError, match="mkdir /a/b/c: file exists"):
        client.make_dir("/a/b/c")
    with pytest.raises(ops.pebble.PathError) as no_parent:
        client.make_dir("/x/y")
    assert no_parent.value.kind == "not-found"
    client.push("/a/file", "f")
    with pytest.raises(ops.pebble.PathError, match="not a directory"):
        client.make_dir("/a/file", make_parents=True)
    with pytest.raises(ops.pebble.PathError, match="remove /a: directory not empty"):
        client.remove_path("/a")
    client.remove_path("/a", recursive=True)
    client.remove_path("/a", recursive=True)
    assert not (agent.root / "a").exists()
    with pytest.raises(ops.pebble.PathError) as gone:
        client.remove_path("/a")
    assert (gone.value.kind, gone.value.message) == (
        "not-found",
        "remove /a: no such file or directory",
    )


def test_paths_cannot_leave_the_container_root(agent: Agent, tmp_path: Path) -> None:
    client = agent.client()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    (agent.root / "escape").symlink_to(outside)
    climbing = "/../" + "/".join([".."] * 10) + str(outside / "secret")
    for path in (climbing, "/escape/secret"):
        with pytest.raises(ops.pebble.PathError) as refused:
            client.pull(path)
        assert refused.value.kind == "permission-denied"
        assert "outside the container root" in refused.value.message
    with pytest.raises(ops.pebble.PathError, match="outside the container root"):
        client.push("/escape/planted", "x")
    with pytest.raises(ops.pebble.PathError, match="outside the container root"):
        client.remove_path("/escape/secret")
    with pytest.raises(ops.pebble.PathError, match="outside the container root"):
        client.make_dir("/escape/newdir")
    with pytest.raises(ops.pebble.APIError) as listing:
        client.list_files("/escape")
    assert listing.value.code == 403
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "host secret"
    client.remove_path("/escape")  # the link itself is inside the root
    assert not (agent.root / "escape").exists() and (outside / "secret").exists()


def test_make_dir_never_follows_a_name_planted_beside_it(agent: Agent, tmp_path: Path) -> None:
    """A workload may plant anything in the root; making a directory must not chmod or
    chown through it, nor leave a link out of the root in the directory's place."""
    outside = tmp_path / "planted-target"
    outside.mkdir(mode=0o700)
    for suffix in (".mkdir-new", ".tmp", ".new"):
        (agent.root / f"d{suffix}").symlink_to(outside)
    agent.client().make_dir("/d", permissions=0o777)
    made = agent.root / "d"
    assert made.is_dir() and not made.is_symlink()
    assert stat.S_IMODE(made.stat().st_mode) == 0o777
    assert stat.S_IMODE(outside.stat().st_mode) == 0o700


def test_a_bad_push_changes_nothing(agent: Agent) -> None:
    client = agent.client()
    client.push("/keep", "kept")
    for content_type, body, message in (
        ('multipart/form-data; boundary="short"', b"", 'invalid boundary "short"'),
        ("text/plain", b"x", 'invalid media type "text/plain"'),
        ("application/json", b'{"action": "write"}', 'must use multipart with "write" action'),
        ("application/json", b'{"action": "chmod"}', 'invalid action "chmod"'),
        ("application/json", b"{not json", "cannot decode request body"),
    ):
        with pytest.raises(ops.pebble.APIError) as refused:
            client._request_raw(
                "POST", "/v1/files", headers={"Content-Type": content_type}, data=body
            )
        assert refused.value.code == 400
        assert message in refused.value.message
    boundary = "b" * 40
    orphan = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="request"\r\n\r\n'
        '{"action": "write", "files": [{"path": "/keep"}]}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="/other"\r\n'
        f"\r\nnew\r\n--{boundary}--\r\n"
    ).encode()
    with pytest.raises(ops.pebble.APIError, match='no metadata for path "/other"'):
        client._request_raw(
            "POST",
            "/v1/files",
            headers={"Content-Type": f'multipart/form-data; boundary="{boundary}"'},
            data=orphan,
        )
    assert client.pull("/keep").read() == "kept"
    assert not exists(client, "/other")


def test_push_metadata_without_content_is_a_per_file_error(agent: Agent) -> None:
    client = agent.client()
    boundary = "c" * 32
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="request"\r\n\r\n'
        '{"action": "write", "files": [{"path": "/a"}, {"path": "/b"}]}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="/a"\r\n'
        f"\r\nA\r\n--{boundary}--\r\n"
    ).encode()
    response = client._request_raw(
        "POST",
        "/v1/files",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        data=body,
    )
    result = json.loads(response.read())["result"]
    assert result == [
        {"path": "/a"},
        {
            "path": "/b",
            "error": {"message": 'no file content for path "/b"', "kind": "generic-file-error"},
        },
    ]
    assert client.pull("/a").read() == "A"
