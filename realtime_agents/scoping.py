"""Which conversations an export or a chart covers: a channel and a start-time range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from .models import Conversation


@dataclass(frozen=True, kw_only=True)
class ConversationScope:
    """Conversations of one channel (by slug, "" for all) started in [since, until); None leaves a side open."""

    channel: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.channel, str):
            raise TypeError(f"channel must be a channel slug (str), not {type(self.channel).__name__}")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, datetime):
                raise TypeError(f"{name} must be a datetime or None, not {type(value).__name__}")
            if timezone.is_naive(value):
                raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValueError(f"until ({self.until.isoformat()}) must be after since ({self.since.isoformat()})")

    def conversations(self) -> QuerySet[Conversation]:
        """The conversations in scope (unordered)."""
        rows = Conversation.objects.all()
        if self.channel:
            # The copied slug, so conversations of a deleted channel can still be selected.
            rows = rows.filter(channel_slug=self.channel)
        if self.since is not None:
            rows = rows.filter(started_at__gte=self.since)
        if self.until is not None:
            rows = rows.filter(started_at__lt=self.until)
        return rows.order_by()


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def parse_bound(value: str, *, end: bool) -> datetime:
    """A command-line or form bound: YYYY-MM-DD (a whole day; an end date is included) or an ISO datetime."""
    if not isinstance(value, str):
        raise TypeError(f"a date bound must be a str, not {type(value).__name__}")
    text = value.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return day_start(day + timedelta(days=1)) if end else day_start(day)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a date (YYYY-MM-DD) or an ISO datetime, got {value!r}") from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
