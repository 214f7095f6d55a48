"""Token usage as reported by `response.done`, accumulated over a session."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True)
class Usage:
    """Cumulative token counts; `add` folds in one response's usage object."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_audio_tokens: int = 0
    input_text_tokens: int = 0
    cached_tokens: int = 0
    output_audio_tokens: int = 0
    output_text_tokens: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, usage: Mapping[str, Any] | None) -> None:
        """Add one `response.done` usage object (GA shape) to the totals."""
        if not usage:
            return
        self.requests += 1
        self.input_tokens += int(usage.get("input_tokens") or 0)
        self.output_tokens += int(usage.get("output_tokens") or 0)
        self.total_tokens += int(usage.get("total_tokens") or 0)
        inputs = usage.get("input_token_details") or {}
        outputs = usage.get("output_token_details") or {}
        self.input_audio_tokens += int(inputs.get("audio_tokens") or 0)
        self.input_text_tokens += int(inputs.get("text_tokens") or 0)
        self.cached_tokens += int(inputs.get("cached_tokens") or 0)
        self.output_audio_tokens += int(outputs.get("audio_tokens") or 0)
        self.output_text_tokens += int(outputs.get("text_tokens") or 0)
