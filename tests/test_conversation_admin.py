"""Conversation admin: summarised list (one query), filters, transcript search, chat detail, API tokens."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from realtime_agents.admin_conversations import ConversationAdmin
from realtime_agents.models import ApiToken, Conversation, ConversationEvent
from realtime_agents.models.api_tokens import hash_token
from tests import rows
from tests.conversation_rows import T0, conversation, event, item, staff, tool_run

pytestmark = pytest.mark.django_db
LIST = "/admin/realtime_agents/conversation/"


def _detail(conv: Conversation) -> str:
    return f"{LIST}{conv.pk}/change/"


@pytest.fixture
def reader() -> Client:
    client = Client()
    client.force_login(staff("reader"))
    return client


def _busy_conversation(started: dt.datetime, **fields: object) -> Conversation:
    # The counts the recorder would have stored for these rows (the list shows the stored counts).
    counts = {"tool_run_count": 3, "tool_error_count": 1, "guardrail_trip_count": 1}
    conv = conversation(messages=[("user", "hi"), ("assistant", "hello")], started=started, **counts, **fields)
    tool_run(conv, 3, status="ok")
    tool_run(conv, 4, status="error")
    tool_run(conv, 5, status="rejected")
    event(conv, 6, ConversationEvent.Kind.GUARDRAIL_TRIPPED, guardrails=["no-refunds"])
    return conv


def _listed(response: object) -> list[int]:
    """Primary keys of the rows the changelist shows, in order."""
    assert response.status_code == 200  # type: ignore[attr-defined]
    return [
        int(pk)
        for pk in re.findall(
            r'href="/admin/realtime_agents/conversation/(\d+)/change/', response.content.decode()
        )
    ]  # type: ignore[attr-defined]


def _list_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST).status_code == 200
    return len(queries)


def test_list_query_count_does_not_grow_with_rows(reader: Client) -> None:
    for minute in range(2):
        _busy_conversation(T0 + dt.timedelta(minutes=minute))
    few = _list_queries(reader)
    for minute in range(2, 14):
        _busy_conversation(T0 + dt.timedelta(minutes=minute), agent=f"Agent {minute}")
    many = _list_queries(reader)
    assert many == few
    # Session, user, permissions, filter choices, date hierarchy, count and the page: a small fixed number.
    assert few <= 15


def test_list_shows_summary_columns(reader: Client) -> None:
    conv = _busy_conversation(T0, final_agent="Billing", end_reason="idle_timeout")
    html = reader.get(LIST).content.decode()
    row = re.search(rf"conversation/{conv.pk}/change/.*?</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    assert "Concierge → Billing" in cells and "1:30" in cells and "idle_timeout" in cells
    # turns, tool runs, tool errors (error, not rejected), guardrail trips
    assert cells[-5:-1] == ["1", "3", "1", "1"]


def test_filters(reader: Client) -> None:
    web = conversation(channel=rows.channel("web", None), started=T0)
    phone_channel = rows.channel("phone", None)
    phone = conversation(channel=phone_channel, started=T0 + dt.timedelta(days=1), end_reason="idle_timeout")
    failing = conversation(started=T0 + dt.timedelta(days=2), agent="Billing")
    tool_run(failing, 1, status="timeout")
    tripped = conversation(started=T0 + dt.timedelta(days=3))
    event(tripped, 1, ConversationEvent.Kind.GUARDRAIL_TRIPPED)
    handed = conversation(started=T0 + dt.timedelta(days=4), final_agent="Billing")
    event(handed, 1, ConversationEvent.Kind.HANDOFF, from_agent="Concierge", to_agent="Billing")

    assert _listed(reader.get(LIST, {"channel__id__exact": phone_channel.pk})) == [phone.pk]
    assert _listed(reader.get(LIST, {"agent": "Billing"})) == [handed.pk, failing.pk]
    assert _listed(reader.get(LIST, {"end_reason": "idle_timeout"})) == [phone.pk]
    assert _listed(reader.get(LIST, {"tool_error": "yes"})) == [failing.pk]
    assert failing.pk not in _listed(reader.get(LIST, {"tool_error": "no"}))
    assert _listed(reader.get(LIST, {"guardrail_tripped": "yes"})) == [tripped.pk]
    assert _listed(reader.get(LIST, {"handed_off": "yes"})) == [handed.pk]
    window = {"started_at__gte": "2026-11-02 00:00:00+00:00", "started_at__lt": "2026-11-04 00:00:00+00:00"}
    assert _listed(reader.get(LIST, window)) == [failing.pk, phone.pk]
    assert web.pk in _listed(reader.get(LIST))


def test_search_ranks_and_shows_marked_escaped_snippets(reader: Client) -> None:
    conversation(messages=[("user", "weather in Paris")])
    once = conversation(messages=[("user", "<i>refund</i> please")], started=T0 + dt.timedelta(hours=1))
    twice = conversation(messages=[("user", "refund"), ("assistant", "your refund is on its way")])
    response = reader.get(LIST, {"q": "refund"})
    assert _listed(response) == [twice.pk, once.pk]
    html = response.content.decode()
    assert "<mark>refund</mark>" in html.lower()
    assert "<i>refund" not in html


def test_search_by_conversation_id_and_too_long_search(reader: Client) -> None:
    target = conversation(messages=[("user", "one")])
    conversation(messages=[("user", "two")])
    assert _listed(reader.get(LIST, {"q": str(target.public_id)})) == [target.pk]
    assert _listed(reader.get(LIST, {"q": str(target.public_id)[:8]})) == [target.pk]
    response = reader.get(LIST, {"q": "x" * 500}, follow=True)
    assert _listed(response) == []
    assert "too long" in response.content.decode()


def test_detail_needs_staff_with_view_permission() -> None:
    conv = conversation(messages=[("user", "private words")])
    for user, expected in ((staff("clerk", view=False), 403), (staff("outsider", is_staff=False), 302)):
        client = Client()
        client.force_login(user)
        response = client.get(_detail(conv))
        assert response.status_code == expected
        assert b"private words" not in response.content
    anonymous = Client().get(_detail(conv))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_detail_reads_as_a_chat_in_sequence(reader: Client) -> None:
    conv = conversation(messages=[("user", "Please refund order 7")])
    item(conv, 2, "assistant", "Checking that for you", status="interrupted", response_latency_ms=640.0)
    tool_run(
        conv,
        3,
        name="refund_order",
        arguments='{"order": 7}',
        output='{"refunded": true}',
        approval="approved",
        decided_by="alice",
        duration_ms=120.0,
    )
    event(conv, 4, ConversationEvent.Kind.HANDOFF, from_agent="Concierge", to_agent="Billing")
    event(conv, 5, ConversationEvent.Kind.GUARDRAIL_TRIPPED, guardrails=["no-promises"])
    item(
        conv, 6, "assistant", "Your refund is done", status="truncated", audio_ms=900.0, agent_name="Billing"
    )
    html = reader.get(_detail(conv)).content.decode()
    sequences = re.findall(r'data-sequence="(\d+)"', html)
    assert sequences == ["1", "2", "3", "4", "5", "6"]
    for expected in (
        "responded in 640 ms",
        "Interrupted",
        "Truncated",
        "heard 900 ms",
        "refund_order",
        "Approved by alice",
        "120 ms",
        "Handed off from Concierge to Billing",
        "Guardrail tripped: no-promises",
        "&quot;order&quot;: 7",
    ):
        assert expected in html, expected
    assert re.search(r"<strong>Billing</strong>", html)


def test_detail_escapes_everything_recorded(reader: Client) -> None:
    attack = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    conv = conversation(messages=[("user", attack)], agent="<b>Evil</b>")
    item(conv, 2, "assistant", attack)
    tool_run(conv, 3, name="lookup", arguments=attack, output=attack, decided_by=attack, approval="rejected")
    event(conv, 4, ConversationEvent.Kind.HANDOFF, from_agent=attack, to_agent="x")
    html = reader.get(_detail(conv)).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>Evil</b>" not in html
    assert html.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") >= 5


def test_api_token_admin_shows_token_once_and_revokes() -> None:
    admin_user = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/realtime_agents/apitoken/add/", {"user": admin_user.pk, "name": "ci"}, follow=True
    )
    match = re.search(r"(ra_[A-Za-z0-9_-]{20,})", response.content.decode())
    assert match is not None
    token = ApiToken.objects.get(name="ci")
    assert token.token_hash == hash_token(match.group(1)) and match.group(1).startswith(token.hint)
    # Never again: the change page does not contain it.
    assert (
        match.group(1)
        not in client.get(f"/admin/realtime_agents/apitoken/{token.pk}/change/").content.decode()
    )
    client.post("/admin/realtime_agents/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert not token.is_active


def test_export_actions_are_offered_and_download_the_selection(reader: Client) -> None:
    first = conversation(messages=[("user", "one")])
    conversation(messages=[("user", "two")])
    assert "export_jsonl" in reader.get(LIST).content.decode()
    response = reader.post(LIST, {"action": "export_jsonl", "_selected_action": [first.pk]})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert str(first.public_id) in body and body.count("\n") == 1


def test_sorting_by_duration_and_by_a_column_while_searching(reader: Client) -> None:
    short = conversation(messages=[("user", "refund")], started=T0)
    long = conversation(
        messages=[("user", "refund refund"), ("user", "refund")], started=T0 + dt.timedelta(hours=1)
    )
    Conversation.objects.filter(pk=long.pk).update(ended_at=long.started_at + dt.timedelta(minutes=30))
    duration_column = ConversationAdmin.list_display.index("duration")
    assert _listed(reader.get(LIST, {"o": str(duration_column + 1)})) == [short.pk, long.pk]
    assert _listed(reader.get(LIST, {"o": f"-{duration_column + 1}"})) == [long.pk, short.pk]
    # Searching ranks by default; a clicked column wins (the match column comes second while searching).
    assert _listed(reader.get(LIST, {"q": "refund"})) == [long.pk, short.pk]
    started_column = ConversationAdmin.list_display.index("started_at") + 1
    assert _listed(reader.get(LIST, {"q": "refund", "o": str(started_column + 1)})) == [short.pk, long.pk]
