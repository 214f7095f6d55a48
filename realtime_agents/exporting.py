"""Streaming export of conversations with their rows as JSONL or CSV, for the admin and a command."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from itertools import groupby
from typing import Any, Literal

from asgiref.sync import sync_to_async
from django.contrib import admin
from django.core.handlers.asgi import ASGIRequest
from django.db.models import Model, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from .models import Conversation, ConversationEvent, ToolRun, TranscriptItem

logger = logging.getLogger("realtime_agents.exporting")

ExportFormat = Literal["jsonl", "csv"]
FORMATS: tuple[str, ...] = ("jsonl", "csv")
CHUNK_SIZE = 500
FLUSH_BYTES = 64 * 1024

CONVERSATION_COLUMNS = (
    "conversation_id", "channel", "starting_agent", "final_agent", "status", "started_at", "ended_at",
    "duration_s", "end_reason", "turn_count", "response_count", "input_tokens", "output_tokens",
)
ROW_COLUMNS = (
    "row_type", "sequence", "time", "agent", "role", "text", "row_status", "response_latency_ms", "audio_ms",
    "tool_name", "arguments", "output", "approval", "decided_by", "duration_ms", "event_kind", "event_data",
)
CSV_COLUMNS = CONVERSATION_COLUMNS + ROW_COLUMNS
# Spreadsheets run cells starting with these as formulas; transcripts are caller-controlled text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def conversation_dict(conversation: Conversation) -> dict[str, Any]:
    """The conversation's own columns as JSON-ready values."""
    return {
        "conversation_id": str(conversation.public_id),
        "channel": conversation.channel_slug,
        "starting_agent": conversation.starting_agent_name,
        "final_agent": conversation.final_agent_name,
        "status": conversation.status,
        "started_at": _iso(conversation.started_at),
        "ended_at": _iso(conversation.ended_at),
        "duration_s": conversation.duration_seconds,
        "end_reason": conversation.end_reason,
        "turn_count": conversation.turn_count,
        "response_count": conversation.response_count,
        "input_tokens": conversation.input_tokens,
        "output_tokens": conversation.output_tokens,
    }


def item_dict(item: TranscriptItem) -> dict[str, Any]:
    """One transcript item as JSON-ready values."""
    return {"sequence": item.sequence, "time": _iso(item.started_at), "ended_at": _iso(item.ended_at),
            "role": item.role, "agent": item.agent_name, "text": item.text, "status": item.status,
            "item_id": item.item_id, "audio_ms": item.audio_ms, "response_latency_ms": item.response_latency_ms}


def tool_run_dict(run: ToolRun) -> dict[str, Any]:
    """One tool run as JSON-ready values."""
    return {"sequence": run.sequence, "time": _iso(run.started_at), "agent": run.agent_name,
            "tool_name": run.tool_name, "call_id": run.call_id, "arguments": run.arguments, "output": run.output,
            "status": run.status, "approval": run.approval, "decided_by": run.decided_by,
            "duration_ms": run.duration_ms}


def event_dict(event: ConversationEvent) -> dict[str, Any]:
    """One conversation event as JSON-ready values."""
    return {"sequence": event.sequence, "time": _iso(event.created_at), "agent": event.agent_name,
            "kind": event.kind, "data": event.data}


class _Grouped:
    """Rows of many conversations, read once in conversation order and handed out one conversation at a time."""

    def __init__(self, rows: QuerySet[Any], chunk_size: int) -> None:
        ordered = rows.order_by("conversation_id", "sequence").iterator(chunk_size=chunk_size)
        self._groups = groupby(ordered, key=lambda row: row.conversation_id)
        self._pending: tuple[int, Iterator[Any]] | None = None
        self._done = False

    def take(self, conversation_id: int) -> list[Any]:
        """The rows of `conversation_id`; rows of conversations not asked for are skipped."""
        while not self._done:
            if self._pending is None:
                try:
                    self._pending = next(self._groups)
                except StopIteration:
                    self._done = True
                    break
            key, rows = self._pending
            if key > conversation_id:
                break
            self._pending = None
            if key == conversation_id:
                return list(rows)
        return []


def iter_conversations(conversations: QuerySet[Conversation], *, chunk_size: int = CHUNK_SIZE
                       ) -> Iterator[tuple[Conversation, list[TranscriptItem], list[ToolRun], list[ConversationEvent]]]:
    """Each conversation with its items, tool runs and events, streamed: one conversation in memory at a time."""
    if not isinstance(conversations, QuerySet) or conversations.model is not Conversation:
        raise TypeError("iter_conversations takes a QuerySet of Conversation")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    # Four ordered cursors merged side by side instead of three queries per conversation.
    ids = conversations.order_by().values("pk")
    items = _Grouped(TranscriptItem.objects.filter(conversation_id__in=ids), chunk_size)
    tools = _Grouped(ToolRun.objects.filter(conversation_id__in=ids), chunk_size)
    events = _Grouped(ConversationEvent.objects.filter(conversation_id__in=ids), chunk_size)
    for conversation in conversations.order_by("pk").iterator(chunk_size=chunk_size):
        yield conversation, items.take(conversation.pk), tools.take(conversation.pk), events.take(conversation.pk)


def iter_jsonl(conversations: QuerySet[Conversation], *, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """One JSON line per conversation, its rows nested under items, tool_runs and events."""
    for conversation, items, tools, events in iter_conversations(conversations, chunk_size=chunk_size):
        record = conversation_dict(conversation)
        record["items"] = [item_dict(item) for item in items]
        record["tool_runs"] = [tool_run_dict(run) for run in tools]
        record["events"] = [event_dict(event) for event in events]
        yield json.dumps(record, ensure_ascii=False, default=str) + "\n"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_rows(items: list[TranscriptItem], tools: list[ToolRun], events: list[ConversationEvent]
              ) -> list[tuple[int, dict[str, Any]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    for item in items:
        rows.append((item.sequence, {
            "row_type": "item", "sequence": item.sequence, "time": _iso(item.started_at), "agent": item.agent_name,
            "role": item.role, "text": item.text, "row_status": item.status,
            "response_latency_ms": item.response_latency_ms, "audio_ms": item.audio_ms}))
    for run in tools:
        rows.append((run.sequence, {
            "row_type": "tool_run", "sequence": run.sequence, "time": _iso(run.started_at), "agent": run.agent_name,
            "row_status": run.status, "tool_name": run.tool_name, "arguments": run.arguments, "output": run.output,
            "approval": run.approval, "decided_by": run.decided_by, "duration_ms": run.duration_ms}))
    for event in events:
        rows.append((event.sequence, {
            "row_type": "event", "sequence": event.sequence, "time": _iso(event.created_at),
            "agent": event.agent_name, "event_kind": event.kind,
            "event_data": json.dumps(event.data, ensure_ascii=False, default=str)}))
    rows.sort(key=lambda pair: pair[0])
    return rows


def iter_csv(conversations: QuerySet[Conversation], *, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """A header, then one line per item, tool run and event (in conversation order) with the conversation columns.

    A conversation without rows still gets one line, with the row columns empty.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="raise")
    writer.writeheader()
    for conversation, items, tools, events in iter_conversations(conversations, chunk_size=chunk_size):
        head = conversation_dict(conversation)
        rows = _csv_rows(items, tools, events) or [(0, {})]
        for _, row in rows:
            writer.writerow({key: _cell(value) for key, value in {**head, **row}.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def iter_export(conversations: QuerySet[Conversation], export_format: str, *, chunk_size: int = CHUNK_SIZE
                ) -> Iterator[str]:
    """The export in `export_format` ("jsonl" or "csv") as a stream of text pieces."""
    if export_format == "jsonl":
        return iter_jsonl(conversations, chunk_size=chunk_size)
    if export_format == "csv":
        return iter_csv(conversations, chunk_size=chunk_size)
    raise ValueError(f"export format must be one of {', '.join(FORMATS)}, got {export_format!r}")


def _batched(pieces: Iterator[str]) -> Iterator[bytes]:
    # Pieces are small (one conversation); sending ~64 KiB at a time keeps the overhead per chunk low.
    pending: list[str] = []
    size = 0
    for piece in pieces:
        pending.append(piece)
        size += len(piece)
        if size >= FLUSH_BYTES:
            yield "".join(pending).encode()
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode()


async def _async_batches(batches: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Database work stays in Django's sync thread; the event loop only receives finished batches.
    step = sync_to_async(next, thread_sensitive=True)
    while True:
        batch = await step(batches, None)
        if batch is None:
            return
        yield batch


def export_response(request: HttpRequest, conversations: QuerySet[Conversation], export_format: str
                    ) -> StreamingHttpResponse:
    """A streaming download of the export; async under ASGI so Django does not buffer it whole."""
    pieces = iter_export(conversations, export_format)
    batches = _batched(pieces)
    content: Iterator[bytes] | AsyncIterator[bytes] = (
        _async_batches(batches) if isinstance(request, ASGIRequest) else batches
    )
    content_type = "application/x-ndjson" if export_format == "jsonl" else "text/csv"
    response = StreamingHttpResponse(content, content_type=f"{content_type}; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="conversations-{stamp}.{export_format}"'
    logger.info("user %s exports conversations as %s", getattr(request.user, "pk", None), export_format)
    return response


def _selected(queryset: QuerySet[Model]) -> QuerySet[Conversation]:
    # The action may run on a proxy's changelist; export the same rows as plain conversations.
    return Conversation.objects.filter(pk__in=queryset.order_by().values("pk"))


@admin.action(description="Export selected conversations as JSONL", permissions=["view"])
def export_jsonl(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Model]) -> StreamingHttpResponse:
    """Admin action: the selected conversations with their rows, one JSON line each."""
    return export_response(request, _selected(queryset), "jsonl")


@admin.action(description="Export selected conversations as CSV", permissions=["view"])
def export_csv(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Model]) -> StreamingHttpResponse:
    """Admin action: the selected conversations, one CSV line per item, tool run and event."""
    return export_response(request, _selected(queryset), "csv")
