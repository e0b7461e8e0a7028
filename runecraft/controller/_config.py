"""Reading a controller's config file (kept light: the CLI imports it)."""

from __future__ import annotations

from pathlib import Path

import yaml

from runecraft.schemas.controller import ControllerConfig

__all__ = ["config_path", "load_config"]


def config_path(controller_dir: Path) -> Path:
    return controller_dir / "controller.yaml"


def load_config(controller_dir: Path) -> ControllerConfig:
    return ControllerConfig.model_validate(yaml.safe_load(config_path(controller_dir).read_text()))
