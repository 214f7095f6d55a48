"""Stored tool-run, tool-error and guardrail-trip counts: recorder, finalise, stale close, backfill, admin sort."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import re
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from realtime_agents.admin_conversations import ConversationAdmin
from realtime_agents.engine.testing import FakeRealtimeServer, FunctionCall, ScriptedResponse
from realtime_agents.models import Conversation, ConversationEvent
from realtime_agents.recording.counts import row_counts
from realtime_agents.recording.stale import close_stale
from realtime_agents.recording.writer import finalise, write_batch
from realtime_agents.specs import LoadedChannel, load_channel
from tests import rows
from tests.conversation_rows import T0, conversation, event, staff, tool_run
from tests.rows import close_db_threads  # noqa: F401  (fixture)
from tests.test_conversation_models import op, totals
from tests.test_recorder import (
    fetch,
    finish,
    server,  # noqa: F401  (fixture)
    start,
)

LIST = "/admin/realtime_agents/conversation/"
COUNTS = ("tool_run_count", "tool_error_count", "guardrail_trip_count")
backfill_counts = importlib.import_module("realtime_agents.migrations.0009_conversation_counts").backfill_counts


def _counts(conv: Conversation) -> tuple[int, int, int]:
    conv.refresh_from_db()
    return conv.tool_run_count, conv.tool_error_count, conv.guardrail_trip_count


def _counted_from_rows(conv: Conversation) -> tuple[int, int, int]:
    """What the rows say, counted as stale closing and the recount at finalise count them."""
    row = Conversation.objects.filter(pk=conv.pk).values(**{f"rows_{k}": v for k, v in row_counts().items()}).get()
    return row["rows_tool_run_count"], row["rows_tool_error_count"], row["rows_guardrail_trip_count"]


def _active(started: dt.datetime = T0) -> Conversation:
    """A conversation still marked active (as a live, or crashed, session leaves it)."""
    conv = conversation(started=started)
    Conversation.objects.filter(pk=conv.pk).update(status=Conversation.Status.ACTIVE, ended_at=None, end_reason="")
    conv.refresh_from_db()
    return conv


def _mixed_rows(conv: Conversation) -> None:
    """Seven tool runs, four of them failures, two guardrail trips, a handoff and an error event."""
    for sequence, status in enumerate(
        ["ok", "error", "timeout", "rejected", "cancelled", "invalid_arguments", "not_found"], start=1
    ):
        tool_run(conv, sequence, status=status)
    event(conv, 8, ConversationEvent.Kind.GUARDRAIL_TRIPPED, guardrails=["a"])
    event(conv, 9, ConversationEvent.Kind.HANDOFF, from_agent="A", to_agent="B")
    event(conv, 10, ConversationEvent.Kind.ERROR, code="x")
    event(conv, 11, ConversationEvent.Kind.GUARDRAIL_TRIPPED, guardrails=["b"])


# -- the recorder ---------------------------------------------------------------------------------


def _guarded_channel() -> LoadedChannel:
    concierge = rows.agent("concierge")
    concierge.tools.add(rows.python_tool("toolapp_echo", "toolapp_echo"))
    concierge.tools.add(rows.python_tool("toolapp_slow", "toolapp_slow"))
    concierge.guardrails.add(rows.phrases_guardrail("no-promises", "refund guaranteed", debounce_text_length=20))
    rows.channel("web", concierge)
    return load_channel("web")


@sync_to_async
def _stored(conversation_id: int) -> tuple[str, tuple[int, int, int]]:
    conv = Conversation.objects.get(pk=conversation_id)
    return conv.status, (conv.tool_run_count, conv.tool_error_count, conv.guardrail_trip_count)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_the_recorder_stores_the_counts_while_live_and_final_at_the_end(
    server: FakeRealtimeServer,  # noqa: F811
) -> None:
    loaded = await sync_to_async(_guarded_channel)()
    server.add_response(
        ScriptedResponse(function_calls=[FunctionCall(name="toolapp_echo", call_id="c1", arguments={"text": "hi"})]),
        ScriptedResponse(transcript="Echoed."),
        ScriptedResponse(function_calls=[FunctionCall(name="no_such_tool", call_id="c2")]),
        ScriptedResponse(transcript="That tool does not exist."),
        ScriptedResponse(transcript="Your refund guaranteed today, and more words follow. " * 3,
                         pace=1.0, chunk_ms=40),
        ScriptedResponse(transcript="Sorry, I cannot promise that."),
        ScriptedResponse(function_calls=[FunctionCall(name="toolapp_slow", call_id="c3",
                                                      arguments={"seconds": 0.01})]),
    )
    session, recorder, feed = await start(loaded, server)
    await session.send_message("Echo hi.")
    await feed.count("agent_end", 2)
    # Live: the periodic write carries the counts with the rows, before the conversation ends.
    async with asyncio.timeout(5):
        while await _stored(recorder.conversation_id) != ("active", (1, 0, 0)):
            await asyncio.sleep(0.02)
    await session.send_message("Use the other tool.")
    await feed.until(lambda: any("exist" in e.transcript for e in feed.of_type("transcript_done")))
    await session.send_message("Promise me a refund.")
    await feed.count("guardrail_tripped", 1, timeout=10)
    await feed.until(lambda: any("cannot promise" in e.transcript for e in feed.of_type("transcript_done")), 10)
    await session.send_message("Wait a little.")
    await feed.count("tool_approval_required", 1)
    await session.reject_tool_call("c3", message="No.")
    await feed.count("tool_end", 3)
    await finish(session, recorder, feed)

    got = await fetch(recorder)
    assert [(run.call_id, run.status) for run in got["tools"]] == [("c1", "ok"), ("c2", "not_found"),
                                                                    ("c3", "rejected")]
    # Three runs; only the unknown tool failed (a rejection is a decision, not a failure); one trip.
    assert await _stored(recorder.conversation_id) == ("ended", (3, 1, 1))
    assert await sync_to_async(_counted_from_rows)(got["conversation"]) == (3, 1, 1)


@pytest.mark.django_db
def test_write_batch_stores_the_counts_of_the_totals() -> None:
    conv = conversation()
    write_batch(conv.pk, [op("tool", 1, status="timeout")], totals(tool_run_count=1, tool_error_count=1))
    assert _counts(conv) == (1, 1, 0)


@pytest.mark.django_db
def test_finalise_recounts_from_the_rows_when_rows_were_lost() -> None:
    conv = _active()
    tool_run(conv, 1, status="error")
    event(conv, 2, ConversationEvent.Kind.GUARDRAIL_TRIPPED)
    # The tracker saw three runs and a trip, but the run at sequence 1 clashes with a row already there.
    ops = [op("tool", 1, status="ok"), op("tool", 3, status="not_found")]
    lost = finalise(conv.pk, ops, totals(tool_run_count=3, tool_error_count=2, guardrail_trip_count=1), "done")
    assert lost == 1
    assert _counts(conv) == (2, 2, 1) == _counted_from_rows(conv)


@pytest.mark.django_db
def test_finalise_trusts_the_totals_when_nothing_was_lost() -> None:
    conv = _active()
    finalise(conv.pk, [op("tool", 1, status="ok")], totals(tool_run_count=1), "done")
    assert _counts(conv) == (1, 0, 0)
    finalise(conv.pk, [], totals(tool_run_count=5), "done", recount=True)
    assert _counts(conv) == (1, 0, 0), "recounted from the one row"


# -- stale close ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_close_stale_counts_the_rows_of_the_conversations_it_closes() -> None:
    stale = _active(timezone.now() - dt.timedelta(hours=2))
    live = _active(timezone.now())
    for conv in (stale, live):
        # Rows written, but the process died before the totals that go with them.
        _mixed_rows(conv)
    assert close_stale(older_than_s=3600) == 1
    assert _counts(stale) == (7, 4, 2)
    assert _counts(live) == (0, 0, 0), "a live conversation is left to its recorder"


# -- the migration's backfill ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_backfill_sets_the_counts_from_existing_rows() -> None:
    busy = conversation()
    _mixed_rows(busy)
    only_trip = conversation(started=T0 + dt.timedelta(minutes=1))
    event(only_trip, 1, ConversationEvent.Kind.GUARDRAIL_TRIPPED)
    quiet = conversation(started=T0 + dt.timedelta(minutes=2))
    event(quiet, 1, ConversationEvent.Kind.HANDOFF)

    backfill_counts(apps, SimpleNamespace(connection=connection))

    assert _counts(busy) == (7, 4, 2) == _counted_from_rows(busy)
    assert _counts(only_trip) == (0, 0, 1) == _counted_from_rows(only_trip)
    assert _counts(quiet) == (0, 0, 0)


# -- the admin list -------------------------------------------------------------------------------


def _listed(response: Any) -> list[int]:
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'href="/admin/realtime_agents/conversation/(\d+)/change/',
                                         response.content.decode())]


@pytest.mark.django_db
@pytest.mark.parametrize("field", COUNTS)
def test_sorting_the_list_by_a_count_orders_by_the_stored_count(field: str) -> None:
    client = Client()
    client.force_login(staff("reader"))
    values = {"tool_run_count": [5, 1, 3, 3], "tool_error_count": [0, 3, 1, 1],
              "guardrail_trip_count": [2, 0, 1, 1]}
    # Rows disagree with the stored counts on purpose: the column must read the stored one.
    convs = [conversation(started=T0 + dt.timedelta(minutes=n), **{name: values[name][n] for name in COUNTS})
             for n in range(4)]
    for conv in convs:
        tool_run(conv, 1, status="error")
    index = ConversationAdmin.list_display.index(field) + 1  # after the actions' checkbox column

    with CaptureQueriesContext(connection) as queries:
        ascending = _listed(client.get(LIST, {"o": str(index)}))
    # Read now: the next request's start clears the connection's query log.
    page = next(q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"] and field in q["sql"])
    descending = _listed(client.get(LIST, {"o": f"-{index}"}))

    # Equal counts: newest (highest pk) first either way, the change list's tie-break.
    by_count = sorted(convs, key=lambda conv: (getattr(conv, field), -conv.pk))
    assert ascending == [conv.pk for conv in by_count]
    by_count_desc = sorted(convs, key=lambda conv: (-getattr(conv, field), -conv.pk))
    assert descending == [conv.pk for conv in by_count_desc]
    assert "toolrun" not in page.lower() and "conversationevent" not in page.lower(), "no counting of rows"


@pytest.mark.django_db
def test_the_list_shows_the_stored_counts() -> None:
    client = Client()
    client.force_login(staff("reader"))
    conv = conversation(tool_run_count=12, tool_error_count=4, guardrail_trip_count=2)
    html = client.get(LIST).content.decode()
    row = re.search(rf"conversation/{conv.pk}/change/.*?</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    assert cells[-4:-1] == ["12", "4", "2"]
