"""Full-text search over transcripts: ranking, snippets, escaping, both database backends."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from realtime_agents.models import Conversation
from realtime_agents.search import (
    MAX_QUERY_LENGTH,
    SearchQueryError,
    matching_messages,
    search_conversations,
    search_terms,
    snippet_html,
)
from tests.conversation_rows import conversation

pytestmark = pytest.mark.django_db
on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL full-text search only")
on_fallback = pytest.mark.skipif(connection.vendor == "postgresql", reason="fallback search only")


def _search(q: str) -> list[Conversation]:
    return list(search_conversations(Conversation.objects.all(), q))


def test_ranks_conversation_with_more_matches_first() -> None:
    once = conversation(messages=[("user", "I want a refund please"), ("assistant", "Let me check.")])
    thrice = conversation(
        messages=[
            ("user", "Refund my order"),
            ("assistant", "The refund is being processed"),
            ("user", "How long does the refund take?"),
        ]
    )
    conversation(messages=[("user", "What is the weather like?")])
    found = _search("refund")
    assert [c.pk for c in found] == [thrice.pk, once.pk]
    assert found[0].search_rank > found[1].search_rank > 0


def test_snippet_marks_the_match() -> None:
    conversation(messages=[("user", "hello"), ("assistant", "The cancellation fee is ten euros.")])
    (found,) = _search("cancellation")
    assert "<mark>cancellation</mark>" in found.search_snippet.lower()
    assert "ten euros" in found.search_snippet


def test_snippet_is_escaped_before_marking() -> None:
    conversation(messages=[("user", "<script>alert('refund')</script> & refund <b>now</b>")])
    (found,) = _search("refund")
    snippet = str(found.search_snippet)
    assert "<script>" not in snippet and "<b>" not in snippet
    # PostgreSQL's headline drops markup-looking tokens; the fallback shows them escaped.
    assert "&amp;" in snippet
    assert "<mark>refund</mark>" in snippet.lower()
    # Only our own tags remain.
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_every_word_must_appear_in_one_message() -> None:
    both = conversation(messages=[("user", "cancel my booking for friday")])
    conversation(messages=[("user", "cancel it"), ("user", "the booking on friday")])
    assert [c.pk for c in _search("cancel booking")] == [both.pk]


def test_search_composes_with_filters_and_keeps_snippets_through_slicing() -> None:
    conversation(channel_slug="web", messages=[("user", "refund please")])
    phone = conversation(channel_slug="phone", messages=[("user", "refund now")])
    found = search_conversations(Conversation.objects.filter(channel_slug="phone"), "refund")
    assert found.count() == 1
    (first,) = list(found[:1])
    assert first.pk == phone.pk and "<mark>" in first.search_snippet


def test_no_words_matches_nothing_and_too_long_is_a_clear_error() -> None:
    conversation(messages=[("user", "anything")])
    assert _search("   ") == []
    assert _search("?!") == []
    with pytest.raises(SearchQueryError, match="too long"):
        search_conversations(Conversation.objects.all(), "x" * (MAX_QUERY_LENGTH + 1))


def test_search_terms_dedupes_case_insensitively() -> None:
    assert search_terms("Refund refund, FEES!") == ["Refund", "FEES"]


def test_snippet_html_marks_plain_text_and_trims_long_text() -> None:
    text = "word " * 100 + "the refund arrived " + "tail " * 100
    html = snippet_html(text, ["refund"])
    assert "<mark>refund</mark>" in html
    assert html.startswith("… ") and html.endswith(" …")
    assert len(html) < 260


@on_postgres
def test_postgres_matches_stemmed_words_and_phrases() -> None:
    fees = conversation(messages=[("assistant", "Cancellation fees apply after 24 hours.")])
    conversation(messages=[("assistant", "Hours of cancellation: none.")])
    assert [c.pk for c in _search("cancellation fee")] == [fees.pk]
    assert [c.pk for c in _search('"cancellation fees"')] == [fees.pk]
    assert fees.pk not in [c.pk for c in _search("cancellation -fee")]


@on_postgres
def test_postgres_query_can_use_the_gin_index() -> None:
    conversation(messages=[("user", "refund")])
    # Finding the matching messages is the part that reads the index; ranking reads only candidates.
    sql, params = matching_messages(Conversation.objects.all(), "refund").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ra_transcript_text_fts" in plan


@on_fallback
def test_fallback_is_case_insensitive_and_treats_wildcards_literally() -> None:
    hit = conversation(messages=[("user", "REFUND order_id please")])
    conversation(messages=[("user", "refund orderXid please")])
    found = _search("refund order_id")
    assert [c.pk for c in found] == [hit.pk]
    assert "<mark>REFUND</mark>" in found[0].search_snippet


def _has_search_vector_column() -> bool:
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(cursor, "realtime_agents_transcriptitem")
    return any(column.name == "search_vector" for column in columns)


class _RecordingEditor:
    """Records statements instead of running them (SQLite cannot open a schema editor inside a test)."""

    def __init__(self) -> None:
        self.connection = connection
        self.statements: list[str] = []

    def execute(self, sql: str, params: object = None) -> None:
        self.statements.append(sql)


@on_fallback
def test_migration_search_operations_do_nothing_off_postgres() -> None:
    migration = importlib.import_module("realtime_agents.migrations.0003_transcript_search")
    editor = _RecordingEditor()
    migration._create_search_index(None, editor)
    migration._drop_search_index(None, editor)
    assert editor.statements == [] and not _has_search_vector_column()


@on_postgres
def test_migration_search_operations_are_reversible() -> None:
    migration = importlib.import_module("realtime_agents.migrations.0003_transcript_search")
    assert _has_search_vector_column()
    # Inside the test's transaction: PostgreSQL rolls the DDL back afterwards.
    with connection.schema_editor(atomic=False) as editor:
        migration._drop_search_index(None, editor)
    assert not _has_search_vector_column()
    with connection.schema_editor(atomic=False) as editor:
        migration._create_search_index(None, editor)
    assert _has_search_vector_column()
    conversation(messages=[("user", "still searchable after re-creation")])
    assert len(_search("searchable")) == 1
