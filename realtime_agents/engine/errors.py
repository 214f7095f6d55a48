"""Exception types shared by engine modules that must not import each other."""
from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names it."""
