"""`rune ssh` and `rune scp` on the local substrate: a machine is a directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import EXAMPLES, Rune

pytestmark = pytest.mark.e2e


def test_ssh_runs_commands_and_scp_copies_both_ways(rune: Rune, tmp_path: Path) -> None:
    rune("bootstrap")
    rune("deploy", str(EXAMPLES / "hello-bash"))
    rune("wait", "--timeout", "5m")

    listed = rune("ssh", "hello-bash/0", "ls", "units")
    assert listed.stdout.split() == ["hello-bash-0"]
    failed = rune("ssh", "0", "exit 3", check=False)
    assert failed.returncode == 3

    sent = tmp_path / "sent.txt"
    sent.write_text("from here\n")
    rune("scp", str(sent), "hello-bash/0:copied.txt")
    assert rune("ssh", "0", "cat", "copied.txt").stdout == "from here\n"
    back = tmp_path / "back.log"
    rune("scp", "--", "0:units/hello-bash-0/unit.log", str(back))
    assert 'running hook "install"' in back.read_text()

    missing = rune("ssh", "nope/0", "true", check=False)
    assert missing.returncode == 1
    assert 'unit "nope/0" not found' in missing.stderr
    local_only = rune("scp", str(sent), str(tmp_path / "other"), check=False)
    assert local_only.returncode != 0
    assert "names a unit or machine" in local_only.stderr
