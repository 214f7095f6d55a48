"""Which conversations a search ranks: the newest ones with a matching message, read in growing windows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Max, QuerySet

from .models import Conversation, TranscriptItem

# Ranking costs a query per candidate conversation; a word said in one conversation in ten would
# otherwise rank 10,000 of 100,000 (seconds), where these take tens of milliseconds at any size.
MAX_CANDIDATES = 200
# Messages (by id) in the first window over all messages; each older window is four times as large.
FIRST_WINDOW = 50_000
# Conversations in the first window over a sparse list (one filtered by channel, tool errors, ...).
FIRST_CONVERSATION_WINDOW = 2500
GROWTH = 4
# The newest conversations of the list that tell where its messages start and how sparse it is.
_SAMPLE = 50
# Below this share of conversation ids kept by the filters, windows go over the list's conversations.
_SPARSE = 0.25


@dataclass(frozen=True, kw_only=True)
class Candidates:
    """Conversation ids, newest first, and whether older matching conversations were left out."""

    ids: list[int]
    capped: bool


class _Found:
    """Conversation ids in the order found, up to one more than the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.ids: dict[int, None] = {}

    def add(self, conversation_id: int) -> bool:
        """Remember an id; True once there are more than `limit` (so some will be left out)."""
        self.ids.setdefault(conversation_id, None)
        return len(self.ids) > self.limit

    def result(self, *, capped: bool) -> Candidates:
        """The first `limit` ids."""
        return Candidates(ids=list(self.ids)[: self.limit], capped=capped)


def newest_matching(
    queryset: QuerySet[Conversation], matching_items: QuerySet[TranscriptItem], limit: int = MAX_CANDIDATES
) -> Candidates:
    """The newest conversations of `queryset` with a message among `matching_items`, at most `limit`.

    Read one window at a time, newest first, so that the work is bounded by the window whatever the
    database guesses about how common the words are (it underestimates common phrases badly) and
    whatever the filters: windows of message ids for the whole list or a date range, windows of the
    list's conversations when its filters keep only some of them.
    """
    # By start time: the index a date filter uses too (ids follow start times closely enough).
    sample = list(queryset.order_by("-started_at", "-pk").values_list("pk", flat=True)[:_SAMPLE])
    if not sample:
        return Candidates(ids=[], capped=False)
    found = _Found(limit)
    if queryset.query.has_filters():
        if len(sample) / (max(sample) - min(sample) + 1) < _SPARSE:
            return _by_conversation_windows(queryset, matching_items, found)
        matching_items = matching_items.filter(conversation__in=queryset.order_by().values("pk"))
    # The windows start at the newest message of the list's newest conversations: a date range far
    # in the past must not read every newer window first. (An older conversation still going on
    # after all of these is the rare exception; its earlier messages are still found.)
    # Grouped per conversation so that the database reads these conversations' messages by their
    # index; a bare MAX(id) walks the whole message index down from the newest until it meets one.
    newest = (
        TranscriptItem.objects.filter(conversation__in=sample)
        .order_by()
        .values("conversation")
        .annotate(newest=Max("pk"))
        .values_list("newest", flat=True)
    )
    return _by_message_windows(matching_items, found, high=max(newest, default=0))


def _by_message_windows(matching_items: QuerySet[TranscriptItem], found: _Found, *, high: int) -> Candidates:
    """Matching messages with ids in (high - window, high], then the next older, larger window."""
    window = FIRST_WINDOW
    while high > 0:
        low = max(0, high - window)
        rows = matching_items.filter(pk__gt=low, pk__lte=high).order_by("-pk")
        for conversation_id in rows.values_list("conversation_id", flat=True):
            if found.add(conversation_id):
                return found.result(capped=True)
        high, window = low, window * GROWTH
    return found.result(capped=False)


def _by_conversation_windows(
    queryset: QuerySet[Conversation], matching_items: QuerySet[TranscriptItem], found: _Found
) -> Candidates:
    """Matching messages of the list's newest conversations, then of the next older, larger window."""
    newest_first = queryset.order_by("-pk").values_list("pk", flat=True)
    before: int | None = None
    size = FIRST_CONVERSATION_WINDOW
    while True:
        conversations = newest_first.filter(pk__lt=before) if before is not None else newest_first
        hits = (
            matching_items.filter(conversation_id__in=conversations[:size])
            .order_by("-conversation_id")
            .values_list("conversation_id", flat=True)
            .distinct()
        )
        for conversation_id in hits:
            if found.add(conversation_id):
                return found.result(capped=True)
        last = list(conversations[size - 1 : size])
        if not last:
            return found.result(capped=False)
        before, size = last[0], size * GROWTH
