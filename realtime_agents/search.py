"""Full-text search over conversation transcripts: PostgreSQL full-text search, or a LIKE fallback."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import (
    Case,
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
from django.db.models.expressions import Col, Expression
from django.db.models.query import ModelIterable
from django.utils.safestring import SafeString, mark_safe

from .models import Conversation, TranscriptItem
from . import search_candidates
from .search_candidates import MAX_CANDIDATES  # noqa: F401  (re-exported for the admin's help text)

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


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    """The ranked conversations, and whether older matching ones were left out (see MAX_CANDIDATES)."""

    conversations: QuerySet[Conversation]
    capped: bool


def search_conversations(
    queryset: QuerySet[Conversation], q: str, *, candidates: int | None = None
) -> QuerySet[Conversation]:
    """Conversations of `queryset` whose transcript matches `q`, best first (see `find_conversations`)."""
    return find_conversations(queryset, q, candidates=candidates).conversations


def find_conversations(
    queryset: QuerySet[Conversation], q: str, *, candidates: int | None = None
) -> SearchResult:
    """Conversations of `queryset` whose transcript matches `q`, best first.

    Each returned conversation carries `search_rank` (a float, higher is better) and `search_snippet`
    (escaped HTML of its best matching message, matches wrapped in <mark>). PostgreSQL matches stemmed
    words with `websearch` syntax ("quoted phrases", or, -not); other databases need every word to
    appear, case-insensitively, in one message. A search without any word matches nothing.

    Only the newest `candidates` (default `search_candidates.MAX_CANDIDATES`) matching conversations of
    `queryset` are ranked (found here, with a query or a few), so a search costs about the same however
    common its words are; narrow `queryset` (by date, channel, ...) to reach older matches of a common word.
    """
    terms = search_terms(q)
    if not terms:
        return SearchResult(conversations=empty_results(queryset), capped=False)
    matching_items, annotations = _backend_search(queryset, q, terms)
    limit = search_candidates.MAX_CANDIDATES if candidates is None else candidates
    found = search_candidates.newest_matching(queryset, matching_items, limit)
    conversations = (
        queryset.filter(pk__in=found.ids)
        .annotate(**annotations)
        .order_by("-search_rank", "-started_at", "-pk")
    )
    conversations._iterable_class = _snippet_iterable(terms)
    return SearchResult(conversations=conversations, capped=found.capped)


def matching_messages(queryset: QuerySet[Conversation], q: str) -> QuerySet[TranscriptItem]:
    """The messages that match `q` on `queryset`'s database, unordered: what a search reads first."""
    return _backend_search(queryset, q, search_terms(q))[0].order_by()


def _backend_search(
    queryset: QuerySet[Conversation], q: str, terms: Sequence[str]
) -> tuple[QuerySet[TranscriptItem], dict[str, Expression]]:
    if uses_full_text_search(queryset):
        return _postgres_search(q)
    return _fallback_search(terms)


def empty_results(queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """No conversations, but with the search annotations, so callers may still order by rank."""
    return queryset.annotate(search_rank=Value(0.0, output_field=FloatField()), search_match=Value("")).none()


def _postgres_search(q: str) -> tuple[QuerySet[TranscriptItem], dict[str, Expression]]:
    """Matching messages; rank by the sum of ts_rank over them, headline of the best one."""
    # Imported here so that sites on SQLite need no PostgreSQL driver.
    from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank

    query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
    vector = StoredSearchVector()
    matching_items = TranscriptItem.objects.annotate(search_vector=vector).filter(search_vector=query)
    matching = matching_items.filter(conversation=OuterRef("pk"))
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
    return matching_items, {
        "search_rank": Subquery(rank, output_field=FloatField()),
        "search_match": Subquery(headline),
    }


class StoredSearchVector(Expression):
    """TranscriptItem's `search_vector` column: added on PostgreSQL by migration 0003, unknown to the model."""

    # Stored and generated by the database, so the model must not write it; hence no model field.
    COLUMN = "search_vector"

    def resolve_expression(self, query: Any = None, *args: Any, **kwargs: Any) -> Col:
        """A column of the query's base table (re-aliased like any column inside subqueries)."""
        from django.contrib.postgres.search import SearchVectorField

        field = SearchVectorField()
        field.column = self.COLUMN
        field.model = TranscriptItem
        return Col(query.get_initial_alias(), field, output_field=field)


def _fallback_search(terms: Sequence[str]) -> tuple[QuerySet[TranscriptItem], dict[str, Expression]]:
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
    return TranscriptItem.objects.filter(every_term), {
        "search_rank": Cast(Coalesce(Subquery(rank), Value(0)), FloatField()),
        "search_match": Subquery(first_match),
    }


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
