"""Logging on a full disk (a real tmpfs): a process whose log stream is a file there goes
on logging without an error, says how many lines it lost once there is room again, and a
shipped log file keeps the lines it could not write and writes them whole later."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runecraft import _logging
from runecraft.agents import _unitlog
from runecraft.schemas import logs
from tests._tmpfs import fill, small_tmpfs

LOGS_A_LOT = """
import structlog, logging, sys
from runecraft import _logging
_logging.configure("INFO", process="test")
log = structlog.get_logger("test")
for n in range(200):
    log.warning("a line that the disk cannot take", n=n)
    logging.getLogger("uvicorn.error").error("stdlib too %d", n)
sys.stdout.write("still here\\n")
"""


def test_a_process_logging_onto_a_full_disk_goes_on(tmp_path: Path) -> None:
    with small_tmpfs("1m") as where:
        filler = fill(where)
        log = where / "controller.log"
        with log.open("ab") as stream:
            done = subprocess.run(
                [sys.executable, "-c", LOGS_A_LOT],
                stdout=subprocess.PIPE,
                stderr=stream,
                check=False,
                timeout=60,
            )
        assert done.returncode == 0
        assert done.stdout == b"still here\n"
        filler.unlink()


def test_the_stream_notes_what_it_lost_once_there_is_room() -> None:
    with small_tmpfs("1m") as where:
        log = where / "controller.log"
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            stream = _logging.SafeStream(fd)
            filler = fill(where)
            for _ in range(3):
                assert stream.write("lost line\n") == len("lost line\n")
            assert stream.lost == 3
            filler.unlink()
            stream.write("written line\n")
        finally:
            os.close(fd)
        lines = log.read_text().splitlines()
    assert "lost line" not in "\n".join(lines)
    assert lines[-2].endswith("3 log line(s) lost: the disk was full")
    assert lines[-1] == "written line"


def test_a_shipped_log_keeps_its_lines_and_writes_them_whole_later() -> None:
    with small_tmpfs("1m") as where:
        log = _logging.LineFile(where / "unit.log", lambda n: f"lost {n}", backlog=64)
        filler = fill(where)
        written = 0
        while log.write(f"line {written}"):  # until the file's last page is full too
            written += 1
            assert written < 10_000
        assert log.pending == 1
        on_disk = (where / "unit.log").read_text()
        assert on_disk == "".join(f"line {n}\n" for n in range(written))  # never torn
        assert not log.write("x" * 60)  # over the backlog: the oldest goes, counted
        assert log.lost == 1
        filler.unlink()
        assert log.write("after")
        log.close()
        assert (where / "unit.log").read_text().splitlines()[written:] == [
            "lost 1",
            "x" * 60,
            "after",
        ]


def test_a_unit_log_notes_its_lost_lines_as_the_agents_log_does() -> None:
    with small_tmpfs("4m") as where:
        log = _unitlog.UnitLog(where / "unit.log", "c/0")
        filler = fill(where)
        for n in range(40):  # 40 lines of 64 KiB: more than the backlog holds, the oldest go
            log.write("DEBUG", "uniter", f"{n} " + "x" * 65536)
        filler.unlink()
        log.write("INFO", "uniter", "after")
        log.close()
        lines = (where / "unit.log").read_text().splitlines()
    (note,) = [line for line in lines if "lost" in line]
    parsed = logs.parse_line(note, "", "")
    count = int(parsed.message.split()[0])
    assert 0 < count < 40 and lines[-1].endswith("INFO unit.c/0.uniter after")
    assert note[20:] == _logging.lost_lines_note(count, module="unit.c/0.uniter")[20:]
    assert (parsed.level, parsed.module) == ("WARNING", "unit.c/0.uniter")
