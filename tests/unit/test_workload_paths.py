"""Where a unit's Pebble sockets are, and how hooks' ops clients get there off Kubernetes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from runecraft import errors
from runecraft.agents import _workloads, _zygote


def test_a_pod_uses_charm_containers_unless_its_env_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RUNECRAFT_CONTAINERS_DIR", raising=False)
    assert _workloads.containers_dir(Path("/x/units/a-0"), pod=True) == Path("/charm/containers")
    monkeypatch.setenv("RUNECRAFT_CONTAINERS_DIR", "/elsewhere")
    assert _workloads.containers_dir(Path("/x/units/a-0"), pod=True) == Path("/elsewhere")


def test_a_machine_unit_gets_a_short_dir_of_its_own() -> None:
    long_dir = Path("/var/lib/runecraft/" + "d" * 150) / "units" / "app-0"
    mine = _workloads.containers_dir(long_dir, pod=False)
    other = _workloads.containers_dir(long_dir.with_name("app-1"), pod=False)
    assert mine != other
    assert mine == _workloads.containers_dir(long_dir, pod=False)
    assert len(mine.name) == 12
    expected = (
        Path("/run/runecraft-pebble")
        if os.geteuid() == 0
        else Path(tempfile.gettempdir()) / f"runecraft-pebble-{os.geteuid()}"
    )
    assert mine.parent == expected
    socket = mine / ("c" * 30) / "pebble.socket"
    assert len(os.fsencode(socket)) <= _workloads.MAX_SOCKET_PATH


def test_private_dir_is_made_0700(tmp_path: Path) -> None:
    target = tmp_path / "base" / "abc"
    _workloads.ensure_private_dir(target)
    _workloads.ensure_private_dir(target)  # again: fine
    assert (target.stat().st_mode & 0o777, target.parent.stat().st_mode & 0o777) == (0o700, 0o700)


def test_private_dir_refuses_a_base_that_is_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "base").symlink_to(tmp_path / "real")
    with pytest.raises(errors.PermanentError, match="refusing"):
        _workloads.ensure_private_dir(tmp_path / "base" / "abc")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a dir to another user")
def test_private_dir_refuses_a_base_owned_by_another_user(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir(mode=0o777)
    os.chown(base, 65534, 65534)
    with pytest.raises(errors.PermanentError, match="refusing"):
        _workloads.ensure_private_dir(base / "abc")
    assert not (base / "abc").exists()


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param("name: a\n", (), id="none"),
        pytest.param("name: a\ncontainers:\n", (), id="empty"),
        pytest.param(
            "name: a\ncontainers:\n  web: {resource: img}\n  db:\n    resource: db\n",
            ("db", "web"),
            id="two",
        ),
        pytest.param(": not yaml: [", (), id="broken"),
    ],
)
def test_charm_containers(tmp_path: Path, metadata: str, expected: tuple[str, ...]) -> None:
    (tmp_path / "metadata.yaml").write_text(metadata)
    assert _workloads.charm_containers(tmp_path) == expected


def test_no_charm_no_containers(tmp_path: Path) -> None:
    assert _workloads.charm_containers(tmp_path) == ()


@pytest.mark.parametrize(
    ("env", "path", "expected"),
    [
        pytest.param(
            "/run/p/abc",
            "/charm/containers/web/pebble.socket",
            "/run/p/abc/web/pebble.socket",
            id="rerouted",
        ),
        pytest.param(
            "/run/p/abc/",
            "/charm/containers/web/pebble.socket",
            "/run/p/abc/web/pebble.socket",
            id="trailing slash",
        ),
        pytest.param(
            "/charm/containers",
            "/charm/containers/web/pebble.socket",
            "/charm/containers/web/pebble.socket",
            id="kubernetes",
        ),
        pytest.param(None, "/charm/containers/web/pebble.socket", None, id="unset"),
        pytest.param("/run/p/abc", "/charm/containersX/web", None, id="not under it"),
        pytest.param("/run/p/abc", "/tmp/own.socket", None, id="charm's own socket"),
    ],
)
def test_zygote_reroutes_only_paths_under_charm_containers(
    monkeypatch: pytest.MonkeyPatch, env: str | None, path: str, expected: str | None
) -> None:
    if env is None:
        monkeypatch.delenv("RUNECRAFT_CONTAINERS_DIR", raising=False)
    else:
        monkeypatch.setenv("RUNECRAFT_CONTAINERS_DIR", env)
    assert _zygote._rerouted(path) == (expected or path)


def test_zygote_wraps_ops_pebble_client_reading_the_env_at_each_call() -> None:
    """In a fresh interpreter with the real ops: positional and keyword socket paths."""
    script = f"""
import os, sys
sys.path.insert(0, {str(Path(_zygote.__file__).parent)!r})
import _zygote
import ops
_zygote._reroute_pebble()
from ops import pebble
os.environ["RUNECRAFT_CONTAINERS_DIR"] = "/run/p/one"
print(pebble.Client(socket_path="/charm/containers/web/pebble.socket").socket_path)
os.environ["RUNECRAFT_CONTAINERS_DIR"] = "/run/p/two"
print(pebble.Client("/charm/containers/db/pebble.socket").socket_path)
del os.environ["RUNECRAFT_CONTAINERS_DIR"]
print(pebble.Client("/charm/containers/db/pebble.socket").socket_path)
print(pebble.Client.__init__.__name__)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [
        "/run/p/one/web/pebble.socket",
        "/run/p/two/db/pebble.socket",
        "/charm/containers/db/pebble.socket",
        "__init__",
    ]
