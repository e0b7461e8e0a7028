"""Go's duration syntax (`time.ParseDuration`, `Duration.String`): what layers and the API use.

Pebble keeps durations as integer nanoseconds and prints them with Go's `Duration.String()`,
so the plan shows `1m0s` for a layer's `60s`. Parsing works in integer nanoseconds the way
Go does (including its float step for fractions) so that a value prints back exactly as
Pebble would print it; the `float` seconds API is for the rest of the agent.
"""

from __future__ import annotations

from decimal import Decimal

from . import _gotext

__all__ = [
    "format_duration",
    "format_duration_ns",
    "parse_duration",
    "parse_duration_ns",
]

_MAX = 1 << 63
"""Go's `Duration` is an int64 of nanoseconds: magnitudes above this overflow."""

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # MICRO SIGN
    "\u03bcs": 1_000,  # GREEK SMALL LETTER MU
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (`500ms`, `1m30s`, `4.000s`, `-1.5h`); ValueError if malformed."""
    return parse_duration_ns(text) / 1e9


def format_duration(seconds: float) -> str:
    """Go's `Duration.String()` of `seconds`: `1m0s`, `500ms`, `168h0m0s`, `0s`.

    Nanoseconds are exact up to about 52 days; beyond Go's range the value saturates."""
    nanoseconds = round(Decimal(seconds) * 1_000_000_000)
    return format_duration_ns(max(-_MAX, min(_MAX - 1, nanoseconds)))


def _invalid(orig: str) -> ValueError:
    return ValueError(f"time: invalid duration {_gotext.go_quote(orig)}")


def _digits(text: str, start: int) -> int:
    """The index just past the ASCII digits at `start`."""
    end = start
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return end


def _leading_fraction(digits: str) -> tuple[int, float]:
    """Go's `leadingFraction`: the digits as an integer and their scale, stopping (but still
    consuming) once more digits would overflow."""
    value, scale = 0, 1.0
    for char in digits:
        following = value * 10 + int(char)
        if value > (_MAX - 1) // 10 or following > _MAX:
            break
        value, scale = following, scale * 10
    return value, scale


def parse_duration_ns(text: str) -> int:
    """Nanoseconds in a Go duration, exactly as `time.ParseDuration` computes them."""
    orig, rest, negative = text, text, False
    if rest[:1] in ("-", "+"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise _invalid(orig)
    total, pos = 0, 0
    while pos < len(rest):
        total += _parse_component(orig, rest, pos)
        pos = _component_end(rest, pos)
        if total > _MAX:
            raise _invalid(orig)
    if not negative and total > _MAX - 1:
        raise _invalid(orig)
    return -total if negative else total


def _component_end(rest: str, pos: int) -> int:
    """Where the `[0-9]*(.[0-9]*)?unit` component starting at `pos` ends."""
    pos = _digits(rest, pos)
    if pos < len(rest) and rest[pos] == ".":
        pos = _digits(rest, pos + 1)
    while pos < len(rest) and not (rest[pos] == "." or "0" <= rest[pos] <= "9"):
        pos += 1
    return pos


def _parse_component(orig: str, rest: str, pos: int) -> int:
    """Nanoseconds of one `[0-9]*(.[0-9]*)?unit` component of `rest`, starting at `pos`."""
    if not (rest[pos] == "." or "0" <= rest[pos] <= "9"):
        raise _invalid(orig)
    int_end = _digits(rest, pos)
    whole = int(rest[pos:int_end] or "0")
    if whole > _MAX:
        raise _invalid(orig)
    fraction, scale, frac_end = 0, 1.0, int_end
    if int_end < len(rest) and rest[int_end] == ".":
        frac_end = _digits(rest, int_end + 1)
        fraction, scale = _leading_fraction(rest[int_end + 1 : frac_end])
    if int_end == pos and frac_end <= int_end + 1:
        raise _invalid(orig)
    unit_end = _component_end(rest, pos)
    unit_text = rest[frac_end:unit_end]
    if not unit_text:
        raise ValueError(f"time: missing unit in duration {_gotext.go_quote(orig)}")
    unit = _UNITS.get(unit_text)
    if unit is None:
        raise ValueError(
            f"time: unknown unit {_gotext.go_quote(unit_text)} in duration {_gotext.go_quote(orig)}"
        )
    if whole > _MAX // unit:
        raise _invalid(orig)
    value = whole * unit
    if fraction > 0:
        value += int(float(fraction) * (float(unit) / scale))
        if value > _MAX:
            raise _invalid(orig)
    return value


def _fraction_text(value: int, precision: int) -> tuple[str, int]:
    """Go's `fmtFrac`: `.ddd` of the low `precision` digits, trailing zeros dropped."""
    value, low = divmod(value, 10**precision)
    digits = f"{low:0{precision}d}".rstrip("0")
    return ("." + digits if digits else ""), value


def format_duration_ns(nanoseconds: int) -> str:
    """Go's `Duration.String()` of a count of nanoseconds."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    magnitude = abs(nanoseconds)
    if magnitude < 1_000_000_000:
        if magnitude < 1_000:
            return f"{sign}{magnitude}ns"
        precision, unit = (3, "\u00b5s") if magnitude < 1_000_000 else (6, "ms")
        fraction, whole = _fraction_text(magnitude, precision)
        return f"{sign}{whole}{fraction}{unit}"
    fraction, seconds = _fraction_text(magnitude, 9)
    text = f"{seconds % 60}{fraction}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text
