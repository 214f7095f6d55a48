"""Conversation queries shared by the admin and the API: summary counts, filters, the timeline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ..models import Conversation, ConversationEvent, ToolRun, TranscriptItem
from ..models.conversations import TOOL_ERROR_STATUSES


class FilterError(ValueError):
    """A filter value that cannot be understood."""


def had_tool_error() -> Exists:
    """True for conversations with at least one failed tool run."""
    return Exists(ToolRun.objects.filter(conversation=OuterRef("pk"), status__in=TOOL_ERROR_STATUSES))


def had_event(kind: str) -> Exists:
    """True for conversations with at least one event of `kind`."""
    return Exists(ConversationEvent.objects.filter(conversation=OuterRef("pk"), kind=kind))


def agent_q(name: str) -> Q:
    """Conversations an agent took part in: started, finished, or was handed (so spoke in)."""
    # The agent of a message only ever changes by a handoff, so "handed to" covers "spoke in" while
    # reading the small event table instead of every transcript message.
    # IN rather than EXISTS: inside an OR, PostgreSQL costs a correlated EXISTS per row, which over
    # 100k conversations crossed the JIT threshold and spent more time compiling than counting.
    handed = ConversationEvent.objects.filter(kind=ConversationEvent.Kind.HANDOFF, data__to_agent=name)
    return Q(starting_agent_name=name) | Q(final_agent_name=name) | Q(pk__in=handed.values("conversation_id"))


# Enough for any filter sidebar; a column with more distinct values is not a useful list filter.
MAX_DISTINCT_VALUES = 500


def distinct_values(column: str) -> list[str]:
    """The distinct non-empty values of an indexed text column of Conversation, in order.

    A recursive query jumps from one value to the next through the column's index (PostgreSQL has no
    skip scan of its own), so the cost grows with the number of values, not of conversations.
    """
    field = Conversation._meta.get_field(column)
    connection = connections[router.db_for_read(Conversation)]
    quote = connection.ops.quote_name
    table, name = quote(Conversation._meta.db_table), quote(field.column)
    sql = (
        f"WITH RECURSIVE found(value, n) AS ("
        f" SELECT (SELECT MIN({name}) FROM {table} WHERE {name} > %s), 1"
        f" UNION ALL"
        f" SELECT (SELECT MIN({name}) FROM {table} WHERE {name} > found.value), n + 1"
        f" FROM found WHERE found.value IS NOT NULL AND n < %s"
        f") SELECT value FROM found WHERE value IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ["", MAX_DISTINCT_VALUES])
        return [row[0] for row in cursor.fetchall()]


@dataclass(frozen=True, kw_only=True)
class ConversationFilters:
    """The filters of the conversation list; None means "don't filter on this"."""

    channel: str | None = None
    agent: str | None = None
    started_after: dt.datetime | None = None
    started_before: dt.datetime | None = None
    end_reason: str | None = None
    tool_error: bool | None = None
    guardrail_tripped: bool | None = None
    handed_off: bool | None = None

    def apply(self, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        """The queryset narrowed by every set filter."""
        if self.channel is not None:
            queryset = queryset.filter(channel_slug=self.channel)
        if self.agent is not None:
            queryset = queryset.filter(agent_q(self.agent))
        if self.started_after is not None:
            queryset = queryset.filter(started_at__gte=self.started_after)
        if self.started_before is not None:
            queryset = queryset.filter(started_at__lt=self.started_before)
        if self.end_reason is not None:
            queryset = queryset.filter(end_reason=self.end_reason)
        for flag, condition in (
            (self.tool_error, had_tool_error()),
            (self.guardrail_tripped, had_event(ConversationEvent.Kind.GUARDRAIL_TRIPPED)),
            (self.handed_off, had_event(ConversationEvent.Kind.HANDOFF)),
        ):
            if flag is not None:
                queryset = queryset.filter(condition if flag else ~condition)
        return queryset


FILTER_PARAMS = (
    "channel",
    "agent",
    "started_after",
    "started_before",
    "end_reason",
    "tool_error",
    "guardrail_tripped",
    "handed_off",
)


def parse_filters(params: Mapping[str, str]) -> ConversationFilters:
    """Filters from query parameters; raises FilterError naming the bad parameter."""
    values: dict[str, Any] = {}
    for name in ("channel", "agent", "end_reason"):
        if params.get(name):
            values[name] = params[name]
    for name in ("started_after", "started_before"):
        if params.get(name):
            values[name] = _parse_moment(name, params[name])
    for name in ("tool_error", "guardrail_tripped", "handed_off"):
        if params.get(name):
            values[name] = _parse_bool(name, params[name])
    return ConversationFilters(**values)


def _parse_moment(name: str, raw: str) -> dt.datetime:
    """An ISO date (midnight, current time zone) or date-time (naive ones in the current time zone)."""
    try:
        moment = parse_datetime(raw)
        if moment is None:
            day = parse_date(raw)
            if day is None:
                raise ValueError(raw)
            moment = dt.datetime.combine(day, dt.time())
    except ValueError:
        raise FilterError(
            f"{name}: expected an ISO date or date-time (2026-11-01, 2026-11-01T12:00:00Z), got {raw!r}."
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _parse_bool(name: str, raw: str) -> bool:
    """true/false, 1/0, yes/no."""
    lowered = raw.strip().lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise FilterError(f"{name}: expected true or false, got {raw!r}.")


@dataclass(frozen=True, kw_only=True)
class TimelineEntry:
    """One row of a conversation in sequence order: a message, a tool run or an event."""

    sequence: int
    kind: str  # "message", "tool_run" or "event"
    row: TranscriptItem | ToolRun | ConversationEvent


def timeline(conversation: Conversation) -> list[TimelineEntry]:
    """Messages, tool runs and events of a conversation merged by their shared sequence (3 queries)."""
    entries = [
        *(
            TimelineEntry(sequence=row.sequence, kind="message", row=row)
            for row in conversation.transcript_items.all()
        ),
        *(
            TimelineEntry(sequence=row.sequence, kind="tool_run", row=row)
            for row in conversation.tool_runs.all()
        ),
        *(TimelineEntry(sequence=row.sequence, kind="event", row=row) for row in conversation.events.all()),
    ]
    entries.sort(key=lambda entry: entry.sequence)
    return entries
