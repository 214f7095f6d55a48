"""Transcripts at scale: the synthesize command at tiny size, its guards, the bounded list and search."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from realtime_agents.api.queries import agent_q, distinct_values
from realtime_agents.models import Channel, Conversation, ConversationEvent, ToolRun, TranscriptItem
from realtime_agents.recording.counts import row_counts
from realtime_agents import search_candidates
from realtime_agents.search import find_conversations, search_conversations
from realtime_agents.synthetic.history import HistoryGenerator
from realtime_agents.synthetic.loading import looks_like_scratch
from tests.conversation_rows import T0, conversation, event, staff

pytestmark = pytest.mark.django_db
COMMAND = "realtime_agents_synthesize"


def synthesize(*args: str, **options: object) -> str:
    out = io.StringIO()
    call_command(COMMAND, *args, stdout=out, **options)
    return out.getvalue()


def test_tiny_history_has_consistent_rows_on_this_database() -> None:
    output = synthesize("--conversations", "30", "--items-per-conversation", "8", "--batch-size", "7")
    conversations = list(Conversation.objects.all())
    items = list(TranscriptItem.objects.all())
    assert len(conversations) == 30
    tool_runs = ToolRun.objects.count()
    assert f"Done: 30 conversations, {len(items)} transcript items, {tool_runs} tool runs" in output
    # PostgreSQL (psycopg 3) takes the COPY path the benchmark uses; SQLite batched INSERTs.
    assert ("COPY" if connection.vendor == "postgresql" else "bulk_create") in output
    assert sorted(Channel.objects.values_list("slug", "is_active")) == [
        ("synthetic-phone", False), ("synthetic-sip", False), ("synthetic-web", False)
    ]
    # Messages, tool runs and events of a conversation share one gapless sequence, as the recorder has it.
    sequences: dict[int, list[int]] = defaultdict(list)
    for model in (TranscriptItem, ToolRun, ConversationEvent):
        for conversation_id, sequence in model.objects.values_list("conversation_id", "sequence"):
            sequences[conversation_id].append(sequence)
    assert all(sorted(found) == list(range(1, len(found) + 1)) for found in sequences.values())
    users = defaultdict(int)
    for row in items:
        users[row.conversation_id] += row.role == "user"
    for conv in conversations:
        assert conv.turn_count == users[conv.pk] and conv.channel is not None
        assert conv.channel.slug == conv.channel_slug and conv.started_at <= conv.last_activity_at
        if conv.status == Conversation.Status.ENDED:
            assert conv.end_reason and conv.ended_at is not None and conv.input_tokens > 0
    assert ToolRun.objects.exclude(status="ok").exists() and ToolRun.objects.filter(status="ok").exists()
    assert 4 * 30 <= len(items) <= 12 * 30
    # The stored counts the admin list sorts by agree with the rows, as the recorder keeps them.
    stored = ("tool_run_count", "tool_error_count", "guardrail_trip_count")
    recounted = Conversation.objects.annotate(**{f"rows_{k}": v for k, v in row_counts().items()})
    for row in recounted.values(*stored, *(f"rows_{name}" for name in stored)):
        assert all(row[name] == row[f"rows_{name}"] for name in stored), row
    assert Conversation.objects.filter(tool_error_count__gt=0).exists()


def test_search_finds_the_seeded_phrases() -> None:
    synthesize("--conversations", "30", "--items-per-conversation", "10", "--seed", "11")
    for words in ("refund", "cancellation fee"):
        first, last = words.split()[0], words.split()[-1]
        saying = TranscriptItem.objects.filter(text__icontains=first).filter(text__icontains=last)
        with_words = set(saying.values_list("conversation_id", flat=True))
        found = {c.pk for c in search_conversations(Conversation.objects.all(), words)}
        assert with_words, f"seed 11 should say {words!r} somewhere"
        assert found == with_words


def test_generator_is_deterministic_for_a_seed() -> None:
    end = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)

    def texts(seed: int) -> list[str]:
        generator = HistoryGenerator(count=5, items_per_conversation=6, days=3, end=end, seed=seed)
        return [item["text"] for synthetic in generator for item in synthetic.items]

    assert texts(5) == texts(5) != texts(6)


@pytest.mark.parametrize(
    ("name", "scratch"),
    [
        ("realtime_agents_bench", True), ("test_test", True), ("tmp.sqlite3", True), ("scratch-2", True),
        ("file:memorydb_default?mode=memory&cache=shared", True), ("shop", False), ("shop_prod", False),
        ("contest", False), ("db.sqlite3", False), ("", False),
    ],
)
def test_scratch_rule(name: str, scratch: bool) -> None:
    assert looks_like_scratch(name) is scratch


def test_refuses_a_database_that_does_not_look_like_scratch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(connection.settings_dict, "NAME", "shop_production")
    with pytest.raises(CommandError, match="'shop_production'.*does not look like a scratch database"):
        synthesize("--conversations", "3")
    assert not Conversation.objects.exists() and not Channel.objects.exists()
    synthesize("--conversations", "3", "--any-database")
    assert Conversation.objects.count() == 3


def test_refuses_to_add_to_existing_history_without_yes() -> None:
    mine = conversation(messages=[("user", "real words")])
    with pytest.raises(CommandError, match="already holds 1 conversation"):
        synthesize("--conversations", "2")
    assert list(Conversation.objects.values_list("pk", flat=True)) == [mine.pk]
    synthesize("--conversations", "2", "--yes")
    assert Conversation.objects.count() == 3 and TranscriptItem.objects.filter(conversation=mine).count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conversations", "0"], "expected at least 1"),
        (["--items-per-conversation", "many"], "expected a whole number"),
        (["--database", "nowhere"], "Unknown database alias 'nowhere'"),
    ],
)
def test_bad_options_are_clear_errors(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        synthesize(*args)
    assert not Conversation.objects.exists()


def test_bad_sizes_from_python_are_clear_errors_too() -> None:
    with pytest.raises(CommandError, match="--batch-size must be at least 1, got 0"):
        synthesize(batch_size=0)
    assert not Conversation.objects.exists()


def test_search_ranks_only_the_newest_matching_conversations() -> None:
    old = conversation(messages=[("user", "refund refund"), ("assistant", "refund done")], started=T0)
    middle = conversation(messages=[("user", "refund please")], started=T0 + dt.timedelta(days=1))
    new = conversation(messages=[("user", "a refund"), ("user", "thanks")], started=T0 + dt.timedelta(days=2))
    everything = Conversation.objects.all()
    assert {c.pk for c in search_conversations(everything, "refund", candidates=2)} == {new.pk, middle.pk}
    # The conversation's rank still counts all its matching messages; a filter reaches older ones.
    (found,) = search_conversations(everything.filter(started_at__lt=T0 + dt.timedelta(hours=1)), "refund",
                                    candidates=2)
    assert found.pk == old.pk
    assert [c.pk for c in search_conversations(everything, "refund")][0] == old.pk


def test_distinct_values_and_the_agent_filter_through_handoffs() -> None:
    concierge = conversation(agent="Concierge", final_agent="Concierge", end_reason="client_ended")
    billing_end = conversation(agent="Concierge", final_agent="Billing", end_reason="")
    via_billing = conversation(agent="Concierge", final_agent="Support", end_reason="max_duration")
    event(via_billing, 1, ConversationEvent.Kind.HANDOFF, from_agent="Concierge", to_agent="Billing")
    event(via_billing, 2, ConversationEvent.Kind.HANDOFF, from_agent="Billing", to_agent="Support")
    assert distinct_values("final_agent_name") == ["Billing", "Concierge", "Support"]
    assert distinct_values("end_reason") == ["client_ended", "max_duration"]
    billing = set(Conversation.objects.filter(agent_q("Billing")).values_list("pk", flat=True))
    assert billing == {billing_end.pk, via_billing.pk} and concierge.pk not in billing
    client = Client()
    client.force_login(staff())
    html = client.get("/admin/realtime_agents/conversation/").content.decode()
    assert "?end_reason=max_duration" in html and "?agent=Support" in html


def test_candidates_are_read_window_by_window_and_capping_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_candidates, "FIRST_WINDOW", 1)  # windows of 1, 4, 16 ... messages
    convs = [
        conversation(messages=[("user", "refund one"), ("assistant", "noted"), ("user", "refund two")],
                     started=T0 + dt.timedelta(days=day))
        for day in range(5)
    ]
    everything = Conversation.objects.all()
    some = find_conversations(everything, "refund", candidates=3)
    assert set(some.conversations.values_list("pk", flat=True)) == {c.pk for c in convs[2:]} and some.capped
    every = find_conversations(everything, "refund", candidates=10)
    assert every.conversations.count() == 5 and not every.capped
    assert not find_conversations(everything, "nothing-like-this", candidates=3).capped


def test_admin_says_when_a_search_left_older_matches_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_candidates, "MAX_CANDIDATES", 1)
    older = conversation(messages=[("user", "refund")], started=T0)
    newer = conversation(messages=[("user", "refund")], started=T0 + dt.timedelta(days=1))
    client = Client()
    client.force_login(staff())
    html = client.get("/admin/realtime_agents/conversation/", {"q": "refund"}).content.decode()
    assert "Only the newest matching conversations are shown" in html
    assert f"/conversation/{newer.pk}/change/" in html and f"/conversation/{older.pk}/change/" not in html
    monkeypatch.setattr(search_candidates, "MAX_CANDIDATES", 2)
    html = client.get("/admin/realtime_agents/conversation/", {"q": "refund"}).content.decode()
    assert "Only the newest" not in html and f"/conversation/{older.pk}/change/" in html


def test_a_sparse_filtered_list_is_searched_by_windows_of_its_conversations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search_candidates, "_SPARSE", 2.0)  # every filtered list counts as sparse
    monkeypatch.setattr(search_candidates, "FIRST_CONVERSATION_WINDOW", 1)  # windows of 1, 4, 16 ...
    phone = [
        conversation(channel_slug="phone" if day % 2 else "web", messages=[("user", f"refund {day}")],
                     started=T0 + dt.timedelta(days=day))
        for day in range(12)
    ]
    on_phone = Conversation.objects.filter(channel_slug="phone")
    newest = find_conversations(on_phone, "refund", candidates=4)
    assert list(newest.conversations.order_by("-pk").values_list("pk", flat=True)) == [
        c.pk for c in reversed(phone) if c.channel_slug == "phone"
    ][:4]
    assert newest.capped
    every = find_conversations(on_phone, "refund", candidates=6)
    assert every.conversations.count() == 6 and not every.capped
