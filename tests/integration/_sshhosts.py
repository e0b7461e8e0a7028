"""Real SSH hosts for tests: network namespaces on a private bridge, each running sshd.

Each host has its own network stack and address (a veth on a bridge the test made) and a
real OpenSSH server with key authentication; it shares the file system with the test, so the
tests give every host its own install directory. Root only. Names and the /24 are unique per
lab, and closing the lab kills every process left in its namespaces (sshd, and agents that
a test failed to remove) before deleting them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
SFTP_SERVER = Path("/usr/lib/openssh/sftp-server")
ROOT_HOME = Path("/root")


def _ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )


def _fingerprint(public_key: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(public_key)], check=True, capture_output=True, text=True
    ).stdout
    return out.split()[1]


@dataclass
class SshHost:
    """One enlistable machine."""

    netns: str
    address: str
    directory: Path
    port: int = 22

    @property
    def target(self) -> str:
        return f"ssh:root@{self.address}:{self.port}"

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self.directory / "hostkey.pub")

    @property
    def install_dir(self) -> Path:
        """Where this host's Runecraft files go (hosts share the test's file system)."""
        return self.directory / "runecraft"

    def pids(self) -> list[int]:
        return [int(p) for p in _ip("netns", "pids", self.netns).split()]

    def regenerate_host_key(self) -> None:
        """A reinstalled machine: same address, new host key (sshd rereads it per login)."""
        for path in (self.directory / "hostkey", self.directory / "hostkey.pub"):
            path.unlink()
        _keygen(self.directory / "hostkey")


@dataclass
class SshLab:
    """A bridge on the test host plus any number of namespaced sshd hosts on it."""

    directory: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    hosts: list[SshHost] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.bridge = f"rcb{self.tag}"
        self.network = self._free_network()
        self.gateway = str(self.network.network_address + 1)
        self.client_key = self.directory / "client_key"
        self.wrong_key = self.directory / "wrong_key"
        _keygen(self.client_key)
        _keygen(self.wrong_key)
        authorized = self.directory / "authorized_keys"
        shutil.copy(self.directory / "client_key.pub", authorized)
        authorized.chmod(0o600)
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/{self.network.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    @staticmethod
    def _free_network() -> ipaddress.IPv4Network:
        used = _ip("-4", "-o", "addr", "show") + _ip("-4", "route", "show")
        for _ in range(100):
            candidate = ipaddress.IPv4Network(
                f"10.{random.randint(210, 250)}.{random.randint(0, 255)}.0/24"
            )
            prefix = ".".join(str(candidate.network_address).split(".")[:3]) + "."
            if prefix not in used:
                return candidate
        raise RuntimeError("no free 10.x.y.0/24 for the SSH lab")

    def add_host(self, *, python: bool = True, drop_on_venv: bool = False) -> SshHost:
        """Start a host; without `python` its logins find no python3; with `drop_on_venv`
        the first `python3 -m venv` there kills the SSH login (a connection lost mid-install)."""
        index = len(self.hosts) + 1
        netns = f"rc{self.tag}h{index}"
        address = str(self.network.network_address + 10 + index)
        directory = self.directory / f"host{index}"
        directory.mkdir()
        host = SshHost(netns=netns, address=address, directory=directory)
        _keygen(directory / "hostkey")
        _ip("netns", "add", netns)
        self.hosts.append(host)
        veth = f"rc{self.tag}v{index}"
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        _ip("link", "set", veth, "master", self.bridge, "up")
        _ip("-n", netns, "addr", "add", f"{address}/{self.network.prefixlen}", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "route", "add", "default", "via", self.gateway)
        env = ""
        if not python:
            empty = directory / "bin"
            empty.mkdir()
            env = f"SetEnv PATH={empty}\n"
        elif drop_on_venv:
            wrapper_dir = directory / "bin"
            wrapper_dir.mkdir()
            wrapper = wrapper_dir / "python3"
            real = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
            wrapper.write_text(
                "#!/bin/sh\n"
                f'if [ "$1 $2" = "-m venv" ] && [ ! -e {directory}/dropped ]; then\n'
                f"  touch {directory}/dropped\n"
                '  session=$(ps -o ppid= -p "$PPID" | tr -d " ")\n'
                '  kill -9 "$session"\n'
                "  exit 1\n"
                "fi\n"
                f'exec {real} "$@"\n'
            )
            wrapper.chmod(0o755)
            env = f"SetEnv PATH={wrapper_dir}:/usr/local/bin:/usr/bin:/bin\n"
        config = directory / "sshd_config"
        config.write_text(
            f"ListenAddress {address}\n"
            f"Port {host.port}\n"
            f"HostKey {directory / 'hostkey'}\n"
            f"PidFile {directory / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.directory / 'authorized_keys'}\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\n"
            "UsePAM no\n"
            "StrictModes no\n"
            f"Subsystem sftp {SFTP_SERVER}\n" + env
        )
        Path("/run/sshd").mkdir(exist_ok=True)
        subprocess.run([str(SSHD), "-t", "-f", str(config)], check=True, capture_output=True)
        # sshd gets its own mount namespace with an empty home for root, so logins see a
        # plain machine (not the test host's shell start-up files and Python installs).
        home = directory / "home"
        home.mkdir()
        start = (
            f"mount --bind {home} {ROOT_HOME} && "
            f"exec {SSHD} -f {config} -E {directory / 'sshd.log'}"
        )
        subprocess.run(
            ["ip", "netns", "exec", netns, "unshare", "--mount", "sh", "-c", start],
            check=True,
            capture_output=True,
        )
        return host

    def close(self) -> None:
        for host in self.hosts:
            with contextlib.suppress(RuntimeError):
                for pid in host.pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(RuntimeError):
                _ip("netns", "del", host.netns)
        with contextlib.suppress(RuntimeError):
            _ip("link", "del", self.bridge)


def lab_available() -> str | None:
    """Why SSH lab tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    if not SSHD.exists():
        return "needs openssh-server"
    return None


@pytest.fixture
def ssh_lab(tmp_path: Path) -> Iterator[SshLab]:
    """A fresh SSH lab per test, torn down afterwards."""
    reason = lab_available()
    if reason is not None and os.geteuid() != 0:
        pytest.skip(f"SSH lab {reason}")
    if reason is not None:  # as root, scripts/setup.sh installs it all: a gap is a failure
        pytest.fail(f"SSH lab {reason}: run scripts/setup.sh")
    lab = SshLab(tmp_path / "lab")
    try:
        yield lab
    finally:
        lab.close()
