"""The Kubernetes substrate (lightkube is used only in `_api`)."""

from __future__ import annotations

from runecraft.controller.providers.kubernetes._provider import (
    DEFAULT_AGENT_IMAGE,
    KubernetesProvider,
)

__all__ = ["DEFAULT_AGENT_IMAGE", "KubernetesProvider"]
