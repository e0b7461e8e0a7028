"""The shell that installs, starts, checks and removes a machine agent on an enlisted host.

Pure functions returning POSIX sh, so they can be read and tested without a machine. The
agent runs as a systemd unit when systemd is PID 1 and we are root; otherwise a small
supervisor (started in its own session, so it outlives the SSH login) restarts it whenever it
exits. Everything Runecraft puts on the machine lives under one prefix (plus the unit file),
so removal leaves the machine as it was found.
"""

from __future__ import annotations

import shlex

__all__ = [
    "PYTHON_CHECK",
    "parse_python_version",
    "remove_script",
    "running_script",
    "start_script",
    "supervisor_script",
    "systemd_unit",
]

PYTHON_CHECK = (
    "command -v python3 >/dev/null 2>&1 || { echo missing; exit 0; }\n"
    "python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'\n"
)
"""Prints `missing`, or python3's `MAJOR.MINOR`."""

RESTART_DELAY = 3
"""Seconds the supervisor waits before restarting an agent that exited."""


def parse_python_version(output: str) -> tuple[int, int] | None:
    """`MAJOR.MINOR` from `PYTHON_CHECK`'s output; None when python3 is missing or odd."""
    text = output.strip().splitlines()[-1] if output.strip() else ""
    major, dot, minor = text.partition(".")
    if not dot or not major.isdigit() or not minor.isdigit():
        return None
    return int(major), int(minor)


def supervisor_script(prefix: str, argv: list[str]) -> str:
    """Runs the agent and restarts it when it exits, until told to stop (SIGTERM)."""
    p = shlex.quote(prefix)
    command = " ".join(shlex.quote(a) for a in argv)
    return f"""#!/bin/sh
# Runecraft machine agent supervisor: restarts the agent when it exits.
echo $$ > {p}/supervisor.pid
child=
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait; exit 0' TERM INT HUP
while :; do
  {command} >> {p}/agent.log 2>&1 &
  child=$!
  echo "$child" > {p}/agent.pid
  wait "$child"
  echo "agent exited with status $?; restarting in {RESTART_DELAY} s" >> {p}/agent.log
  sleep {RESTART_DELAY} &
  wait $!
done
"""


def systemd_unit(description: str, argv: list[str], prefix: str) -> str:
    command = " ".join(shlex.quote(a) for a in argv)
    return f"""[Unit]
Description={description}
After=network-online.target
Wants=network-online.target

[Service]
ExecStart={command}
WorkingDirectory={prefix}
Restart=always
RestartSec={RESTART_DELAY}
KillMode=mixed

[Install]
WantedBy=multi-user.target
"""


_STOP_SUPERVISOR = """
if [ -f "$P/supervisor.pid" ]; then
  pid=$(cat "$P/supervisor.pid")
  if [ -n "$pid" ] && grep -q supervise "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$P/supervisor.pid"
fi
if [ -f "$P/agent.pid" ]; then
  pid=$(cat "$P/agent.pid")
  if [ -n "$pid" ] && grep -q runecraft.agents "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$P/agent.pid"
fi
"""


def _header(prefix: str, service: str) -> str:
    return (
        "set -eu\n"
        f"P={shlex.quote(prefix)}\n"
        f"UNIT=/etc/systemd/system/{shlex.quote(service)}.service\n"
        f"SERVICE={shlex.quote(service)}\n"
    )


def start_script(prefix: str, service: str, argv: list[str], description: str) -> str:
    """(Re)start the agent; prints `systemd` or `supervisor` (how it runs)."""
    unit = systemd_unit(description, argv, prefix)
    supervisor = supervisor_script(prefix, argv)
    return (
        _header(prefix, service)
        + f"""
if [ -d /run/systemd/system ] && [ "$(id -u)" = 0 ] && command -v systemctl >/dev/null; then
  cat > "$UNIT.tmp" <<'RUNECRAFT_UNIT'
{unit}RUNECRAFT_UNIT
  mv "$UNIT.tmp" "$UNIT"
  systemctl daemon-reload
  systemctl enable "$SERVICE" >/dev/null 2>&1
  systemctl restart "$SERVICE"
  echo systemd
  exit 0
fi
{_STOP_SUPERVISOR}
cat > "$P/supervise.sh" <<'RUNECRAFT_SUPERVISOR'
{supervisor}RUNECRAFT_SUPERVISOR
chmod 700 "$P/supervise.sh"
cd "$P"
if command -v setsid >/dev/null; then
  setsid sh "$P/supervise.sh" </dev/null >>"$P/supervisor.log" 2>&1 &
else
  nohup sh "$P/supervise.sh" </dev/null >>"$P/supervisor.log" 2>&1 &
fi
i=0
while [ ! -s "$P/supervisor.pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
echo supervisor
"""
    )


def running_script(prefix: str, service: str) -> str:
    """Exits 0 when the agent's unit or supervisor is running."""
    return (
        _header(prefix, service)
        + """
if [ -f "$UNIT" ] && command -v systemctl >/dev/null; then
  systemctl is-active --quiet "$SERVICE"
  exit $?
fi
pid=$(cat "$P/supervisor.pid" 2>/dev/null || true)
[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q supervise "/proc/$pid/cmdline"
"""
    )


def remove_script(prefix: str, service: str, install_dir: str) -> str:
    """Stop the agent and remove what Runecraft installed (idempotent)."""
    return (
        _header(prefix, service)
        + f"""
if [ -f "$UNIT" ]; then
  systemctl disable --now "$SERVICE" >/dev/null 2>&1 || true
  rm -f "$UNIT"
  systemctl daemon-reload 2>/dev/null || true
fi
{_STOP_SUPERVISOR}
rm -rf "$P"
rmdir {shlex.quote(install_dir)} 2>/dev/null || true
"""
    )
