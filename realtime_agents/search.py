"""Full-text search over conversation transcripts: PostgreSQL full-text search, or a LIKE fallback."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connections
from django.db.models import (
    Case,
    Exists,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.db.models.query import ModelIterable
from django.utils.safestring import SafeString, mark_safe

from .models import Conversation, TranscriptItem

# The migration's GIN index is built on exactly this configuration; change both together.
SEARCH_CONFIG = "english"
MAX_QUERY_LENGTH = 200
# Private-use code points: they never occur in speech transcripts, so they can mark matches in the
# database's headline and be turned into <mark> only after the text around them has been escaped.
_START = "\ue000"
_STOP = "\ue001"
_SNIPPET_BEFORE = 40
_SNIPPET_AFTER = 160
_WORD = re.compile(r"\w+")


class SearchQueryError(ValueError):
    """The search text cannot be searched for (too long)."""


def search_terms(q: str) -> list[str]:
    """The words of a search, in order, without duplicates (case-insensitive)."""
    if len(q) > MAX_QUERY_LENGTH:
        raise SearchQueryError(f"Search text is too long ({len(q)} characters, at most {MAX_QUERY_LENGTH}).")
    seen: dict[str, str] = {}
    for word in _WORD.findall(q):
        seen.setdefault(word.casefold(), word)
    return list(seen.values())


def uses_full_text_search(queryset: QuerySet[Any]) -> bool:
    """Whether the queryset's database is PostgreSQL (full-text search) rather than the fallback."""
    return connections[queryset.db].vendor == "postgresql"


def search_conversations(queryset: QuerySet[Conversation], q: str) -> QuerySet[Conversation]:
    """Conversations of `queryset` whose transcript matches `q`, best first.

    Each returned conversation carries `search_rank` (a float, higher is better) and `search_snippet`
    (escaped HTML of its best matching message, matches wrapped in <mark>). PostgreSQL matches stemmed
    words with `websearch` syntax ("quoted phrases", or, -not); other databases need every word to
    appear, case-insensitively, in one message. A search without any word matches nothing.
    """
    terms = search_terms(q)
    if not terms:
        return empty_results(queryset)
    if uses_full_text_search(queryset):
        found = _postgres_search(queryset, q)
    else:
        found = _fallback_search(queryset, terms)
    found = found.order_by("-search_rank", "-started_at", "-pk")
    found._iterable_class = _snippet_iterable(terms)
    return found


def empty_results(queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """No conversations, but with the search annotations, so callers may still order by rank."""
    return queryset.annotate(search_rank=Value(0.0, output_field=FloatField()), search_match=Value("")).none()


def _postgres_search(queryset: QuerySet[Conversation], q: str) -> QuerySet[Conversation]:
    """Rank by the sum of ts_rank over matching messages; headline of the best one."""
    # Imported here so that sites on SQLite need no PostgreSQL driver.
    from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector

    query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
    vector = SearchVector("text", config=SEARCH_CONFIG)
    matching = (
        TranscriptItem.objects.filter(conversation=OuterRef("pk"))
        .annotate(search_vector=vector)
        .filter(search_vector=query)
    )
    rank = (
        matching.order_by()
        .values("conversation")
        # ts_rank is float4; double precision survives the round trip through a pagination cursor.
        .annotate(total=Cast(Sum(SearchRank(vector, query)), FloatField()))
        .values("total")
    )
    headline = (
        matching.annotate(item_rank=SearchRank(vector, query))
        .order_by("-item_rank", "sequence")
        .annotate(
            headline=SearchHeadline(
                "text",
                query,
                config=SEARCH_CONFIG,
                start_sel=_START,
                stop_sel=_STOP,
                max_words=30,
                min_words=12,
            )
        )
        .values("headline")[:1]
    )
    return queryset.filter(Exists(matching)).annotate(
        search_rank=Subquery(rank, output_field=FloatField()),
        search_match=Subquery(headline),
    )


def _fallback_search(queryset: QuerySet[Conversation], terms: Sequence[str]) -> QuerySet[Conversation]:
    """Every term in one message; rank by how many (message, term) hits the conversation has."""
    every_term = Q()
    for term in terms:
        every_term &= Q(text__icontains=term)
    items = TranscriptItem.objects.filter(conversation=OuterRef("pk"))
    matching = items.filter(every_term)
    hits = sum(
        (
            Case(When(text__icontains=term, then=Value(1)), default=Value(0), output_field=IntegerField())
            for term in terms
        ),
        start=Value(0, output_field=IntegerField()),
    )
    rank = items.order_by().values("conversation").annotate(total=Sum(hits)).values("total")
    first_match = matching.order_by("sequence").values("text")[:1]
    return queryset.filter(Exists(matching)).annotate(
        search_rank=Cast(Coalesce(Subquery(rank), Value(0)), FloatField()),
        search_match=Subquery(first_match),
    )


def _snippet_iterable(terms: Sequence[str]) -> type[ModelIterable]:
    """A model iterable that turns each row's raw match into its `search_snippet`."""

    class SnippetIterable(ModelIterable):
        """Adds `search_snippet` to every conversation it yields."""

        def __iter__(self) -> Iterator[Any]:
            for conversation in super().__iter__():
                conversation.search_snippet = snippet_html(
                    getattr(conversation, "search_match", "") or "", terms
                )
                yield conversation

    return SnippetIterable


def snippet_html(match: str, terms: Sequence[str]) -> SafeString:
    """Escaped HTML of a match: a database headline's markers, or the terms found in plain text, as <mark>."""
    if _START in match:
        return mark_safe(_marked_headline(match))
    return mark_safe(_marked_plain(match, terms))


def _marked_headline(headline: str) -> str:
    """Escape each piece of a headline, then mark the pieces its markers enclosed."""
    out: list[str] = []
    for index, piece in enumerate(headline.split(_START)):
        if index == 0:
            out.append(html.escape(piece.replace(_STOP, "")))
            continue
        marked, _, rest = piece.partition(_STOP)
        out.append(f"<mark>{html.escape(marked)}</mark>{html.escape(rest.replace(_STOP, ''))}")
    return "".join(out)


def _marked_plain(text: str, terms: Sequence[str]) -> str:
    """A window of text around the first term, escaped, with every term occurrence marked."""
    if not terms or not text:
        return html.escape(text[: _SNIPPET_BEFORE + _SNIPPET_AFTER])
    pattern = re.compile(
        "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True)), re.IGNORECASE
    )
    first = pattern.search(text)
    start = 0 if first is None else max(0, first.start() - _SNIPPET_BEFORE)
    end = min(len(text), start + _SNIPPET_BEFORE + _SNIPPET_AFTER)
    # Snap to word boundaries so the snippet does not begin or end mid-word.
    if start > 0:
        space = text.find(" ", start, first.start() if first else end)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    window = text[start:end]
    out: list[str] = ["… " if start > 0 else ""]
    position = 0
    for found in pattern.finditer(window):
        out.append(html.escape(window[position : found.start()]))
        out.append(f"<mark>{html.escape(found.group())}</mark>")
        position = found.end()
    out.append(html.escape(window[position:]))
    out.append(" …" if end < len(text) else "")
    return "".join(out)
