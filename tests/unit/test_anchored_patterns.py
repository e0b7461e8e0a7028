"""Every regular expression in the package ends a match with `\\Z`, never `$`.

In Python, `$` also matches before a final newline, so `re.match(r"^[a-z]+$", "evil\\n")`
accepts the name with its newline (and `re.fullmatch` with `$` does not help either, as
`$` is not the end there). A name, key or identifier checked that way reaches the store,
file paths and the bus with a control character in it. This test reads every pattern
given to `re.compile`/`re.match`/`re.fullmatch`/`re.search`, so a new one with `$` fails
here. (pydantic's `Field(pattern=…)` is matched by pydantic-core's regex engine, where `$`
is the end of the text, as in JSON Schema; tests/unit/test_names_fuzz.py checks those.)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "runecraft"
_RE_FUNCTIONS = {"compile", "match", "fullmatch", "search"}


def _pattern_arguments(tree: ast.AST) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in _RE_FUNCTIONS
            and isinstance(func.value, ast.Name)
            and func.value.id == "re"
            and node.args
        ):
            yield node.args[0]


def _literal_parts(expr: ast.expr) -> Iterator[str]:
    """The literal text of a pattern (the constant parts of an f-string or a `+` chain)."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, (str, bytes)):
        value = expr.value
        yield value if isinstance(value, str) else value.decode("latin-1")
    elif isinstance(expr, ast.JoinedStr):
        for part in expr.values:
            yield from _literal_parts(part)
    elif isinstance(expr, ast.BinOp):
        yield from _literal_parts(expr.left)
        yield from _literal_parts(expr.right)


def _dollar_anchor(text: str) -> bool:
    escaped = False
    for char in text:
        if char == "$" and not escaped:
            return True
        escaped = char == "\\" and not escaped
    return False


def test_no_pattern_ends_a_match_with_dollar() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for expr in _pattern_arguments(tree):
            if any(_dollar_anchor(part) for part in _literal_parts(expr)):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{expr.lineno}")
    assert offenders == [], "use \\Z, not $, to end a pattern: " + ", ".join(offenders)


def test_the_check_sees_a_dollar_anchor() -> None:
    tree = ast.parse('import re\nA = re.compile(f"^{X}$")\nB = re.compile(r"^a\\$b\\Z")\n')
    found = [any(map(_dollar_anchor, _literal_parts(e))) for e in _pattern_arguments(tree)]
    assert found == [True, False]
