"""Conversation models, the batch writer's fallback, the stale-close command and the read-only admin."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from realtime_agents.models import Channel, Conversation, ConversationEvent, ToolRun, TranscriptItem
from realtime_agents.recording.ops import RowOp, Totals
from realtime_agents.recording.writer import write_batch
from tests import rows

pytestmark = pytest.mark.django_db


def conversation(channel: Channel | None = None, **fields: object) -> Conversation:
    """An active conversation row."""
    values: dict[str, object] = {"channel": channel, "channel_slug": channel.slug if channel else "",
                                 "starting_agent_name": "Concierge"}
    values.update(fields)
    return Conversation.objects.create(**values)


def item(conv: Conversation, sequence: int, role: str = "user", text: str = "hi") -> TranscriptItem:
    return TranscriptItem.objects.create(conversation=conv, sequence=sequence, role=role, text=text,
                                         started_at=timezone.now())


def op(op_kind: str, sequence: int, **fields: object) -> RowOp:
    now = time.time()
    base: dict[str, dict[str, object]] = {
        "item": {"role": "user", "text": f"item {sequence}", "started_at": now, "ended_at": now},
        "tool": {"tool_name": "echo", "call_id": f"c{sequence}", "status": "ok", "started_at": now},
        "event": {"kind": "error", "data": {"code": "x"}, "created_at": now},
    }
    return RowOp(kind=op_kind, fields={"sequence": sequence, **base[op_kind], **fields})  # type: ignore[arg-type]


def totals(**fields: object) -> Totals:
    values: dict[str, object] = {"final_agent_name": "Billing", "turn_count": 2, "response_count": 3,
                                 "input_tokens": 10, "output_tokens": 20, "cached_tokens": 5,
                                 "input_audio_seconds": 1.5, "output_audio_seconds": 2.5,
                                 "last_activity": time.time()}
    values.update(fields)
    return Totals(**values)  # type: ignore[arg-type]


def test_defaults_and_a_fresh_public_id() -> None:
    first, second = conversation(), conversation()
    assert first.status == "active" and first.turn_count == 0 and first.input_tokens == 0
    assert first.public_id != second.public_id and first.duration_seconds is None
    assert str(first).endswith(str(first.public_id))


def test_sequences_are_unique_per_conversation() -> None:
    first, second = conversation(), conversation()
    item(first, 1)
    item(second, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        item(first, 1, role="assistant")


def test_deleting_a_channel_keeps_its_conversations() -> None:
    channel = rows.channel("web", rows.agent("concierge"))
    conv = conversation(channel)
    item(conv, 1)
    channel.delete()
    conv.refresh_from_db()
    assert conv.channel_id is None and conv.channel_slug == "web"
    assert conv.transcript_items.count() == 1


def test_deleting_a_conversation_deletes_its_rows() -> None:
    conv = conversation()
    write_batch(conv.pk, [op("item", 1), op("tool", 2), op("event", 3)], None)
    conv.delete()
    assert (TranscriptItem.objects.count(), ToolRun.objects.count(), ConversationEvent.objects.count()) == (0, 0, 0)


def test_write_batch_writes_everything_and_the_totals_in_one_go() -> None:
    conv = conversation()
    lost = write_batch(conv.pk, [op("item", 1), op("tool", 2), op("event", 3),
                                 RowOp(kind="item_update", sequence=1, fields={"status": "truncated", "text": "h"})],
                       totals())
    assert lost == 0
    conv.refresh_from_db()
    stored = conv.transcript_items.get()
    assert (stored.status, stored.text) == ("truncated", "h"), "the update applies after the create"
    assert conv.tool_runs.get().call_id == "c2" and conv.events.get().data == {"code": "x"}
    assert (conv.final_agent_name, conv.turn_count, conv.response_count) == ("Billing", 2, 3)
    assert (conv.input_tokens, conv.output_tokens, conv.cached_tokens) == (10, 20, 5)
    assert conv.last_activity_at is not None and conv.status == "active"


def test_a_bad_row_is_skipped_and_the_rest_of_its_batch_still_lands(caplog) -> None:
    conv = conversation()
    item(conv, 2)
    lost = write_batch(conv.pk, [op("item", 1), op("item", 2), op("event", 3)], totals())
    assert lost == 1
    assert sorted(conv.transcript_items.values_list("sequence", "text")) == [(1, "item 1"), (2, "hi")]
    assert conv.events.count() == 1 and Conversation.objects.get(pk=conv.pk).turn_count == 2
    assert "writing one by one" in caplog.text and "could not write a item row" in caplog.text


# -- realtime_agents_close_stale ------------------------------------------------------------------


def run_close_stale(*args: str) -> str:
    out = io.StringIO()
    call_command("realtime_agents_close_stale", *args, stdout=out)
    return out.getvalue()


def aged(conv: Conversation, seconds: float, *, activity_after: float | None = None) -> Conversation:
    started = timezone.now() - timedelta(seconds=seconds)
    last = None if activity_after is None else started + timedelta(seconds=activity_after)
    Conversation.objects.filter(pk=conv.pk).update(started_at=started, last_activity_at=last)
    conv.refresh_from_db()
    return conv


@override_settings(REALTIME_AGENTS={"MAX_SESSION_SECONDS": 600})
def test_close_stale_finalises_only_conversations_past_their_channel_limit() -> None:
    short = rows.channel("short", rows.agent("a"), max_session_seconds=60)
    site = rows.channel("site", rows.agent("b"))
    stale_short = aged(conversation(short), 200, activity_after=30)
    live_short = aged(conversation(short), 100)
    stale_site = aged(conversation(site), 700)
    live_site = aged(conversation(site), 300)
    orphan = aged(conversation(None), 700)
    ended = aged(conversation(site, status="ended", end_reason="client_closed",
                              ended_at=timezone.now() - timedelta(seconds=650)), 700)

    assert run_close_stale("--dry-run") == "3 stale conversation(s) would be closed.\n"
    assert Conversation.objects.filter(status="active").count() == 5
    assert run_close_stale() == "Closed 3 stale conversation(s).\n"

    def state(conv: Conversation) -> tuple[str, str]:
        conv.refresh_from_db()
        return conv.status, conv.end_reason

    assert state(stale_short) == state(stale_site) == state(orphan) == ("ended", "abandoned")
    assert state(live_short) == state(live_site) == ("active", "")
    assert state(ended) == ("ended", "client_closed")
    assert stale_short.ended_at == stale_short.last_activity_at, "ended at the last recorded activity"
    assert stale_site.ended_at == stale_site.started_at, "no activity recorded: ended when it started"
    assert run_close_stale() == "Closed 0 stale conversation(s).\n", "running it again changes nothing"


def test_close_stale_with_an_explicit_age() -> None:
    old, young = aged(conversation(), 120), aged(conversation(), 30)
    assert run_close_stale("--older-than", "60") == "Closed 1 stale conversation(s).\n"
    old.refresh_from_db()
    young.refresh_from_db()
    assert (old.status, young.status) == ("ended", "active")


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_close_stale_refuses_a_bad_age(value: str) -> None:
    with pytest.raises(CommandError, match="--older-than"):
        run_close_stale("--older-than", value)


# -- admin ----------------------------------------------------------------------------------------


@pytest.fixture
def staff(admin_client: Client) -> Client:
    """A logged-in superuser."""
    return admin_client


def recorded() -> Conversation:
    channel = rows.channel("web", rows.agent("concierge"))
    conv = conversation(channel, status="ended", end_reason="client_closed", ended_at=timezone.now())
    write_batch(conv.pk, [op("item", 1, text="Where is my parcel?"),
                          op("tool", 2, tool_name="track_parcel", arguments='{"id": "P1"}', output="In transit"),
                          op("event", 3, kind="handoff", data={"from_agent": "Concierge", "to_agent": "Billing"}),
                          op("item", 4, role="assistant", text="It is in transit.", status="truncated")],
                totals())
    return conv


def test_conversation_list_filters_and_detail_show_the_recording(staff: Client) -> None:
    conv = recorded()
    other = conversation(rows.channel("phone", rows.agent("other")))
    listing = staff.get(reverse("admin:realtime_agents_conversation_changelist"))
    assert listing.status_code == 200 and str(conv.public_id) in listing.content.decode()
    filtered = staff.get(reverse("admin:realtime_agents_conversation_changelist"),
                         {"status": "active", "channel__id__exact": other.channel_id})
    body = filtered.content.decode()
    assert str(other.public_id) in body and str(conv.public_id) not in body
    searched = staff.get(reverse("admin:realtime_agents_conversation_changelist"), {"q": str(conv.public_id)[:8]})
    assert str(conv.public_id) in searched.content.decode()
    detail = staff.get(reverse("admin:realtime_agents_conversation_change", args=[conv.pk]))
    page = detail.content.decode()
    assert detail.status_code == 200
    for text in ("Where is my parcel?", "It is in transit.", "track_parcel", "In transit", "Billing", "client_closed"):
        assert text in page
    assert 'name="_save"' not in page, "nothing on the page can be saved"


def test_conversations_cannot_be_added_or_edited_in_the_admin(staff: Client) -> None:
    conv = recorded()
    assert staff.get(reverse("admin:realtime_agents_conversation_add")).status_code == 403
    response = staff.post(reverse("admin:realtime_agents_conversation_change", args=[conv.pk]),
                          {"end_reason": "edited", "status": "active"})
    assert response.status_code == 403
    conv.refresh_from_db()
    assert conv.end_reason == "client_closed"
