"""Go-style durations (`5m`, `600s`, `1h30m`, `0.001s`), as Juju's CLI and model config use."""

from __future__ import annotations

__all__ = ["parse_duration"]

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "ns": 1e-9}


def parse_duration(text: str | float) -> float:
    """Seconds from a Go duration or a bare number; `ValueError` names what is wrong."""
    if isinstance(text, int | float):
        return float(text)
    text = text.strip()
    if not text:
        raise ValueError("empty duration")
    try:
        return float(text)
    except ValueError:
        pass
    total, number, i = 0.0, "", 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = text[i : i + 2] if text[i : i + 2] in _UNITS else ch
        if unit not in _UNITS or not number:
            raise ValueError(f'invalid duration "{text}" (examples: 30s, 5m, 1h30m)')
        total += float(number) * _UNITS[unit]
        number = ""
        i += len(unit)
    if number:
        raise ValueError(f'invalid duration "{text}": missing unit (examples: 30s, 5m)')
    return total
