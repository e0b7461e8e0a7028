"""Validation failures are reported in our words, from pydantic's error types (its stable
interface), never in pydantic's wording; a check of ours keeps its own message."""

from __future__ import annotations

from typing import Any, Literal

import pydantic
import pytest

from runecraft.schemas import problems


class Sample(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    name: str = pydantic.Field(min_length=2, max_length=4, pattern=r"^[a-z]+$")
    count: int = pydantic.Field(default=0, ge=0, le=9)
    ratio: float = 0.0
    flag: bool = False
    scope: Literal["global", "container"] = "global"
    options: dict[str, int] = pydantic.Field(default_factory=dict)
    items: list[int] = pydantic.Field(default_factory=list, max_length=2)

    @pydantic.field_validator("ratio")
    @classmethod
    def _ours(cls, value: float) -> float:
        if value > 1:
            raise ValueError("a ratio is at most 1")
        return value


@pytest.mark.parametrize(
    ("document", "where", "expected"),
    [
        ({}, "name", "is required"),
        ({"name": "ab", "colour": 1}, "colour", "is not a known field"),
        ({"name": 3}, "name", "must be a string"),
        ({"name": "a"}, "name", "must be at least 2 characters long"),
        ({"name": "abcde"}, "name", "must be at most 4 characters long"),
        ({"name": "AB"}, "name", "must match ^[a-z]+$"),
        ({"name": "ab", "count": "1"}, "count", "must be an integer"),
        ({"name": "ab", "count": -1}, "count", "must be at least 0"),
        ({"name": "ab", "count": 10}, "count", "must be at most 9"),
        ({"name": "ab", "ratio": "x"}, "ratio", "must be a number"),
        ({"name": "ab", "ratio": 2.0}, "ratio", "a ratio is at most 1"),
        ({"name": "ab", "flag": "yes"}, "flag", "must be true or false"),
        ({"name": "ab", "scope": "galaxy"}, "scope", "must be 'global' or 'container'"),
        ({"name": "ab", "options": []}, "options", "must be a mapping"),
        ({"name": "ab", "items": {}}, "items", "must be a list"),
        ({"name": "ab", "items": [1, 2, 3]}, "items", "must have at most 2 items"),
    ],
)
def test_reason_and_location(document: dict[str, Any], where: str, expected: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Sample.model_validate(document)
    (error,) = caught.value.errors()
    assert (problems.location(error), problems.reason(error)) == (where, expected)


def test_location_skips_the_frameworks_prefixes() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        pydantic.TypeAdapter(dict[str, Sample]).validate_python({"body": {}})
    (error,) = caught.value.errors()
    assert problems.location(error, skip=("body",)) == "name"
