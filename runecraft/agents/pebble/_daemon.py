"""The composition root: one `Daemon` per `rune-pebble run`, holding every part and the routes."""

from __future__ import annotations
