"""Substrate providers, discovered through the `runecraft.providers` entry points."""

from __future__ import annotations

from runecraft.controller.providers._base import (
    InstanceInfo,
    MachineSpec,
    Provider,
    ProviderContext,
    load_provider,
    provider_names,
)
from runecraft.controller.providers.fake import FakeCall, FakeProvider

__all__ = [
    "FakeCall",
    "FakeProvider",
    "InstanceInfo",
    "MachineSpec",
    "Provider",
    "ProviderContext",
    "load_provider",
    "provider_names",
]
