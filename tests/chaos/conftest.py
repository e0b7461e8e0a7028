"""The chaos suite's report: each run's summary block goes to the terminal summary, so the
CI log shows the kills, hooks and violations whatever the capture mode."""

from __future__ import annotations

import pytest

SUMMARIES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for text in SUMMARIES:
        terminalreporter.section("chaos")
        terminalreporter.write_line(text)
