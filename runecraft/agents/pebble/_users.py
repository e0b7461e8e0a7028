"""Users and groups as Pebble resolves them for files and exec (its NormalizeUidGid).

Names are looked up in this host's user database: the agent runs inside the workload's
container on Kubernetes, so that database is the container's.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass

__all__ = ["Account", "home_and_name", "normalize_uid_gid"]


@dataclass(frozen=True)
class Account:
    """Who a file or process should belong to, as requested (by id and/or name)."""

    user_id: int | None = None
    user: str = ""
    group_id: int | None = None
    group: str = ""


def normalize_uid_gid(account: Account) -> tuple[int | None, int | None]:
    """The uid and gid to use, or (None, None) when nothing was asked.

    A user alone means that user's primary group; a group alone is an error; a name and
    an id given together must agree. ValueError carries Pebble's message.
    """
    uid, gid = account.user_id, account.group_id
    if uid is None and gid is None and not account.user and not account.group:
        return None, None
    if account.user:
        try:
            found = pwd.getpwnam(account.user).pw_uid
        except KeyError:
            raise ValueError(f"user: unknown user {account.user}") from None
        if uid is not None and uid != found:
            raise ValueError(f'user "{account.user}" UID ({found}) does not match user-id ({uid})')
        uid = found
    if account.group:
        try:
            found = grp.getgrnam(account.group).gr_gid
        except KeyError:
            raise ValueError(f"group: unknown group {account.group}") from None
        if gid is not None and gid != found:
            raise ValueError(
                f'group "{account.group}" GID ({found}) does not match group-id ({gid})'
            )
        gid = found
    if uid is None:
        raise ValueError("must specify user, not just group")
    if gid is None:
        try:
            gid = pwd.getpwuid(uid).pw_gid
        except KeyError:
            raise ValueError(f"user: unknown userid {uid}") from None
    return uid, gid


def home_and_name(uid: int | None) -> tuple[str, str] | None:
    """HOME and USER for `uid` (the daemon's own when None), or None if unknown."""
    try:
        entry = pwd.getpwuid(os.getuid() if uid is None else uid)
    except KeyError:
        return None
    return entry.pw_dir, entry.pw_name
