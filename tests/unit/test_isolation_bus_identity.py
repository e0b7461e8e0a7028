"""Which CONNECTs the embedded broker refuses before it looks at a credential."""

from __future__ import annotations

import pytest

from runecraft.controller.bus import _embedded


@pytest.mark.parametrize(
    ("username", "client_id", "clean", "why"),
    [
        ("machine-0.m", "machine-0.m", True, None),
        ("controller", "controller", True, None),
        ("machine-0.m", "machine-3.m", True, 'client id "machine-3.m" is not the username'),
        ("machine-0.m", "runecraft-controller-1", True, "is not the username"),
        (None, "machine-3.m", True, "no username"),
        ("", "", True, "no username"),
        ("machine-0.m", "machine-0.m", False, "persistent sessions are not offered"),
    ],
    ids=["own-id", "controller", "another-agents-id", "made-up-id", "anonymous", "empty", "kept"],
)
def test_isolation_connect_refusals(
    username: str | None, client_id: str, clean: bool, why: str | None
) -> None:
    found = _embedded.refusal(username, client_id, clean)
    if why is None:
        assert found is None
    else:
        assert found is not None and why in found
