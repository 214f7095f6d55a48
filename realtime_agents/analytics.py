"""Conversation analytics as plain numbers: volume per day, durations, latencies, tools, handoffs, guardrails."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, FloatField, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import ConversationEvent, ToolRun, TranscriptItem
from .models.conversations import TOOL_ERROR_STATUSES
from .scoping import ConversationScope

MAX_DAYS = 366


@dataclass(frozen=True, kw_only=True)
class DayCount:
    """Conversations started on one day (in the site's time zone)."""

    day: date
    count: int


@dataclass(frozen=True, kw_only=True)
class Spread:
    """How many values, their median and their 95th percentile (None when there are none)."""

    count: int
    median: float | None
    p95: float | None


@dataclass(frozen=True, kw_only=True)
class ToolCount:
    """One tool's runs: all, successful, failed."""

    name: str
    runs: int
    ok: int
    errors: int


@dataclass(frozen=True, kw_only=True)
class ToolStats:
    """Tool runs by outcome, the rates, and the most used tools."""

    runs: int
    ok: int
    errors: int
    by_status: dict[str, int]
    top: list[ToolCount]

    @property
    def success_rate(self) -> float | None:
        """Share of runs that succeeded (0–1), None without runs."""
        return None if not self.runs else self.ok / self.runs

    @property
    def error_rate(self) -> float | None:
        """Share of runs that failed (0–1), None without runs."""
        return None if not self.runs else self.errors / self.runs


@dataclass(frozen=True, kw_only=True)
class Summary:
    """Everything the analytics page shows for one scope."""

    conversations: int
    per_day: list[DayCount]
    duration_s: Spread
    latency_ms: Spread
    tools: ToolStats
    handoffs: int
    guardrail_trips: int
    conversations_with_handoff: int
    conversations_with_trip: int


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont computes it."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within 0..1, got {fraction!r}")
    position = fraction * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def spread(values: Iterable[float]) -> Spread:
    """Median and p95 of `values`, computed in Python."""
    ordered = sorted(float(value) for value in values)
    if not ordered:
        return Spread(count=0, median=None, p95=None)
    return Spread(count=len(ordered), median=percentile(ordered, 0.5), p95=percentile(ordered, 0.95))


class _PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def _database_spread(rows: QuerySet[Any], expression: Any, output: Any) -> Spread:
    result = rows.aggregate(count=Count("pk"), median=_PercentileCont(expression, 0.5, output_field=output),
                            p95=_PercentileCont(expression, 0.95, output_field=output))

    def number(value: Any) -> float | None:
        if value is None:
            return None
        return value.total_seconds() if isinstance(value, timedelta) else float(value)

    return Spread(count=result["count"], median=number(result["median"]), p95=number(result["p95"]))


def _on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def duration_spread(scope: ConversationScope) -> Spread:
    """Median and p95 length in seconds of the ended conversations in scope."""
    ended = scope.conversations().filter(ended_at__isnull=False)
    if _on_postgresql():
        length = ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField())
        return _database_spread(ended, length, DurationField())
    return spread((end - start).total_seconds()
                  for start, end in ended.values_list("started_at", "ended_at").iterator(chunk_size=2000))


def latency_spread(scope: ConversationScope) -> Spread:
    """Median and p95 response latency in ms (end of user speech to first assistant audio)."""
    items = TranscriptItem.objects.filter(conversation_id__in=scope.conversations().values("pk"),
                                          role=TranscriptItem.Role.ASSISTANT, response_latency_ms__isnull=False)
    if _on_postgresql():
        return _database_spread(items, F("response_latency_ms"), FloatField())
    return spread(items.values_list("response_latency_ms", flat=True).iterator(chunk_size=2000))


def per_day(scope: ConversationScope) -> list[DayCount]:
    """Conversations started per day, days without any included (between the scope's bounds or the data's)."""
    zone = timezone.get_current_timezone()
    counted = {
        row["day"]: row["count"]
        for row in scope.conversations().annotate(day=TruncDate("started_at", tzinfo=zone))
        .values("day").annotate(count=Count("pk")).order_by("day")
    }
    first = timezone.localtime(scope.since, zone).date() if scope.since else min(counted, default=None)
    if scope.until is not None:
        # until is exclusive: the last day is the one holding the instant just before it.
        last: date | None = timezone.localtime(scope.until - timedelta(microseconds=1), zone).date()
    else:
        last = max(counted, default=None)
    if first is None or last is None or last < first:
        return []
    if (last - first).days >= MAX_DAYS:
        raise ValueError(f"a chart covers at most {MAX_DAYS} days, got {(last - first).days + 1}")
    return [DayCount(day=first + timedelta(days=n), count=counted.get(first + timedelta(days=n), 0))
            for n in range((last - first).days + 1)]


def tool_stats(scope: ConversationScope, *, top: int = 10) -> ToolStats:
    """Tool runs by status, success and error counts, and the `top` most used tools."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive int, got {top!r}")
    runs = ToolRun.objects.filter(conversation_id__in=scope.conversations().values("pk"))
    by_status = {row["status"]: row["count"]
                 for row in runs.values("status").annotate(count=Count("pk")).order_by("status")}
    failed = Q(status__in=TOOL_ERROR_STATUSES)
    leaders = (runs.values("tool_name")
               .annotate(runs=Count("pk"), ok=Count("pk", filter=Q(status="ok")), errors=Count("pk", filter=failed))
               .order_by("-runs", "tool_name")[:top])
    return ToolStats(
        runs=sum(by_status.values()), ok=by_status.get("ok", 0),
        errors=sum(by_status.get(status, 0) for status in TOOL_ERROR_STATUSES), by_status=by_status,
        top=[ToolCount(name=row["tool_name"], runs=row["runs"], ok=row["ok"], errors=row["errors"])
             for row in leaders],
    )


def event_counts(scope: ConversationScope) -> dict[str, int]:
    """Handoffs and guardrail trips, and how many conversations had at least one of each."""
    events = ConversationEvent.objects.filter(conversation_id__in=scope.conversations().values("pk"))
    handoff = Q(kind=ConversationEvent.Kind.HANDOFF)
    trip = Q(kind=ConversationEvent.Kind.GUARDRAIL_TRIPPED)
    return events.aggregate(
        handoffs=Count("pk", filter=handoff),
        guardrail_trips=Count("pk", filter=trip),
        conversations_with_handoff=Count("conversation_id", filter=handoff, distinct=True),
        conversations_with_trip=Count("conversation_id", filter=trip, distinct=True),
    )


def summarise(scope: ConversationScope, *, top_tools: int = 10) -> Summary:
    """Every figure of the analytics page for `scope`."""
    if not isinstance(scope, ConversationScope):
        raise TypeError(f"scope must be a ConversationScope, not {type(scope).__name__}")
    days = per_day(scope)
    return Summary(
        conversations=scope.conversations().count(), per_day=days, duration_s=duration_spread(scope),
        latency_ms=latency_spread(scope), tools=tool_stats(scope, top=top_tools), **event_counts(scope),
    )
