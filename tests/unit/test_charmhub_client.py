"""The Charmhub client's reading of what users type: channels in Charmhub's full form and
Juju's `--base`, with bad ones refused by name."""

from __future__ import annotations

import re

import pytest

from runecraft import errors
from runecraft.client import _charmhub


@pytest.mark.parametrize(
    ("given", "full"),
    [
        ("edge", "latest/edge"),
        ("stable", "latest/stable"),
        ("3.6", "3.6/stable"),
        ("3.6/beta", "3.6/beta"),
        ("latest/edge", "latest/edge"),
        ("edge/fix-1", "latest/edge/fix-1"),
        ("2/candidate/hotfix", "2/candidate/hotfix"),
    ],
)
def test_channels_take_charmhubs_full_form(given: str, full: str) -> None:
    assert _charmhub.parse_channel(given) == full


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "expected [TRACK/]RISK[/BRANCH]"),
        ("a//b", "expected [TRACK/]RISK[/BRANCH]"),
        ("1/2/3/4", "expected [TRACK/]RISK[/BRANCH]"),
        ("latest/nightly", 'risk "nightly" is not one of stable, candidate, beta, edge'),
    ],
)
def test_bad_channels_are_refused_by_name(given: str, reason: str) -> None:
    with pytest.raises(errors.InvalidSpecError, match=re.escape(reason)) as raised:
        _charmhub.parse_channel(given)
    assert f'"{given}"' in raised.value.message


def test_bases_read_jujus_spelling() -> None:
    base = _charmhub.parse_base("ubuntu@22.04", "arm64")
    assert base.model_dump() == {"name": "ubuntu", "channel": "22.04", "architecture": "arm64"}
    assert base.juju() == "arm64/ubuntu/22.04"
    assert _charmhub.parse_base("ubuntu@24.04").architecture == _charmhub.host_architecture()
    with pytest.raises(errors.InvalidSpecError, match='invalid base "ubuntu": expected NAME@'):
        _charmhub.parse_base("ubuntu")


def test_the_url_is_charmhubs_unless_a_mirror_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_charmhub.URL_VARIABLE, raising=False)
    assert _charmhub.charmhub_url() == "https://api.charmhub.io"
    monkeypatch.setenv(_charmhub.URL_VARIABLE, "http://mirror.example:8080/")
    assert _charmhub.charmhub_url() == "http://mirror.example:8080"


def test_download_hash_is_read_under_either_spelling() -> None:
    for key in ("hash-sha-256", "hash-sha256"):
        download = _charmhub.Download.model_validate({key: "ab" * 32, "url": "http://x/y"})
        assert download.hash_sha256 == "ab" * 32
