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

__all__ = [
    "InstanceInfo",
    "MachineSpec",
    "Provider",
    "ProviderContext",
    "load_provider",
    "provider_names",
]
