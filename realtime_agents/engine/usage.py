"""Token usage as reported by `response.done`, accumulated over a session."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _count(usage: Mapping[str, Any], key: str) -> int:
    """One token count; missing or null is 0, anything but a non-negative integer is an error."""
    value = usage.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"usage {key} must be a non-negative integer, got {value!r}")
    return value


def _details(usage: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = usage.get(key) or {}
    if not isinstance(value, Mapping):
        raise TypeError(f"usage {key} must be an object, got {type(value).__name__}")
    return value


@dataclass(kw_only=True)
class Usage:
    """Cumulative token counts; `add` folds in one response's usage object."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_audio_tokens: int = 0
    input_text_tokens: int = 0
    input_image_tokens: int = 0
    cached_tokens: int = 0
    output_audio_tokens: int = 0
    output_text_tokens: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, usage: Mapping[str, Any] | None) -> None:
        """Add one `response.done` usage object (GA shape) to the totals."""
        if not usage:
            return
        if not isinstance(usage, Mapping):
            raise TypeError(f"usage must be an object, got {type(usage).__name__}")
        inputs = _details(usage, "input_token_details")
        outputs = _details(usage, "output_token_details")
        # Validate everything before changing anything, so a bad object leaves the totals intact.
        counts = {
            "input_tokens": _count(usage, "input_tokens"),
            "output_tokens": _count(usage, "output_tokens"),
            "total_tokens": _count(usage, "total_tokens"),
            "input_audio_tokens": _count(inputs, "audio_tokens"),
            "input_text_tokens": _count(inputs, "text_tokens"),
            "input_image_tokens": _count(inputs, "image_tokens"),
            "cached_tokens": _count(inputs, "cached_tokens"),
            "output_audio_tokens": _count(outputs, "audio_tokens"),
            "output_text_tokens": _count(outputs, "text_tokens"),
        }
        self.requests += 1
        for name, value in counts.items():
            setattr(self, name, getattr(self, name) + value)
