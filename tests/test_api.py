"""The read-only JSON API: authentication, permissions, filters, search, cursor pages, detail."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from realtime_agents.models import ApiToken, ConversationEvent
from tests.conversation_rows import T0, conversation, event, item, staff, tool_run

pytestmark = pytest.mark.django_db
LIST = "/realtime/api/conversations/"


def _bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def reader_client() -> Client:
    client = Client()
    client.force_login(staff("reader"))
    return client


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- authentication and authorisation ------------------------------------------------------------


def test_urls_are_included_under_api() -> None:
    assert reverse("realtime_agents:api:conversations") == LIST


def test_anonymous_gets_401_and_no_data() -> None:
    conversation(messages=[("user", "secret stuff")])
    response = Client().get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "results" not in response.json() and b"secret" not in response.content


def test_non_staff_session_gets_403_even_with_the_permission() -> None:
    conversation(messages=[("user", "secret stuff")])
    client = Client()
    client.force_login(staff("customer", is_staff=False))
    response = client.get(LIST)
    assert response.status_code == 403 and b"secret" not in response.content


def test_staff_without_view_permission_gets_403() -> None:
    client = Client()
    client.force_login(staff("clerk", view=False))
    response = client.get(LIST)
    assert response.status_code == 403
    assert "view_conversation" in response.json()["error"]


def test_staff_session_with_permission_reads(reader_client: Client) -> None:
    conv = conversation(messages=[("user", "hello")])
    assert _ids(reader_client.get(LIST)) == [str(conv.public_id)]


def test_token_authenticates_and_records_last_use() -> None:
    conv = conversation()
    token, plain = ApiToken.issue(user=staff("robot"), name="reports")
    assert token.last_used_at is None and plain not in {token.token_hash, token.hint}
    assert _ids(Client().get(LIST, **_bearer(plain))) == [str(conv.public_id)]
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_revoked_wrong_and_malformed_tokens_get_401() -> None:
    token, plain = ApiToken.issue(user=staff("robot"))
    assert Client().get(LIST, **_bearer(plain + "x")).status_code == 401
    assert Client().get(LIST, HTTP_AUTHORIZATION=f"Basic {plain}").status_code == 401
    assert Client().get(LIST, HTTP_AUTHORIZATION="Bearer ").status_code == 401
    token.revoke()
    response = Client().get(LIST, **_bearer(plain))
    assert response.status_code == 401 and "revoked" in response.json()["error"]


def test_token_of_inactive_or_unprivileged_user_is_refused() -> None:
    user = staff("robot")
    _, plain = ApiToken.issue(user=user)
    user.is_active = False
    user.save()
    assert Client().get(LIST, **_bearer(plain)).status_code == 401
    _, plain = ApiToken.issue(user=staff("noperm", view=False))
    assert Client().get(LIST, **_bearer(plain)).status_code == 403
    _, plain = ApiToken.issue(user=staff("outsider", is_staff=False))
    assert Client().get(LIST, **_bearer(plain)).status_code == 403


def test_writes_are_refused(reader_client: Client) -> None:
    response = reader_client.post(LIST, {})
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


def test_token_command_prints_token_once_and_stores_only_its_hash() -> None:
    user = staff("robot")
    out = io.StringIO()
    call_command("realtime_agents_api_token", "robot", "--name", "nightly", stdout=out)
    plain = [line for line in out.getvalue().split() if line.startswith("ra_")][0]
    token = ApiToken.objects.get(user=user)
    assert token.name == "nightly" and plain not in token.token_hash
    assert Client().get(LIST, **_bearer(plain)).status_code == 200
    with pytest.raises(CommandError, match="No user"):
        call_command("realtime_agents_api_token", "nobody", stdout=io.StringIO())


# --- list: filters, search, pagination -----------------------------------------------------------


def test_list_shows_summary_counts(reader_client: Client) -> None:
    # The counts the recorder stores with these rows; the API shows the stored counts, as the admin does.
    counts = {"tool_run_count": 2, "tool_error_count": 1, "guardrail_trip_count": 1}
    conv = conversation(messages=[("user", "a"), ("assistant", "b")], **counts)
    tool_run(conv, 3, status="ok")
    tool_run(conv, 4, status="timeout")
    event(conv, 5, ConversationEvent.Kind.GUARDRAIL_TRIPPED, guardrail="no-refunds")
    (row,) = reader_client.get(LIST).json()["results"]
    assert row["tool_runs"] == 2 and row["tool_errors"] == 1 and row["guardrail_trips"] == 1
    assert row["turns"] == 1 and row["duration_seconds"] == 90.0 and row["channel"] == "web"


def test_filters(reader_client: Client) -> None:
    web = conversation(channel_slug="web", started=T0)
    phone = conversation(channel_slug="phone", started=T0 + dt.timedelta(days=2), end_reason="idle_timeout")
    failing = conversation(channel_slug="web", started=T0 + dt.timedelta(days=4), agent="Billing")
    tool_run(failing, 1, status="error")
    tripped = conversation(started=T0 + dt.timedelta(days=5))
    event(tripped, 1, ConversationEvent.Kind.GUARDRAIL_TRIPPED)
    handed = conversation(started=T0 + dt.timedelta(days=6), final_agent="Billing")
    event(handed, 1, ConversationEvent.Kind.HANDOFF, from_agent="Concierge", to_agent="Billing")
    ids = {c: str(c.public_id) for c in (web, phone, failing, tripped, handed)}

    assert _ids(reader_client.get(LIST, {"channel": "phone"})) == [ids[phone]]
    assert _ids(reader_client.get(LIST, {"agent": "Billing"})) == [ids[handed], ids[failing]]
    assert _ids(reader_client.get(LIST, {"end_reason": "idle_timeout"})) == [ids[phone]]
    assert _ids(reader_client.get(LIST, {"tool_error": "true"})) == [ids[failing]]
    assert ids[failing] not in _ids(reader_client.get(LIST, {"tool_error": "false"}))
    assert _ids(reader_client.get(LIST, {"guardrail_tripped": "yes"})) == [ids[tripped]]
    assert _ids(reader_client.get(LIST, {"handed_off": "1"})) == [ids[handed]]
    window = {"started_after": "2026-11-02", "started_before": "2026-11-05T13:00:00Z"}
    assert _ids(reader_client.get(LIST, window)) == [ids[failing], ids[phone]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"started_after": "yesterday"}, "started_after"),
        ({"tool_error": "maybe"}, "tool_error"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "garbage"}, "Invalid cursor"),
        ({"chanel": "web"}, "Unknown parameter"),
        ({"q": "x" * 201}, "too long"),
    ],
)
def test_bad_parameters_get_400_with_a_clear_message(
    reader_client: Client, params: dict[str, str], message: str
) -> None:
    response = reader_client.get(LIST, params)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_search_ranks_and_returns_escaped_snippets(reader_client: Client) -> None:
    conversation(messages=[("user", "weather please")])
    one = conversation(messages=[("user", "refund <b>please</b>")])
    many = conversation(
        messages=[("user", "refund"), ("assistant", "refund started"), ("user", "refund when?")]
    )
    response = reader_client.get(LIST, {"q": "refund"})
    assert _ids(response) == [str(many.public_id), str(one.public_id)]
    snippets = [row["search"]["snippet_html"] for row in response.json()["results"]]
    assert all("<mark>" in s.lower() for s in snippets) and not any("<b>" in s for s in snippets)


def test_cursor_pages_are_complete_and_stable_under_inserts(reader_client: Client) -> None:
    convs = [conversation(started=T0 + dt.timedelta(minutes=i)) for i in range(7)]
    # Two rows with the same start time: the pk breaks the tie.
    convs.append(conversation(started=T0 + dt.timedelta(minutes=3)))
    expected = [str(c.public_id) for c in sorted(convs, key=lambda c: (c.started_at, c.pk), reverse=True)]
    seen: list[str] = []
    response = reader_client.get(LIST, {"limit": "3"})
    for _ in range(10):
        body = response.json()
        seen += [row["id"] for row in body["results"]]
        if body["next_cursor"] is None:
            break
        # A newer conversation arriving between pages must not shift or repeat anything.
        conversation(started=T0 + dt.timedelta(days=30, minutes=len(seen)))
        response = reader_client.get(body["next"])
        assert response.status_code == 200
    assert seen == expected


def test_search_cursor_pages_follow_rank_and_cannot_be_mixed(reader_client: Client) -> None:
    for hits in (1, 2, 3, 1, 2):
        conversation(messages=[("user", "refund")] * hits + [("assistant", "ok")])
    seen: list[float] = []
    response = reader_client.get(LIST, {"q": "refund", "limit": "2"})
    for _ in range(5):
        body = response.json()
        seen += [row["search"]["rank"] for row in body["results"]]
        if body["next_cursor"] is None:
            break
        response = reader_client.get(LIST, {"q": "refund", "limit": "2", "cursor": body["next_cursor"]})
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
    first = reader_client.get(LIST, {"q": "refund", "limit": "2"}).json()
    mixed = reader_client.get(LIST, {"limit": "2", "cursor": first["next_cursor"]})
    assert mixed.status_code == 400 and "different query" in mixed.json()["error"]


# --- detail -------------------------------------------------------------------------------------


def test_detail_returns_rows_in_sequence(reader_client: Client) -> None:
    conv = conversation(messages=[("user", "refund my order")], tool_run_count=1)
    tool_run(conv, 2, arguments='{"order": 7}', output="refunded", approval="approved", decided_by="alice")
    event(conv, 3, ConversationEvent.Kind.HANDOFF, from_agent="Concierge", to_agent="Billing")
    item(conv, 4, "assistant", "Done.", response_latency_ms=420.0, status="truncated")
    body = reader_client.get(f"{LIST}{conv.public_id}/").json()
    assert [(e["sequence"], e["type"]) for e in body["timeline"]] == [
        (1, "message"),
        (2, "tool_run"),
        (3, "event"),
        (4, "message"),
    ]
    assert body["timeline"][1]["decided_by"] == "alice" and body["timeline"][1]["arguments"] == '{"order": 7}'
    assert body["timeline"][2]["data"] == {"from_agent": "Concierge", "to_agent": "Billing"}
    assert (
        body["timeline"][3]["response_latency_ms"] == 420.0 and body["timeline"][3]["status"] == "truncated"
    )
    assert body["tool_runs"] == 1


def test_detail_refuses_anonymous_and_unknown_ids(reader_client: Client) -> None:
    conv = conversation(messages=[("user", "private")])
    anonymous = Client().get(f"{LIST}{conv.public_id}/")
    assert anonymous.status_code == 401 and b"private" not in anonymous.content
    missing = reader_client.get(f"{LIST}00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404 and "error" in missing.json()
