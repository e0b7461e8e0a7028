"""The whole benchmark run's table and its place in benchmarks/README.md."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))  # last: no shadowing

from _report import END, START, Conditions, Row, render, replace_section
from deploy_to_active import expected_peer_hooks

CONDITIONS = Conditions(
    date="2026-12-04 05:00 UTC", cores=2, load_start=0.5, load_end=1.25, quick=True, wall=170.4
)


def test_render_has_conditions_and_a_line_per_bench() -> None:
    rows = [
        Row("fleet", "100 units: 15.9 s", "1 unit: 3.3 s", "4.8x", "≤ 60 s", True),
        Row("status", "failed: boom | bang", failed=True),
        Row("cli", "438 ms", "17 ms", "26x"),
    ]
    table = render(rows, CONDITIONS).splitlines()
    assert "`--quick`" in table[0]
    assert "load average 0.50 at the start and 1.25 at the end" in table[0]
    assert "2 cores" in table[0]
    body = table[4:]
    assert body == [
        "| fleet | 100 units: 15.9 s | 1 unit: 3.3 s | 4.8x | ≤ 60 s | yes |",
        "| status | failed: boom \\| bang | — | — | — | FAILED |",
        "| cli | 438 ms | 17 ms | 26x | — | — |",
    ]


def test_replace_section_touches_only_what_is_between_the_markers() -> None:
    readme = f"# Benchmarks\n\nusage\n\n{START}\nold table\n{END}\n\n## Next\n"
    once = replace_section(readme, "new table")
    assert once == f"# Benchmarks\n\nusage\n\n{START}\nnew table\n{END}\n\n## Next\n"
    assert replace_section(once, "new table") == once


def test_replace_section_appends_the_section_when_the_markers_are_missing() -> None:
    result = replace_section("# Benchmarks\n", "table")
    assert result.startswith("# Benchmarks\n\n## The whole run")
    assert result.endswith(f"{START}\ntable\n{END}\n")


def test_expected_peer_hooks_of_three_units_are_those_a_deploy_ran() -> None:
    # As read from the unit logs of a 3-unit `hello` deploy: 9 hooks per unit.
    expected = expected_peer_hooks(3)
    assert sum(expected.values()) == 27
    assert expected["leader-elected"] == 1
    assert expected["leader-settings-changed"] == 2
    assert expected["hello-peers-relation-joined"] == 6
