"""Retention: per-channel purge of old conversations and their rows, dry run, cron re-runs, the command."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from realtime_agents.models import Channel, Conversation, ConversationEvent, ToolRun, TranscriptItem
from realtime_agents.retention import purge_channel, purge_expired
from tests import history, rows

pytestmark = pytest.mark.django_db


def _setup() -> dict[str, list[Conversation]]:
    """web keeps 30 days, phone 7, kiosk forever; each has old and recent conversations."""
    start = rows.agent("concierge")
    web = rows.channel("web", start, retention_days=30)
    phone = rows.channel("phone", start, retention_days=7)
    kiosk = rows.channel("kiosk", start)
    now = timezone.now()

    def make(channel: Channel, days: float) -> Conversation:
        return history.conversation(channel.slug, now - timedelta(days=days), channel=channel,
                                    texts=[("user", "hi"), ("assistant", "hello")], tools=[("lookup", "ok")],
                                    events=[("handoff", {"from": "A", "to": "B"})])

    return {
        "web_old": [make(web, 31), make(web, 45), make(web, 400)],
        "web_new": [make(web, 29)],
        "phone_old": [make(phone, 8)],
        "phone_new": [make(phone, 6)],
        "kiosk": [make(kiosk, 1000)],
        # A conversation whose channel was deleted: no retention applies to it any longer.
        "orphan": [history.conversation("gone", now - timedelta(days=1000), texts=[("user", "x")])],
    }


def _left() -> set[int]:
    return set(Conversation.objects.values_list("pk", flat=True))


def test_a_dry_run_reports_per_channel_and_deletes_nothing() -> None:
    made = _setup()
    before = _left()
    reports = {report.channel: report for report in purge_expired(dry_run=True)}
    assert set(reports) == {"phone", "web"}  # kiosk has no retention period
    web = reports["web"]
    assert (web.conversations, web.items, web.tool_runs, web.events, web.dry_run) == (3, 6, 3, 3, True)
    assert (reports["phone"].conversations, reports["phone"].items) == (1, 2)
    assert reports["phone"].retention_days == 7
    assert _left() == before and len(made["web_old"]) == 3


def test_purge_deletes_expired_conversations_with_their_rows_and_a_rerun_deletes_nothing() -> None:
    made = _setup()
    kept = {row.pk for key in ("web_new", "phone_new", "kiosk", "orphan") for row in made[key]}
    gone = {row.pk for key in ("web_old", "phone_old") for row in made[key]}
    reports = {report.channel: report for report in purge_expired(batch_size=2)}
    assert (reports["web"].conversations, reports["web"].items, reports["web"].tool_runs,
            reports["web"].events) == (3, 6, 3, 3)
    assert reports["phone"].conversations == 1 and not reports["web"].dry_run
    assert _left() == kept
    for model in (TranscriptItem, ToolRun, ConversationEvent):
        assert not model.objects.filter(conversation_id__in=gone).exists()
        assert model.objects.filter(conversation_id__in=kept).exists()
    # Cron runs it again: nothing more goes.
    again = purge_expired()
    assert [(report.channel, report.conversations, report.items) for report in again] == [
        ("phone", 0, 0), ("web", 0, 0)]
    assert _left() == kept


def test_one_channel_only_and_a_fixed_now() -> None:
    made = _setup()
    reports = purge_expired(channel="phone")
    assert [(report.channel, report.conversations) for report in reports] == [("phone", 1)]
    assert not Conversation.objects.filter(pk=made["phone_old"][0].pk).exists()
    assert Conversation.objects.filter(pk=made["web_old"][0].pk).exists()
    # A year from now, everything of web has expired.
    web = Channel.objects.get(slug="web")
    report = purge_channel(web, now=timezone.now() + timedelta(days=365))
    assert report.conversations == 4 and report.cutoff > timezone.now()
    assert not Conversation.objects.filter(channel=web).exists()


def test_the_command_reports_what_it_deleted_and_supports_dry_run() -> None:
    _setup()
    out = io.StringIO()
    call_command("realtime_agents_purge", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "phone: would delete 1 conversation(s) started before " in text
    assert "web: would delete 3 conversation(s)" in text and "6 transcript item(s), 3 tool run(s), 3 event(s)" in text
    assert "Would delete 4 conversation(s) in all." in text
    assert Conversation.objects.count() == 8
    out = io.StringIO()
    call_command("realtime_agents_purge", "--batch-size", "1", stdout=out)
    assert "web: deleted 3 conversation(s)" in out.getvalue() and "Deleted 4 conversation(s) in all." in out.getvalue()
    assert Conversation.objects.count() == 4
    out = io.StringIO()
    call_command("realtime_agents_purge", stdout=out)
    assert "Deleted 0 conversation(s) in all." in out.getvalue()


def test_nothing_to_purge_without_retention_days() -> None:
    rows.channel("kiosk", rows.agent("concierge"))
    out = io.StringIO()
    call_command("realtime_agents_purge", stdout=out)
    assert out.getvalue().strip() == "No channel has retention days set: nothing to purge."


def test_bad_input_gets_clear_errors() -> None:
    kiosk = rows.channel("kiosk", rows.agent("concierge"))
    with pytest.raises(CommandError, match="no channel with slug 'nope'"):
        call_command("realtime_agents_purge", "--channel", "nope")
    with pytest.raises(CommandError, match="--batch-size must be at least 1, got 0"):
        call_command("realtime_agents_purge", "--batch-size", "0")
    with pytest.raises(CommandError, match="invalid int value"):
        call_command("realtime_agents_purge", "--batch-size", "many")
    with pytest.raises(ValueError, match="channel 'kiosk' has no retention period"):
        purge_channel(kiosk)
    kiosk.retention_days = 3
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        purge_channel(kiosk, batch_size=0)
    with pytest.raises(TypeError, match="channel must be a Channel"):
        purge_channel("kiosk")  # type: ignore[arg-type]
