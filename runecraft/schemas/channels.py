"""Charmhub channels in their full form, `track/risk[/branch]`, as Juju records them: what
the Charmhub client asks for and what bundle planning compares with a charm's origin."""

from __future__ import annotations

from runecraft import errors

__all__ = ["RISKS", "parse_channel"]

RISKS = ("stable", "candidate", "beta", "edge")


def parse_channel(text: str) -> str:
    """A channel in Charmhub's full form, `track/risk[/branch]`: a bare risk (`edge`) is on
    the `latest` track, a bare track (`3.6`) at risk `stable`."""
    parts = text.split("/")
    if not text or len(parts) > 3 or not all(parts):
        raise errors.InvalidSpecError(f'invalid channel "{text}": expected [TRACK/]RISK[/BRANCH]')
    if len(parts) == 1:
        return f"latest/{text}" if text in RISKS else f"{text}/stable"
    if parts[0] in RISKS:  # risk/branch
        return f"latest/{text}"
    if parts[1] not in RISKS:
        raise errors.InvalidSpecError(
            f'invalid channel "{text}": risk "{parts[1]}" is not one of {", ".join(RISKS)}'
        )
    return text
