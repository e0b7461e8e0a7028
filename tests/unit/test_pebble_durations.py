"""Go's duration syntax both ways, as Pebble reads layers and prints the plan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runecraft.agents.pebble import _durations

GO_MAX = (1 << 63) - 1


@pytest.mark.parametrize(
    ("text", "nanoseconds", "printed"),
    [
        ("0", 0, "0s"),
        ("0s", 0, "0s"),
        ("-0", 0, "0s"),
        ("1m0s", 60_000_000_000, "1m0s"),
        ("60s", 60_000_000_000, "1m0s"),
        ("500ms", 500_000_000, "500ms"),
        ("0.1s", 100_000_000, "100ms"),
        ("1.5s", 1_500_000_000, "1.5s"),
        ("4.000s", 4_000_000_000, "4s"),  # what ops sends as a timeout
        ("168h", 604_800_000_000_000, "168h0m0s"),
        ("1h30m", 5_400_000_000_000, "1h30m0s"),
        ("-1.5h", -5_400_000_000_000, "-1h30m0s"),
        ("+5s", 5_000_000_000, "5s"),
        (".5s", 500_000_000, "500ms"),
        ("5.s", 5_000_000_000, "5s"),
        ("1h1h", 7_200_000_000_000, "2h0m0s"),
        ("1us", 1_000, "1µs"),
        ("1.5\u00b5s", 1_500, "1.5µs"),
        ("2\u03bcs", 2_000, "2µs"),
        ("100ns", 100, "100ns"),
        ("1.000000001s", 1_000_000_001, "1.000000001s"),
        ("1.0000000001s", 1_000_000_000, "1s"),  # below a nanosecond: truncated
        ("2562047h47m16.854775807s", GO_MAX, "2562047h47m16.854775807s"),
        ("-2562047h47m16.854775808s", -GO_MAX - 1, "-2562047h47m16.854775808s"),
    ],
)
def test_go_durations_parse_to_nanoseconds_and_print_as_go_does(
    text: str, nanoseconds: int, printed: str
) -> None:
    assert _durations.parse_duration_ns(text) == nanoseconds
    assert _durations.format_duration_ns(nanoseconds) == printed
    assert _durations.parse_duration(text) == nanoseconds / 1e9
    assert _durations.format_duration(nanoseconds / 1e9) == printed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("-", 'time: invalid duration "-"'),
        ("5", 'time: missing unit in duration "5"'),
        ("s", 'time: invalid duration "s"'),
        (".s", 'time: invalid duration ".s"'),
        ("1x", 'time: unknown unit "x" in duration "1x"'),
        ("1s ", 'time: unknown unit "s " in duration "1s "'),
        (" 1s", 'time: invalid duration " 1s"'),
        ("--1s", 'time: invalid duration "--1s"'),
        ("1.s.", 'time: invalid duration "1.s."'),
        ("2562047h47m16.854775808s", 'time: invalid duration "2562047h47m16.854775808s"'),
        ("9999999999999999999h", 'time: invalid duration "9999999999999999999h"'),
    ],
)
def test_malformed_durations_fail_with_go_messages(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        _durations.parse_duration_ns(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("seconds", "printed"),
    [(0.0, "0s"), (0.5, "500ms"), (60.0, "1m0s"), (604800.0, "168h0m0s"), (-0.25, "-250ms")],
)
def test_seconds_print_as_go_durations(seconds: float, printed: str) -> None:
    assert _durations.format_duration(seconds) == printed


@given(st.integers(min_value=-GO_MAX - 1, max_value=GO_MAX))
def test_every_go_duration_prints_and_parses_back(nanoseconds: int) -> None:
    printed = _durations.format_duration_ns(nanoseconds)
    assert _durations.parse_duration_ns(printed) == nanoseconds


@given(st.integers(min_value=-(1 << 51), max_value=1 << 51))
def test_seconds_keep_every_nanosecond_up_to_weeks(nanoseconds: int) -> None:
    seconds = nanoseconds / 1e9
    assert _durations.parse_duration(_durations.format_duration(seconds)) == seconds
    assert _durations.format_duration(seconds) == _durations.format_duration_ns(nanoseconds)


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10_000),
            st.sampled_from(["ns", "us", "µs", "ms", "s", "m", "h"]),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_components_add_up(parts: list[tuple[int, str]]) -> None:
    scale = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9}
    scale["h"] = 3600 * 10**9
    text = "".join(f"{value}{unit}" for value, unit in parts)
    expected = sum(value * scale[unit] for value, unit in parts)
    assert _durations.parse_duration_ns(text) == expected
    assert _durations.parse_duration_ns("-" + text) == -expected
