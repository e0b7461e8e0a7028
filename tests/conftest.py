"""Shared fixtures: real PostgreSQL started per test session, unique names, free ports."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# The Kubernetes test cluster's fixtures: k8s_cluster (sync) and k8s_cluster_async.
pytest_plugins = ["tests.k8s_cluster.fixtures"]

# Tests reach no host but this one: a Charmhub request that a test did not point at its
# own emulator goes to a closed loopback port and fails at once, naming that address.
os.environ.setdefault("RUNECRAFT_CHARMHUB_URL", "http://127.0.0.1:1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> Path:
    for version in ("17", "16", "15", "14", "13"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin")
        if (candidate / "initdb").exists():
            return candidate
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free port; yields an asyncpg SQLAlchemy URL base
    (`postgresql+asyncpg://postgres@127.0.0.1:PORT`)."""
    bin_dir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="runecraft-pg-"))
    port = free_port()
    data = root / "data"
    postgres = pwd.getpwnam("postgres")
    os.chown(root, postgres.pw_uid, postgres.pw_gid)

    def as_postgres(*args: str) -> None:
        subprocess.run(
            ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(args)],
            check=True,
            capture_output=True,
        )

    as_postgres(
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync",
        "-E",
        "UTF8",
    )
    as_postgres(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(root / "log"),
        "-w",
        "-o",
        f"'-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off'",
        "start",
    )
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, uniquely named database on the session's PostgreSQL server."""
    name = f"rc_{os.getpid()}_{time.monotonic_ns()}"
    port = postgres_server.rsplit(":", 1)[1]
    subprocess.run(
        [
            "su",
            "postgres",
            "-s",
            "/bin/sh",
            "-c",
            f"psql -h 127.0.0.1 -p {port} -q -c 'CREATE DATABASE {name}'",
        ],
        check=True,
        capture_output=True,
    )
    return f"{postgres_server}/{name}"


CHAOS_SUMMARY = "chaos-summary"
"""The user property a chaos test (tests/chaos) records its summary block under."""

_chaos_summaries: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep each chaos run's summary block, carried on its test report (so it crosses from
    pytest-xdist workers to this, the root conftest, which the main process loads)."""
    if report.when == "call":
        _chaos_summaries.extend(
            str(value) for key, value in report.user_properties if key == CHAOS_SUMMARY
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The chaos suite's kills, hooks and violations in the CI log, whatever the capture."""
    for text in _chaos_summaries:
        terminalreporter.section("chaos")
        terminalreporter.write_line(text)
