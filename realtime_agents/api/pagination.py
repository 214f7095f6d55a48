"""Opaque keyset cursors: pages stay stable when newer conversations are inserted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet

from ..models import Conversation

_SALT = "realtime_agents.api.cursor"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class CursorError(ValueError):
    """A cursor that was not issued by this API or belongs to another ordering."""


@dataclass(frozen=True, kw_only=True)
class Cursor:
    """The position after the last row of a page: its sort keys."""

    started_at: dt.datetime
    pk: int
    rank: float | None = None  # set when the list is ordered by search rank

    def encode(self) -> str:
        """The opaque, signed string handed to clients."""
        payload = {"s": self.started_at.isoformat(), "p": self.pk, "r": self.rank}
        return signing.dumps(payload, salt=_SALT, compress=False)

    @classmethod
    def decode(cls, raw: str, *, ranked: bool) -> Cursor:
        """Parse a cursor, checking it fits the requested ordering (ranked or by time)."""
        try:
            payload = signing.loads(raw, salt=_SALT)
            cursor = cls(
                started_at=dt.datetime.fromisoformat(payload["s"]),
                pk=int(payload["p"]),
                rank=None if payload["r"] is None else float(payload["r"]),
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            raise CursorError(
                "Invalid cursor: pass back the next_cursor value of a previous page unchanged."
            ) from None
        if (cursor.rank is not None) != ranked:
            raise CursorError(
                "This cursor belongs to a different query: search (q) and plain listing differ."
            )
        return cursor

    def after(self, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        """Rows strictly after this position in (-rank,) -started_at, -pk order."""
        later = Q(started_at__lt=self.started_at) | Q(started_at=self.started_at, pk__lt=self.pk)
        if self.rank is None:
            # The redundant bound lets the database start the started_at index at the cursor instead of
            # reading (and discarding) every newer row first: deep pages cost what the first one does.
            return queryset.filter(later, started_at__lte=self.started_at)
        return queryset.filter(Q(search_rank__lt=self.rank) | (Q(search_rank=self.rank) & later))


def parse_limit(raw: str | None) -> int:
    """The page size from a `limit` parameter."""
    if not raw:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise ValueError(f"limit: expected a whole number from 1 to {MAX_LIMIT}, got {raw!r}.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit: expected a whole number from 1 to {MAX_LIMIT}, got {limit}.")
    return limit


def page(
    queryset: QuerySet[Conversation], *, limit: int, cursor: Cursor | None, ranked: bool
) -> tuple[list[Any], str | None]:
    """One page of an already ordered queryset and the cursor of the next page (None on the last)."""
    if cursor is not None:
        queryset = cursor.after(queryset)
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    following = Cursor(
        started_at=last.started_at, pk=last.pk, rank=float(last.search_rank) if ranked else None
    )
    return rows, following.encode()
