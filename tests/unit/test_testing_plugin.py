"""The pytest plugin `runecraft.testing` loads in every pytest session of anyone who installs
Runecraft: it must cost nothing and warn about nothing until a test asks for a fixture.
Each case runs pytest in a subprocess on a directory holding one test file and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN_ONLY = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
"""No entry-point plugins but those named with `-p`: an environment holding Runecraft and
pytest alone."""

LOADED = """
import sys

def test_loaded() -> None:
    assert "runecraft.testing" in sys.modules
    assert [m for m in sys.modules if m in {HEAVY}] == []
"""


def pytest_in(
    directory: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -W error -m pytest ARGS` in `directory`, outside this project's configuration."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RUNECRAFT_"))}
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=directory,
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_entry_point_loads_the_plugin_and_nothing_heavy(tmp_path: Path) -> None:
    heavy = ("runecraft.testing.ephemeral", "jubilant", "runecraft.errors")
    (tmp_path / "test_loaded.py").write_text(LOADED.replace("{HEAVY}", repr(set(heavy))))
    # pytest-asyncio (a dev dependency here) warns when this option is unset: the one line of
    # configuration README.md tells users who have it.
    result = pytest_in(tmp_path, "-o", "asyncio_default_fixture_loop_scope=function")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_plugin_alone_imports_only_pytest_and_warns_about_nothing(tmp_path: Path) -> None:
    heavy = ("runecraft.testing.ephemeral", "jubilant", "runecraft.errors", "yaml", "pydantic")
    (tmp_path / "test_loaded.py").write_text(LOADED.replace("{HEAVY}", repr(set(heavy))))
    result = pytest_in(tmp_path, "-p", "runecraft.testing", env=PLUGIN_ONLY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout and "warning" not in result.stdout


def test_keep_models_is_a_pytest_option(tmp_path: Path) -> None:
    result = pytest_in(tmp_path, "-p", "runecraft.testing", "--help", env=PLUGIN_ONLY)
    assert result.returncode == 0, result.stderr
    assert "--keep-models" in result.stdout
    (tmp_path / "test_kept.py").write_text(
        'def test_kept(pytestconfig) -> None:\n    assert pytestconfig.getoption("--keep-models")\n'
    )
    result = pytest_in(tmp_path, "-p", "runecraft.testing", "--keep-models", env=PLUGIN_ONLY)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_conftest_defining_keep_models_as_jubilant_documents_still_runs(
    tmp_path: Path,
) -> None:
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            def pytest_addoption(parser):
                parser.addoption("--keep-models", action="store_true", default=False)
            """
        )
    )
    (tmp_path / "test_kept.py").write_text(
        textwrap.dedent(
            """
            def test_kept(pytestconfig) -> None:
                assert pytestconfig.getoption("--keep-models") is True
            """
        )
    )
    result = pytest_in(tmp_path, "-p", "runecraft.testing", "--keep-models", env=PLUGIN_ONLY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_juju_fixture_without_jubilant_says_how_to_install_it(tmp_path: Path) -> None:
    # A `jubilant` module beside the test that cannot be imported, as when it is missing.
    (tmp_path / "jubilant.py").write_text("raise ImportError(\"No module named 'jubilant'\")\n")
    (tmp_path / "test_model.py").write_text(
        textwrap.dedent(
            """
            def test_model(juju: object) -> None:
                pass
            """
        )
    )
    basetemp = tmp_path / "basetemp"
    result = pytest_in(
        tmp_path, "-p", "runecraft.testing", "--basetemp", str(basetemp), env=PLUGIN_ONLY
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "needs jubilant, which is not installed: pip install 'runecraft[testing]'" in (
        result.stdout
    )
    assert not list(basetemp.glob("runecraft*")), "no controller is bootstrapped"


def test_the_readme_shows_the_example_test_as_it_is() -> None:
    repo = Path(__file__).parents[2]
    readme = (repo / "README.md").read_text()
    section = readme.split("## Testing your charm", 1)[1]
    shown = section.split("```python\n", 1)[1].split("```", 1)[0]
    example = (repo / "examples" / "tests" / "test_hello.py").read_text()
    assert example.endswith(shown)
