"""`python -m runecraft.controller bootstrap`, as the CLI runs it: progress reaches the
caller as it happens, and a bootstrap that fails leaves nothing behind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from runecraft import errors
from runecraft.cli import _delegate


def test_progress_reaches_the_caller_and_a_failed_bootstrap_leaves_nothing(
    tmp_path: Path,
) -> None:
    seen: list[str] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        with pytest.raises(errors.RunecraftError, match=r"controller exited with code"):
            _delegate.delegate(
                *("bootstrap", "--home", str(tmp_path), "--name", "c", "--api-port", port),
                progress=seen.append,
            )
    assert seen[0] == "starting the controller"
    assert not (tmp_path / "controller").exists()
