"""The fork server compiles a charm's entrypoint once, not in every hook it forks."""

from __future__ import annotations

import os
from pathlib import Path

from runecraft.agents import _zygote


def _run(code: object) -> object:
    scope: dict[str, object] = {}
    exec(code, scope)  # type: ignore[call-overload]
    return scope["ANSWER"]


def test_the_entrypoint_is_compiled_once_while_the_file_is_the_same(tmp_path: Path) -> None:
    entry = tmp_path / "charm.py"
    entry.write_text("ANSWER = 1\n")
    first = _zygote._entry_code(str(entry))
    assert _zygote._entry_code(str(entry)) is first
    assert _run(first) == 1


def test_a_changed_entrypoint_is_compiled_anew(tmp_path: Path) -> None:
    entry = tmp_path / "charm.py"
    entry.write_text("ANSWER = 1\n")
    first = _zygote._entry_code(str(entry))
    info = entry.stat()
    entry.write_text("ANSWER = 22\n")
    os.utime(entry, ns=(info.st_atime_ns, info.st_mtime_ns))  # same mtime: the size differs
    second = _zygote._entry_code(str(entry))
    assert second is not first
    assert _run(second) == 22
