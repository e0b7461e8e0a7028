"""Host-key trust of the manual provider against a real sshd: unknown keys are refused until
accepted (by fingerprint or on first use), accepted keys are stored, changed keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from runecraft import errors
from runecraft.controller.providers import ProviderContext
from runecraft.controller.providers.ssh import TRUST_ON_FIRST_USE, SshProvider, parse_target
from tests.integration._sshhosts import SshLab, ssh_lab

__all__ = ["ssh_lab"]


async def test_host_keys_are_verified_stored_and_pinned(ssh_lab: SshLab, tmp_path: Path) -> None:
    host = ssh_lab.add_host()
    provider = SshProvider(ProviderContext(controller_uuid="c", data_dir=tmp_path / "machines"))
    target = parse_target(host.target)
    key = str(ssh_lab.client_key)

    with pytest.raises(errors.PermissionDeniedError, match="is not known") as unknown:
        await provider.probe(target, key, None)
    assert host.fingerprint in unknown.value.message
    assert not provider.host_keys.store.exists()

    probe = await provider.probe(target, key, TRUST_ON_FIRST_USE)
    assert probe.fingerprint == host.fingerprint
    assert probe.python >= (3, 10)
    assert (await provider.probe(target, key, None)).fingerprint == host.fingerprint

    host.regenerate_host_key()
    with pytest.raises(errors.PermissionDeniedError, match="has changed") as changed:
        await provider.probe(target, key, TRUST_ON_FIRST_USE)
    assert host.fingerprint in changed.value.message
