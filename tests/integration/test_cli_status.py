"""`rune status` against a bootstrapped controller (TLS, its own CA): read with the standard
library it loads neither pydantic nor httpx, and prints byte for byte what the full client
prints, in every format; its errors are the full client's, message and exit code.

The full client's path is taken by a home whose `client.yaml` is YAML, as the CLI wrote it
before it wrote JSON: `_client_file.read` leaves such a file to pydantic, and the command to
`Client`. Each comparison also checks which path each run took, by the modules it loaded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from runecraft.cli import _config
from runecraft.controller import _tls
from tests.conftest import free_port
from tests.integration.conftest import EXAMPLES, RUNE, Rune
from tests.unit.test_cli_imports import NOT_FOR_STATUS, offending, run_code, stdout_of

pytestmark = pytest.mark.e2e

UNITS = 3


@pytest.fixture(scope="module")
def rune(tmp_path_factory: pytest.TempPathFactory, charm_cache: Path) -> Iterator[Rune]:
    """A controller with `hello-bash` settled on UNITS units of one machine."""
    runner = Rune(home=tmp_path_factory.mktemp("status") / "home", cache=charm_cache)
    runner("bootstrap")
    try:
        runner("deploy", str(EXAMPLES / "hello-bash"))
        runner("add-unit", "hello-bash", "-n", str(UNITS - 1), "--to", "0,0")
        runner("wait", "--timeout", "10m")
        yield runner
    finally:
        runner("kill-controller", "runecraft", "--no-prompt", check=False)


def _home(rune: Rune, where: Path, as_yaml: bool, **changes: Any) -> Path:
    """A client home for `rune`'s controller: its client configuration with `changes`,
    written as YAML (read by pydantic, asked through `Client`) or as the CLI writes it."""
    config = _config.load(rune.home / "client.yaml").model_copy(update=changes)
    where.mkdir(parents=True, exist_ok=True)
    if as_yaml:
        (where / "client.yaml").write_text(yaml.safe_dump(config.model_dump(), sort_keys=False))
    else:
        _config.save(where / "client.yaml", config)
    return where


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "RUNECRAFT_HOME": str(home)}


def test_status_json_loads_no_pydantic_httpx_or_yaml(rune: Rune) -> None:
    result = run_code(_command(("--format", "json")), _env(rune.home))
    modules = _modules(result)
    assert offending(modules, (*NOT_FOR_STATUS, "yaml", "rich")) == []
    assert "runecraft.client._wire" in modules
    document = json.loads(stdout_of(result))
    assert len(document["applications"]["hello-bash"]["units"]) == UNITS


@pytest.mark.parametrize(
    "args",
    [("--format", "json"), ("--format", "yaml"), (), ("--relations",)],
    ids=["json", "yaml", "tabular", "relations"],
)
def test_status_prints_what_the_full_client_prints(
    rune: Rune, tmp_path: Path, args: tuple[str, ...]
) -> None:
    lean = run_code(_command(args), _env(_home(rune, tmp_path / "json", as_yaml=False)))
    full = run_code(_command(args), _env(_home(rune, tmp_path / "yaml", as_yaml=True)))
    assert _modules(full) >= {"httpx", "pydantic"}  # the full client's path, as before
    assert offending(_modules(lean), NOT_FOR_STATUS) == []
    assert "hello-bash/2" in stdout_of(lean)
    assert _timeless(stdout_of(lean)) == _timeless(stdout_of(full))
    assert lean.stderr == full.stderr


def _command(args: tuple[str, ...]) -> str:
    return f"from runecraft.cli import main; main({['status', *args]!r})"


def _modules(result: subprocess.CompletedProcess[str]) -> set[str]:
    return set(json.loads(result.stdout.splitlines()[-1]))


def _timeless(output: str) -> str:
    """`output` with the time of day blanked (two runs print different ones)."""
    return re.sub(r"\d\d:\d\d:\d\dZ", "HH:MM:SSZ", output)


def _foreign_ca(directory: Path) -> str:
    files = _tls.TlsFiles(directory)
    _tls.make(files, "other", _tls.server_names("127.0.0.1"))
    return files.ca_cert.read_text()


@pytest.mark.parametrize(
    ("case", "expected", "lean"),
    [
        ("wrong token", "ERROR invalid credentials", True),
        ("unknown model", 'ERROR model "nope" not found', True),
        ("no controller", "ERROR cannot reach the controller at http://127.0.0.1:", False),
        ("foreign CA", "CERTIFICATE_VERIFY_FAILED", False),
        ("not logged in", "ERROR not logged in", False),
    ],
)
def test_status_errors_are_the_full_clients(
    rune: Rune, tmp_path: Path, case: str, expected: str, lean: bool
) -> None:
    """The same message and exit code as the full client's; the controller's own errors
    are decoded without it, an unreachable or untrusted controller is left to it."""
    changes: dict[str, Any] = {
        "wrong token": {"token": "nope"},
        "unknown model": {"model": "nope"},
        "no controller": {"endpoint": f"http://127.0.0.1:{free_port()}", "ca_cert": None},
        "foreign CA": {"ca_cert": _foreign_ca(tmp_path / "ca")},
        "not logged in": {"token": ""},
    }[case]
    runs = []
    for as_yaml in (False, True):
        home = _home(rune, tmp_path / str(as_yaml), as_yaml, **changes)
        result = subprocess.run(
            [*RUNE, "status", "--format", "json"],
            env=_env(home),
            capture_output=True,
            text=True,
            check=False,
        )
        runs.append((result.returncode, result.stdout, result.stderr))
    assert runs[0] == runs[1]
    assert runs[0][0] == 1 and expected in runs[0][2], runs[0]
    if lean:
        loaded = _modules(run_code(_command(("--format", "json")), _env(tmp_path / "False")))
        assert offending(loaded, NOT_FOR_STATUS) == []
