"""The stored per-conversation counts, recounted from a conversation's rows in one UPDATE."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from ..models import ConversationEvent, ToolRun
from ..models.conversations import TOOL_ERROR_STATUSES


def _count(queryset: QuerySet[Any]) -> Coalesce:
    """A correlated COUNT(*) of rows belonging to the outer conversation (0 when none)."""
    counted = queryset.filter(conversation=OuterRef("pk")).order_by().values("conversation")
    return Coalesce(Subquery(counted.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0)


def row_counts() -> dict[str, Coalesce]:
    """tool_run_count, tool_error_count and guardrail_trip_count as expressions over the rows.

    For `update()` (recounting) and `annotate()` (reading) alike; correlated subqueries rather than
    JOIN + COUNT, because joining two child tables multiplies rows.
    """
    return {
        "tool_run_count": _count(ToolRun.objects.all()),
        "tool_error_count": _count(ToolRun.objects.filter(status__in=TOOL_ERROR_STATUSES)),
        "guardrail_trip_count": _count(
            ConversationEvent.objects.filter(kind=ConversationEvent.Kind.GUARDRAIL_TRIPPED)
        ),
    }
