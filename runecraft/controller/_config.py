"""Reading a controller's config file (kept light: the CLI imports it)."""

from __future__ import annotations

from pathlib import Path

import yaml

from runecraft.schemas.controller import ControllerConfig

__all__ = ["api_url", "ca_cert_path", "config_path", "load_config"]


def config_path(controller_dir: Path) -> Path:
    return controller_dir / "controller.yaml"


def ca_cert_path(controller_dir: Path) -> Path:
    """The controller's CA certificate (public), made at bootstrap (see `_tls`)."""
    return controller_dir / "tls" / "ca.crt"


def api_url(config: ControllerConfig) -> str:
    host = f"[{config.api_host}]" if ":" in config.api_host else config.api_host
    return f"{'https' if config.tls else 'http'}://{host}:{config.api_port}"


def load_config(controller_dir: Path) -> ControllerConfig:
    return ControllerConfig.model_validate(yaml.safe_load(config_path(controller_dir).read_text()))
