"""Plain-JSON shapes of conversations and their timeline rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..models import Conversation, ConversationEvent, ToolRun, TranscriptItem
from .queries import TimelineEntry


def _time(moment: dt.datetime | None) -> str | None:
    """ISO 8601, or None."""
    return moment.isoformat() if moment is not None else None


def conversation_summary(conversation: Conversation) -> dict[str, Any]:
    """A conversation as the list shows it (counts as stored by the recorder, as the admin list shows them)."""
    data: dict[str, Any] = {
        "id": str(conversation.public_id),
        "channel": conversation.channel_slug,
        "starting_agent": conversation.starting_agent_name,
        "final_agent": conversation.final_agent_name,
        "status": conversation.status,
        "started_at": _time(conversation.started_at),
        "ended_at": _time(conversation.ended_at),
        "duration_seconds": conversation.duration_seconds,
        "end_reason": conversation.end_reason,
        "turns": conversation.turn_count,
        "responses": conversation.response_count,
        "tool_runs": conversation.tool_run_count,
        "tool_errors": conversation.tool_error_count,
        "guardrail_trips": conversation.guardrail_trip_count,
        "usage": {
            "input_tokens": conversation.input_tokens,
            "output_tokens": conversation.output_tokens,
            "cached_tokens": conversation.cached_tokens,
            "input_audio_seconds": conversation.input_audio_seconds,
            "output_audio_seconds": conversation.output_audio_seconds,
        },
    }
    if hasattr(conversation, "search_rank"):
        data["search"] = {"rank": conversation.search_rank, "snippet_html": str(conversation.search_snippet)}
    return data


def timeline_entry(entry: TimelineEntry) -> dict[str, Any]:
    """One message, tool run or event with its type and sequence."""
    row = entry.row
    data: dict[str, Any] = {"type": entry.kind, "sequence": entry.sequence}
    if isinstance(row, TranscriptItem):
        data.update(
            role=row.role,
            agent=row.agent_name,
            text=row.text,
            status=row.status,
            item_id=row.item_id,
            audio_ms=row.audio_ms,
            started_at=_time(row.started_at),
            ended_at=_time(row.ended_at),
            response_latency_ms=row.response_latency_ms,
        )
    elif isinstance(row, ToolRun):
        data.update(
            tool=row.tool_name,
            agent=row.agent_name,
            call_id=row.call_id,
            arguments=row.arguments,
            output=row.output,
            status=row.status,
            approval=row.approval or None,
            decided_by=row.decided_by,
            started_at=_time(row.started_at),
            duration_ms=row.duration_ms,
        )
    elif isinstance(row, ConversationEvent):
        data.update(kind=row.kind, agent=row.agent_name, data=row.data, created_at=_time(row.created_at))
    return data
