"""Database side of recording: one batch of row operations per transaction, and finalisation."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from ..models import Conversation, ConversationEvent, ToolRun, TranscriptItem
from .counts import row_counts
from .tracker import RowOp, Totals

logger = logging.getLogger("realtime_agents.recording.writer")

_TIME_FIELDS = ("started_at", "ended_at", "created_at")


def _when(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _fields(op: RowOp) -> dict[str, Any]:
    fields = dict(op.fields)
    for name in _TIME_FIELDS:
        if name in fields:
            fields[name] = _when(fields[name])
    return fields


def totals_fields(totals: Totals) -> dict[str, Any]:
    """The conversation columns a `Totals` sets."""
    return {
        "final_agent_name": totals.final_agent_name[:100],
        "turn_count": totals.turn_count,
        "response_count": totals.response_count,
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "cached_tokens": totals.cached_tokens,
        "input_audio_seconds": totals.input_audio_seconds,
        "output_audio_seconds": totals.output_audio_seconds,
        "last_activity_at": _when(totals.last_activity),
        "tool_run_count": totals.tool_run_count,
        "tool_error_count": totals.tool_error_count,
        "guardrail_trip_count": totals.guardrail_trip_count,
    }


def _apply(conversation_id: int, ops: Sequence[RowOp]) -> None:
    items: list[TranscriptItem] = []
    tools: list[ToolRun] = []
    events: list[ConversationEvent] = []
    updates: list[RowOp] = []
    for op in ops:
        if op.kind == "item":
            items.append(TranscriptItem(conversation_id=conversation_id, **_fields(op)))
        elif op.kind == "tool":
            tools.append(ToolRun(conversation_id=conversation_id, **_fields(op)))
        elif op.kind == "event":
            events.append(ConversationEvent(conversation_id=conversation_id, **_fields(op)))
        else:
            updates.append(op)
    if items:
        TranscriptItem.objects.bulk_create(items)
    if tools:
        ToolRun.objects.bulk_create(tools)
    if events:
        ConversationEvent.objects.bulk_create(events)
    # After the creates: an update may concern an item created in this same batch.
    for op in updates:
        TranscriptItem.objects.filter(conversation_id=conversation_id, sequence=op.sequence).update(**op.fields)


def write_batch(conversation_id: int, ops: Sequence[RowOp], totals: Totals | None) -> int:
    """Write `ops` and the running totals in one transaction; on failure retry op by op, skipping bad ones.

    Returns how many operations could not be written.
    """
    try:
        with transaction.atomic():
            _apply(conversation_id, ops)
            if totals is not None:
                Conversation.objects.filter(pk=conversation_id).update(**totals_fields(totals))
        return 0
    except DatabaseError as exc:
        if len(ops) <= 1:
            logger.error("conversation %s: could not write a %s row: %s", conversation_id,
                         ops[0].kind if ops else "totals", type(exc).__name__)
            return len(ops)
        logger.warning("conversation %s: batch of %d failed (%s); writing one by one", conversation_id, len(ops),
                       type(exc).__name__)
    lost = 0
    for op in ops:
        lost += write_batch(conversation_id, [op], None)
    if totals is not None:
        lost += write_batch(conversation_id, [], totals)
    return lost


def finalise(conversation_id: int, ops: Sequence[RowOp], totals: Totals, end_reason: str, *,
             recount: bool = False) -> int:
    """Write the last rows, then close the conversation with its end reason and totals.

    With `recount` (rows were lost earlier) or when rows are lost now, the stored counts are taken
    from the rows that did land rather than from the events seen.
    """
    lost = write_batch(conversation_id, ops, None) if ops else 0
    fields: dict[str, Any] = totals_fields(totals)
    if recount or lost:
        fields.update(row_counts())
    fields.update(status=Conversation.Status.ENDED, ended_at=timezone.now(), end_reason=end_reason)
    Conversation.objects.filter(pk=conversation_id).update(**fields)
    return lost


def create_conversation(**fields: Any) -> Conversation:
    """Insert the conversation row."""
    return Conversation.objects.create(**fields)
