"""The ``config`` check: the TOML is readable and valid. Nothing else runs without it."""

from __future__ import annotations

from pathlib import Path

from borderx.config import GatewayConfig, load_config
from borderx.doctor._base import Check, error, passed
from borderx.errors import ConfigError


def check_config(config_path: str | Path) -> tuple[GatewayConfig | None, Check]:
    """Load the gateway config; the config (None when unusable) and the check that says so."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return None, error(
            "config",
            str(exc),
            f"fix {config_path} (see the example at the top of borderx/config.py), "
            f"then run `borderx doctor --config {config_path}` again",
        )
    return config, passed("config", f"{config_path}: agency {config.agency}, listen {config.listen}")
