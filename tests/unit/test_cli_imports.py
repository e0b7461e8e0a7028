"""The CLI process loads only what a command uses: never controller or agent code, and for
`rune --version` not even pydantic or httpx, nor for `rune status` (run against a controller
in tests/integration/test_cli_status.py). Checked in a fresh interpreter, through
`sys.modules` (what was loaded, not how long it took)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from runecraft import errors
from runecraft.cli import _app, _delegate, main

NEVER = ("runecraft.controller", "runecraft.agents", "fastapi", "sqlalchemy", "uvicorn", "pylxd")
"""Not loaded by any command of the CLI process."""

UNTRACED = ("opentelemetry",)
"""Not loaded while no OTLP endpoint is configured (tracing off: `runecraft._tracing`)."""

NOT_FOR_VERSION = (*NEVER, *UNTRACED, "pydantic", "httpx", "rich", "yaml", "runecraft.charms")
"""Not loaded by `rune --version` or `rune-juju version`."""

NOT_FOR_STATUS = (
    *NEVER,
    *UNTRACED,
    "pydantic",
    "pydantic_settings",
    "httpx",
    "anyio",
    "asyncio",
)
"""Not loaded by `rune status` in any format (nor `yaml` and `rich` for `--format json`)."""


def loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules a fresh interpreter holds after running `code` (in `env`); what `code`
    printed is checked by the caller, from `stdout_of`."""
    return set(json.loads(run_code(code, env).stdout.splitlines()[-1]))


def stdout_of(result: subprocess.CompletedProcess[str]) -> str:
    """What the code `run_code` ran printed, without the module list it ends with."""
    return result.stdout.rpartition("\n")[0]


def run_code(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter running `code`, then printing the modules it holds as the last
    line of its output."""
    script = f"""
import json, sys
try:
    {code}
except SystemExit:  # a command ends by exiting; what it loaded is what counts
    pass
sys.stdout.write("\\n" + json.dumps(sorted(k for k, v in sys.modules.items() if v)))
"""
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )


def offending(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize(
    "code",
    [
        "from runecraft.cli import main; main(['--version'])",
        "from runecraft.cli import juju_main; juju_main(['version'])",
        "from runecraft.cli import main; main(['version', '--all', '--format', 'json'])",
    ],
    ids=["rune --version", "rune-juju version", "rune version --all"],
)
def test_version_loads_no_controller_no_pydantic_no_httpx(code: str) -> None:
    modules = loaded_after(code)
    assert "runecraft.cli._app" in modules  # the command line did run
    assert offending(modules, NOT_FOR_VERSION) == []


def test_the_status_and_wait_commands_load_no_pydantic_httpx_or_yaml() -> None:
    modules = loaded_after(
        "import click; from runecraft.cli._app import cli\n"
        "    for name in ('status', 'wait'):\n"
        "        cli.get_command(click.Context(cli), name)"
    )
    assert "runecraft.cli._status" in modules and "runecraft.client._wire" in modules
    assert offending(modules, (*NOT_FOR_STATUS, "yaml", "rich")) == []


def test_no_command_module_loads_controller_or_agent_code() -> None:
    modules = loaded_after(
        "import importlib; from runecraft.cli._app import COMMANDS\n"
        "    for target in COMMANDS.values():\n"
        "        importlib.import_module('runecraft.cli.' + target.partition(':')[0])"
    )
    assert "runecraft.cli._status" in modules and "runecraft.cli._controller" in modules
    assert offending(modules, NEVER) == []


def test_every_command_of_the_table_resolves_and_help_lists_them_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    context = click.Context(_app.cli)
    for name in _app.COMMANDS:
        assert isinstance(_app.cli.get_command(context, name), click.Command), name
    main(["--help"])
    listed = capsys.readouterr().out
    for name in _app.COMMANDS:
        assert f"  {name} " in listed, name


def test_a_controller_error_comes_back_as_the_same_error_class(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFoundError, match=r'controller "nope" not found in'):
        _delegate.delegate("kill", "--home", str(tmp_path), "--name", "nope")
    assert list(tmp_path.iterdir()) == []


def test_a_controller_program_that_gives_no_answer_is_a_clear_error() -> None:
    with pytest.raises(errors.PermanentError, match=r"no-such-command.*exit code 2"):
        _delegate.delegate("no-such-command")
