"""Builders of recorded conversations (real rows) for the export, retention and analytics tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from realtime_agents.models import Channel, Conversation, ConversationEvent, ToolRun, TranscriptItem


def conversation(
    slug: str,
    started_at: datetime,
    *,
    duration_s: float | None = 60.0,
    channel: Channel | None = None,
    texts: Sequence[tuple[str, str]] = (),
    latencies_ms: Sequence[float] = (),
    tools: Sequence[tuple[str, str]] = (),
    events: Sequence[tuple[str, dict[str, Any]]] = (),
    **fields: Any,
) -> Conversation:
    """A conversation on `slug` with (role, text) items, assistant latencies, (tool, status) runs and events."""
    ended = None if duration_s is None else started_at + timedelta(seconds=duration_s)
    values: dict[str, Any] = {
        "channel": channel, "channel_slug": slug, "starting_agent_name": "Concierge", "final_agent_name": "Concierge",
        "started_at": started_at, "ended_at": ended, "end_reason": "client_closed" if ended else "",
        "status": Conversation.Status.ENDED if ended else Conversation.Status.ACTIVE,
    }
    values.update(fields)
    row = Conversation.objects.create(**values)
    sequence = 0
    moment = started_at
    for role, text in texts:
        sequence += 1
        moment += timedelta(seconds=1)
        TranscriptItem.objects.create(conversation=row, sequence=sequence, role=role, text=text, started_at=moment,
                                      agent_name="Concierge" if role == "assistant" else "")
    for latency in latencies_ms:
        sequence += 1
        moment += timedelta(seconds=1)
        TranscriptItem.objects.create(conversation=row, sequence=sequence, role="assistant", text="ok",
                                      started_at=moment, response_latency_ms=latency, agent_name="Concierge")
    for name, status in tools:
        sequence += 1
        moment += timedelta(seconds=1)
        ToolRun.objects.create(conversation=row, sequence=sequence, tool_name=name, call_id=f"call_{sequence}",
                               arguments='{"x": 1}', output="done", status=status, started_at=moment, duration_ms=12.5)
    for kind, data in events:
        sequence += 1
        moment += timedelta(seconds=1)
        ConversationEvent.objects.create(conversation=row, sequence=sequence, kind=kind, data=data, created_at=moment,
                                         agent_name="Concierge")
    return row


def bulk_history(slug: str, start: datetime, count: int, *, text: str = "hello", per_conversation: int = 3) -> None:
    """`count` conversations of `per_conversation` items, a tool run and an event each, inserted in bulk."""
    conversations = Conversation.objects.bulk_create([
        Conversation(channel_slug=slug, starting_agent_name="Concierge", started_at=start + timedelta(minutes=n),
                     ended_at=start + timedelta(minutes=n, seconds=30), status=Conversation.Status.ENDED)
        for n in range(count)
    ], batch_size=500)
    if conversations[0].pk is None:  # backends without RETURNING on bulk insert
        conversations = list(Conversation.objects.filter(channel_slug=slug).order_by("pk"))
    items: list[TranscriptItem] = []
    runs: list[ToolRun] = []
    events: list[ConversationEvent] = []
    for row in conversations:
        for sequence in range(1, per_conversation + 1):
            items.append(TranscriptItem(conversation=row, sequence=sequence, role="user", text=f"{text} {sequence}",
                                        started_at=row.started_at))
        runs.append(ToolRun(conversation=row, sequence=per_conversation + 1, tool_name="lookup", call_id="c",
                            status="ok", started_at=row.started_at))
        events.append(ConversationEvent(conversation=row, sequence=per_conversation + 2, kind="handoff",
                                        data={"from": "A", "to": "B"}, created_at=row.started_at))
    TranscriptItem.objects.bulk_create(items, batch_size=1000)
    ToolRun.objects.bulk_create(runs, batch_size=1000)
    ConversationEvent.objects.bulk_create(events, batch_size=1000)
