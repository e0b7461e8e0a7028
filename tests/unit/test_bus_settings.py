"""relation-set's rule, shared by agents and controller: changes apply in order, a value
replaces, an empty value deletes the key."""

from __future__ import annotations

import pytest

from runecraft.schemas import bus


@pytest.mark.parametrize(
    ("current", "changes", "expected"),
    [
        ({}, [], {}),
        ({"a": "1"}, [{"a": "2"}], {"a": "2"}),
        ({"a": "1", "b": "2"}, [{"a": ""}], {"b": "2"}),
        ({}, [{"a": ""}], {}),
        ({"a": "1"}, [{"a": ""}, {"a": "3"}], {"a": "3"}),
        ({"a": "1"}, [{"b": "2"}, {"a": ""}], {"b": "2"}),
    ],
)
def test_merge_settings(
    current: dict[str, str], changes: list[dict[str, str]], expected: dict[str, str]
) -> None:
    before = dict(current)
    assert bus.merge_settings(current, *changes) == expected
    assert current == before  # a new mapping; the stored one is not touched
