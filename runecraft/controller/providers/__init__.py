"""Substrate providers, discovered through the `runecraft.providers` entry points."""

from __future__ import annotations

from runecraft.controller.providers import _base
from runecraft.controller.providers._base import *  # noqa: F403  (the provider contract)
from runecraft.controller.providers.fake import FakeCall, FakeProvider

__all__ = ["FakeCall", "FakeProvider"]
__all__ += _base.__all__
