"""The chaos suite's report: each run's summary block, carried on its test report (so it
crosses from pytest-xdist workers), goes to the terminal summary, so the CI log shows the
kills, hooks and violations whatever the capture mode."""

from __future__ import annotations

import pytest

SUMMARY = "chaos-summary"
"""The user property a chaos test records its summary block under."""

_summaries: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _summaries.extend(str(value) for key, value in report.user_properties if key == SUMMARY)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for text in _summaries:
        terminalreporter.section("chaos")
        terminalreporter.write_line(text)
