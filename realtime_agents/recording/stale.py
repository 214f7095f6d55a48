"""Finalising conversations that a crashed process left active."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..conf import app_settings
from ..models import Conversation
from .counts import row_counts

logger = logging.getLogger("realtime_agents.recording.stale")

ABANDONED = "abandoned"
GRACE_SECONDS = 60


def stale_conversations(*, older_than_s: float | None = None) -> list[Conversation]:
    """Active conversations that cannot still be live.

    With `older_than_s`, those started longer ago than that; otherwise those started longer ago than
    their channel's maximum session length (or the site default) plus a minute of grace.
    """
    now = timezone.now()
    rows = Conversation.objects.filter(status=Conversation.Status.ACTIVE).select_related("channel")
    if older_than_s is not None:
        return list(rows.filter(started_at__lt=now - timedelta(seconds=older_than_s)))
    default = int(app_settings.MAX_SESSION_SECONDS)
    # Channels may only shorten or lengthen the limit; nothing can live past the longest one.
    shortest = min([default, *Conversation.objects.filter(status=Conversation.Status.ACTIVE)
                    .exclude(channel__max_session_seconds=None)
                    .values_list("channel__max_session_seconds", flat=True)])
    found: list[Conversation] = []
    for row in rows.filter(started_at__lt=now - timedelta(seconds=shortest + GRACE_SECONDS)):
        limit = (row.channel.max_session_seconds if row.channel and row.channel.max_session_seconds else default)
        if row.started_at < now - timedelta(seconds=limit + GRACE_SECONDS):
            found.append(row)
    return found


def close_stale(*, older_than_s: float | None = None) -> int:
    """Mark stale conversations ended with reason "abandoned"; ended_at is their last recorded activity.

    Their stored counts are recounted from their rows: the crashed process may have died between
    writing rows and writing the totals that go with them.
    """
    rows = stale_conversations(older_than_s=older_than_s)
    if not rows:
        return 0
    # The status filter again: a conversation that ended meanwhile keeps its real ending.
    closed = Conversation.objects.filter(pk__in=[row.pk for row in rows], status=Conversation.Status.ACTIVE).update(
        status=Conversation.Status.ENDED,
        end_reason=ABANDONED,
        ended_at=Coalesce(F("last_activity_at"), F("started_at")),
        **row_counts(),
    )
    logger.info("closed %d abandoned conversation(s)", closed)
    return closed
