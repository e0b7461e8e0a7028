"""`python -m runecraft.cli` is `rune`."""

from __future__ import annotations

from runecraft.cli import main

main()
