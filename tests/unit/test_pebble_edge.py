"""The pure pieces of the Pebble agent's edge: header parameters, multipart bodies, Go's
glob patterns, the user rules and the mapping of container paths under the root."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from runecraft.agents.pebble import _api_files, _files, _gotext, _users


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('multipart/form-data; boundary="abc"', ("multipart/form-data", {"boundary": "abc"})),
        ("Multipart/Form-Data;boundary=abc ", ("multipart/form-data", {"boundary": "abc"})),
        (
            'form-data; name="files"; filename="/a \\"q\\" \\\\b"',
            ("form-data", {"name": "files", "filename": '/a "q" \\b'}),
        ),
        ("application/json", ("application/json", {})),
    ],
)
def test_header_parameters(header: str, expected: tuple[str, dict[str, str]]) -> None:
    assert _api_files.parse_header(header) == expected


@pytest.mark.parametrize("header", ["", 'x/y; a="unterminated', "x/y; novalue"])
def test_malformed_headers(header: str) -> None:
    with pytest.raises(ValueError):
        _api_files.parse_header(header)


def test_multipart_parts_keep_binary_content_whole() -> None:
    boundary = "B" * 32
    content = b"\r\n--" + b"B" * 31 + b"\r\n\x00\xff"  # looks like a boundary, is not
    body = (
        b"preamble\r\n--" + boundary.encode() + b"\r\nContent-Disposition: form-data; "
        b'name="request"\r\n\r\n{}\r\n--'
        + boundary.encode()
        + b"\r\n\r\n"
        + content
        + b"\r\n--"
        + boundary.encode()
        + b"--\r\n"
    )
    parts = list(_api_files._parts(body, boundary))
    assert parts == [
        ({"content-disposition": 'form-data; name="request"'}, b"{}"),
        ({}, content),
    ]
    with pytest.raises(ValueError, match="EOF"):
        list(_api_files._parts(body[:-40], boundary))


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("*.txt", ["a.txt"]),
        ("?.log", ["b.log"]),
        ("[^a]*", ["b.log", "c[1]"]),
        ("[a-b].*", ["a.txt", "b.log"]),
        ("c\\[1]", ["c[1]"]),
    ],
)
def test_go_glob(pattern: str, names: list[str]) -> None:
    matcher = _files._go_glob(pattern)
    assert [n for n in ("a.txt", "b.log", "c[1]") if matcher.fullmatch(n)] == names


@pytest.mark.parametrize("pattern", ["[", "[]", "a\\", "[a"])
def test_go_glob_rejects_bad_patterns(pattern: str) -> None:
    with pytest.raises(_files.FileError, match="syntax error in pattern"):
        _files._go_glob(pattern)


def test_container_paths_map_under_the_root(tmp_path: Path) -> None:
    root = _files.Root(tmp_path)
    real = os.path.realpath(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "inner").symlink_to("../d")
    (tmp_path / "out").symlink_to("/")
    assert root.host("/") == real
    assert root.host("/d/./x/../y") == f"{real}/d/y"
    assert root.host("/d/inner/f") == f"{real}/d/f"
    assert root.host("/out", follow=False) == f"{real}/out"
    for escaping in ("/..", "/d/../../etc", "/out/etc", "/out"):
        with pytest.raises(_files.FileError) as refused:
            root.host(escaping)
        assert refused.value.kind == "permission-denied"
    with pytest.raises(_files.FileError, match="paths must be absolute"):
        root.host("d")


def test_the_slash_root_leaves_paths_alone() -> None:
    assert _files.Root(Path("/")).host("/../etc/./x") == "/../etc/./x"


def test_owner_rules() -> None:
    me = pwd.getpwuid(os.getuid())
    account = _users.Account
    assert _users.normalize_uid_gid(account()) == (None, None)
    assert _users.normalize_uid_gid(account(user=me.pw_name)) == (me.pw_uid, me.pw_gid)
    assert _users.normalize_uid_gid(account(user_id=me.pw_uid, group_id=5)) == (me.pw_uid, 5)
    for bad, message in (
        (account(group_id=5), "must specify user, not just group"),
        (account(user=me.pw_name, user_id=me.pw_uid + 1), "does not match user-id"),
        (account(user="no-such-user-here"), "user: unknown user no-such-user-here"),
        (account(user_id=me.pw_uid, group="no-such-group-here"), "unknown group"),
    ):
        with pytest.raises(ValueError, match=message):
            _users.normalize_uid_gid(bad)


def test_go_quote() -> None:
    assert _gotext.go_quote('a "b" \\ c\n\x01\u200b') == '"a \\"b\\" \\\\ c\\n\\x01\\u200b"'
