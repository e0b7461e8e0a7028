"""The whole run's table and its place in the README: pure, so it is tested on its own."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["END", "START", "Conditions", "Row", "render", "replace_section"]

START = "<!-- run:start -->"
END = "<!-- run:end -->"
HEADING = "## The whole run (`benchmarks/run`)"


@dataclass(frozen=True)
class Row:
    """One benchmark's line: its figure beside its baseline taken in the same run."""

    bench: str
    figure: str
    baseline: str = "—"
    ratio: str = "—"
    goal: str = "—"
    met: bool | None = None
    """None: no goal, or the bench failed."""
    failed: bool = False


@dataclass(frozen=True)
class Conditions:
    """What a reader needs to weigh the figures."""

    date: str
    cores: int
    load_start: float
    load_end: float
    quick: bool
    wall: float
    only: tuple[str, ...] = ()


def _met(row: Row) -> str:
    if row.failed:
        return "FAILED"
    if row.met is None:
        return "—"
    return "yes" if row.met else "no"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(rows: list[Row], conditions: Conditions) -> str:
    """The conditions line and the Markdown table."""
    sizes = "`--quick`: sizes scaled down as each figure says" if conditions.quick else "full size"
    only = f"; only {', '.join(conditions.only)}" if conditions.only else ""
    lines = [
        f"Taken {conditions.date}, {sizes}{only}; {conditions.cores} cores, 1-minute load "
        f"average {conditions.load_start:.2f} at the start and {conditions.load_end:.2f} at "
        f"the end; {conditions.wall:.0f} s wall.",
        "",
        "| bench | figure | baseline (same run) | ratio | goal | met? |",
        "| --- | --- | --- | ---: | --- | --- |",
    ]
    lines += [
        "| "
        + " | ".join(
            _cell(cell) for cell in (r.bench, r.figure, r.baseline, r.ratio, r.goal, _met(r))
        )
        + " |"
        for r in rows
    ]
    return "\n".join(lines)


def replace_section(readme: str, block: str) -> str:
    """`readme` with `block` between the run markers; a README without them gets the
    section appended."""
    marked = f"{START}\n{block}\n{END}"
    if START in readme and END in readme.split(START, 1)[1]:
        before, rest = readme.split(START, 1)
        return before + marked + rest.split(END, 1)[1]
    return f"{readme.rstrip()}\n\n{HEADING}\n\n{marked}\n"
