"""realtime_agents: a reusable Django app for realtime voice agents."""

from __future__ import annotations

from typing import Any

# Lazy: the engine's isolation test imports this package in a process without Django settings,
# so nothing here may import Django (or even the registry) at import time.
_LAZY = {
    "tool": ("realtime_agents.registry", "tool"),
    "guardrail_check": ("realtime_agents.registry", "guardrail_check"),
    "registry": ("realtime_agents.registry", "registry"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Resolve the public names on first use."""
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'realtime_agents' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value
