"""Functions stay small enough to read whole: at most 80 lines each.

(Cyclomatic complexity, at most 15, is ruff's C901 in the test command.) A long function in
the controller meant planning, writes and I/O mixed; split it by concern instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 80


def long_functions(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_LINES:
                    where = path.relative_to(package.parent)
                    found.append(f"{where}:{node.lineno} {node.name} is {length} lines")
    return found


@pytest.mark.parametrize("package", ["runecraft"])
def test_no_function_is_longer_than_the_limit(package: str) -> None:
    assert long_functions(ROOT / package) == []


def test_the_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "m.py").write_text(f"def f():\n{body}\n")
    assert len(long_functions(tmp_path)) == 1
