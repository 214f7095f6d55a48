"""Retention: delete conversations older than their channel's retention period, in batches."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import Channel, Conversation, ConversationEvent, ToolRun, TranscriptItem

logger = logging.getLogger("realtime_agents.retention")

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True, kw_only=True)
class PurgeReport:
    """What a purge deleted (or, in a dry run, would delete) on one channel."""

    channel: str
    retention_days: int
    cutoff: datetime
    conversations: int
    items: int
    tool_runs: int
    events: int
    dry_run: bool


def expired_conversations(channel: Channel, *, now: datetime) -> QuerySet[Conversation]:
    """The channel's conversations that started before its retention cutoff (none without a retention period)."""
    if channel.retention_days is None:
        return Conversation.objects.none()
    cutoff = now - timedelta(days=channel.retention_days)
    return Conversation.objects.filter(channel_id=channel.pk, started_at__lt=cutoff).order_by()


def _delete_batch(ids: list[int]) -> tuple[int, int, int, int]:
    with transaction.atomic():
        # Children first, each in one statement, so the conversation delete has nothing left to cascade.
        items, _ = TranscriptItem.objects.filter(conversation_id__in=ids).delete()
        runs, _ = ToolRun.objects.filter(conversation_id__in=ids).delete()
        events, _ = ConversationEvent.objects.filter(conversation_id__in=ids).delete()
        conversations, _ = Conversation.objects.filter(pk__in=ids).delete()
    return conversations, items, runs, events


def purge_channel(channel: Channel, *, now: datetime | None = None, dry_run: bool = False,
                  batch_size: int = DEFAULT_BATCH_SIZE) -> PurgeReport:
    """Delete (or count) one channel's expired conversations and their rows, `batch_size` conversations a time."""
    if not isinstance(channel, Channel):
        raise TypeError(f"channel must be a Channel, not {type(channel).__name__}")
    if channel.retention_days is None:
        raise ValueError(f"channel {channel.slug!r} has no retention period: nothing expires")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    moment = timezone.now() if now is None else now
    if timezone.is_naive(moment):
        raise ValueError(f"now must be timezone-aware, got {moment.isoformat()}")
    expired = expired_conversations(channel, now=moment)
    totals = [0, 0, 0, 0]
    if dry_run:
        ids = expired.values("pk")
        totals = [expired.count(), TranscriptItem.objects.filter(conversation_id__in=ids).count(),
                  ToolRun.objects.filter(conversation_id__in=ids).count(),
                  ConversationEvent.objects.filter(conversation_id__in=ids).count()]
    else:
        while True:
            batch = list(expired.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not batch:
                break
            for index, count in enumerate(_delete_batch(batch)):
                totals[index] += count
    report = PurgeReport(channel=channel.slug, retention_days=channel.retention_days,
                         cutoff=moment - timedelta(days=channel.retention_days), conversations=totals[0],
                         items=totals[1], tool_runs=totals[2], events=totals[3], dry_run=dry_run)
    if report.conversations and not dry_run:
        logger.info("channel %s: deleted %d conversations older than %d days", channel.slug,
                    report.conversations, channel.retention_days)
    return report


def purge_expired(*, channel: str = "", now: datetime | None = None, dry_run: bool = False,
                  batch_size: int = DEFAULT_BATCH_SIZE) -> list[PurgeReport]:
    """Purge every channel with a retention period (or only the one with slug `channel`); one report each."""
    channels = Channel.objects.filter(retention_days__isnull=False).order_by("slug")
    if channel:
        if not Channel.objects.filter(slug=channel).exists():
            raise ValueError(f"no channel with slug {channel!r}")
        channels = channels.filter(slug=channel)
    return [purge_channel(row, now=now, dry_run=dry_run, batch_size=batch_size) for row in channels]
