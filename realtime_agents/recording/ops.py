"""Value types passed from the event tracker to the database writer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

MAX_TEXT = 100_000  # a runaway tool output must not make one row huge
MAX_MESSAGE = 2_000

OpKind = Literal["item", "tool", "event", "item_update"]


@dataclass(frozen=True, kw_only=True)
class RowOp:
    """One row to create (`item`, `tool`, `event`) or, for `item_update`, new values for a written item."""

    kind: OpKind
    fields: dict[str, Any]
    sequence: int | None = None


@dataclass(frozen=True, kw_only=True)
class Totals:
    """What the conversation row carries besides its identity; times are epoch seconds."""

    final_agent_name: str
    turn_count: int
    response_count: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    input_audio_seconds: float
    output_audio_seconds: float
    last_activity: float
    # Counted as the rows are queued, so the admin list can sort by them without counting rows.
    tool_run_count: int = 0
    tool_error_count: int = 0
    guardrail_trip_count: int = 0


def clip_text(value: Any, limit: int = MAX_TEXT) -> str:
    """A value as bounded text: strings as they are, anything else as JSON (or repr)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            value = json.dumps(value, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            value = repr(value)
    return value[:limit]
