"""Export: JSONL and CSV formats, channel and date filters, streaming in constant memory, action and command."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from django.test import AsyncRequestFactory, RequestFactory

from realtime_agents.exporting import (
    CSV_COLUMNS,
    export_csv,
    export_jsonl,
    iter_conversations,
    iter_csv,
    iter_export,
    iter_jsonl,
)
from realtime_agents.models import Agent, Conversation
from realtime_agents.scoping import ConversationScope, parse_bound
from tests import history
from tests.rows import close_db_threads  # noqa: F401  (fixture)

DAY1 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
DAY3 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def _three() -> tuple[Conversation, Conversation, Conversation]:
    first = history.conversation("web", DAY1, texts=[("user", "hi"), ("assistant", "hello")],
                                 tools=[("lookup", "error")], events=[("handoff", {"from": "A", "to": "B"})])
    second = history.conversation("web", DAY2, texts=[("user", "=HYPERLINK(\"http://x\")")])
    third = history.conversation("phone", DAY3, duration_s=None)
    return first, second, third


@pytest.mark.django_db
def test_jsonl_has_one_line_per_conversation_with_rows_nested_in_order() -> None:
    first, second, third = _three()
    lines = "".join(iter_jsonl(Conversation.objects.all())).splitlines()
    records = [json.loads(line) for line in lines]
    assert [record["conversation_id"] for record in records] == [str(first.public_id), str(second.public_id),
                                                                str(third.public_id)]
    one = records[0]
    assert one["channel"] == "web" and one["duration_s"] == 60.0 and one["end_reason"] == "client_closed"
    assert [(item["sequence"], item["role"], item["text"]) for item in one["items"]] == [
        (1, "user", "hi"), (2, "assistant", "hello")]
    assert [(run["sequence"], run["tool_name"], run["status"]) for run in one["tool_runs"]] == [(3, "lookup", "error")]
    assert one["events"] == [{"sequence": 4, "time": "2026-03-01T09:00:04+00:00", "agent": "Concierge",
                              "kind": "handoff", "data": {"from": "A", "to": "B"}}]
    assert records[1]["tool_runs"] == [] and len(records[1]["items"]) == 1
    # An active conversation: no end, no duration, no rows.
    assert records[2]["ended_at"] is None and records[2]["duration_s"] is None and records[2]["items"] == []


@pytest.mark.django_db
def test_csv_has_one_line_per_row_in_sequence_order_with_the_conversation_columns() -> None:
    first, second, third = _three()
    table = list(csv.DictReader(io.StringIO("".join(iter_csv(Conversation.objects.all())))))
    assert tuple(table[0].keys()) == CSV_COLUMNS
    assert [(row["conversation_id"], row["row_type"], row["sequence"]) for row in table] == [
        (str(first.public_id), "item", "1"), (str(first.public_id), "item", "2"),
        (str(first.public_id), "tool_run", "3"), (str(first.public_id), "event", "4"),
        (str(second.public_id), "item", "1"),
        (str(third.public_id), "", ""),  # no rows: still one line
    ]
    assert table[2]["tool_name"] == "lookup" and table[2]["row_status"] == "error" and table[2]["arguments"] == '{"x": 1}'
    assert json.loads(table[3]["event_data"]) == {"from": "A", "to": "B"} and table[3]["event_kind"] == "handoff"
    assert all(row["channel"] == "web" for row in table[:5]) and table[5]["channel"] == "phone"
    # A caller's text that a spreadsheet would run as a formula is exported inert.
    assert table[4]["text"] == "'=HYPERLINK(\"http://x\")"


@pytest.mark.django_db
def test_channel_and_date_filters_select_the_conversations() -> None:
    first, second, third = _three()

    def exported(scope: ConversationScope) -> list[str]:
        return [json.loads(line)["conversation_id"] for line in iter_jsonl(scope.conversations())]

    assert exported(ConversationScope(channel="web")) == [str(first.public_id), str(second.public_id)]
    assert exported(ConversationScope(channel="phone")) == [str(third.public_id)]
    # An end date is included whole (DAY2 starts at 23:30).
    assert exported(ConversationScope(since=parse_bound("2026-03-02", end=False),
                                      until=parse_bound("2026-03-02", end=True))) == [str(second.public_id)]
    assert exported(ConversationScope(since=parse_bound("2026-03-02T00:00:00+00:00", end=False))) == [
        str(second.public_id), str(third.public_id)]
    assert exported(ConversationScope(channel="web", until=parse_bound("2026-03-01", end=True))) == [
        str(first.public_id)]
    assert exported(ConversationScope(channel="nowhere")) == []


@pytest.mark.django_db
def test_rows_are_matched_to_their_conversation_when_the_selection_skips_some() -> None:
    conversations = [history.conversation("web", DAY1, texts=[("user", f"text {n}")]) for n in range(5)]
    chosen = Conversation.objects.filter(pk__in=[conversations[1].pk, conversations[3].pk])
    pairs = [(row.pk, [item.text for item in items]) for row, items, _, _ in iter_conversations(chosen, chunk_size=1)]
    assert pairs == [(conversations[1].pk, ["text 1"]), (conversations[3].pk, ["text 3"])]


def _measure(conversations: object, export_format: str) -> tuple[int, int, int]:
    """(pieces, characters, peak traced bytes) of consuming one export."""
    pieces = size = 0
    tracemalloc.start()
    try:
        for piece in iter_export(conversations, export_format, chunk_size=100):  # type: ignore[arg-type]
            pieces += 1
            size += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return pieces, size, peak


@pytest.mark.django_db
@pytest.mark.parametrize("export_format", ["jsonl", "csv"])
def test_the_export_streams_in_memory_that_does_not_grow_with_its_size(export_format: str) -> None:
    history.bulk_history("bulk", DAY1, 800, text="x" * 600, per_conversation=4)
    cut = list(Conversation.objects.order_by("pk").values_list("pk", flat=True))[199]
    _, small_size, small_peak = _measure(Conversation.objects.filter(pk__lte=cut), export_format)
    pieces, size, peak = _measure(Conversation.objects.all(), export_format)
    print(f"export {export_format}: {small_size} -> {size} characters, peak {small_peak} -> {peak} bytes")
    assert size > 1_900_000 and size > 3.5 * small_size  # 3,200 items of 600+ characters
    assert pieces >= 800  # one piece per conversation at least, never one big string
    # Four times the data, about the same memory; building the export whole would take more than its size.
    assert peak < 1.5 * small_peak, f"peak {small_peak} -> {peak} bytes for {small_size} -> {size} characters"
    assert peak < size / 2


def _staff(*perms: str) -> object:
    user = get_user_model().objects.create_user("analyst", password="pw", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


@pytest.mark.django_db
def test_admin_actions_download_the_selection_as_a_stream() -> None:
    first, second, _ = _three()
    request = RequestFactory().post("/admin/realtime_agents/conversation/")
    request.user = _staff("view_conversation")
    selection = Conversation.objects.filter(pk__in=[first.pk, second.pk])
    response = export_jsonl(None, request, selection)
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert response["Content-Disposition"].startswith('attachment; filename="conversations-')
    assert response["Content-Disposition"].endswith('.jsonl"')
    body = b"".join(response.streaming_content).decode()
    assert [json.loads(line)["conversation_id"] for line in body.splitlines()] == [
        str(first.public_id), str(second.public_id)]
    response = export_csv(None, request, selection)
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(table) == 5
    assert list(export_jsonl.allowed_permissions) == ["view"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_under_asgi_the_download_is_an_async_stream() -> None:
    from asgiref.sync import sync_to_async

    first, _, _ = await sync_to_async(_three)()
    request = AsyncRequestFactory().post("/admin/realtime_agents/conversation/")
    request.user = await sync_to_async(_staff)("view_conversation")
    selection = Conversation.objects.filter(pk=first.pk)
    response = await sync_to_async(export_jsonl)(None, request, selection)
    # Async content: Django streams it under ASGI instead of buffering a sync iterator whole.
    assert response.is_async
    chunks = [chunk async for chunk in response.streaming_content]
    assert json.loads(b"".join(chunks))["conversation_id"] == str(first.public_id)


@pytest.mark.django_db
def test_the_command_writes_a_filtered_file_or_stdout(tmp_path: Path) -> None:
    first, second, third = _three()
    target = tmp_path / "out.csv"
    errors = io.StringIO()
    call_command("realtime_agents_export", "--format", "csv", "--channel", "web", "--since", "2026-03-02",
                 "--output", str(target), stderr=errors)
    table = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    assert {row["conversation_id"] for row in table} == {str(second.public_id)}
    assert "Exported 1 conversation(s) as csv." in errors.getvalue()
    out = io.StringIO()
    call_command("realtime_agents_export", "--until", "2026-03-02", stdout=out, stderr=io.StringIO())
    assert [json.loads(line)["conversation_id"] for line in out.getvalue().splitlines()] == [
        str(first.public_id), str(second.public_id)]


@pytest.mark.django_db
def test_bad_input_gets_clear_errors(tmp_path: Path) -> None:
    Agent.objects.create(slug="a", name="A", instructions="x")
    with pytest.raises(CommandError, match="invalid choice: 'xml'"):
        call_command("realtime_agents_export", "--format", "xml")
    with pytest.raises(CommandError, match="--since: expected a date"):
        call_command("realtime_agents_export", "--since", "last week")
    with pytest.raises(CommandError, match="until .* must be after since"):
        call_command("realtime_agents_export", "--since", "2026-03-05", "--until", "2026-03-01")
    with pytest.raises(CommandError, match="no channel or conversation with slug 'nope'"):
        call_command("realtime_agents_export", "--channel", "nope")
    with pytest.raises(CommandError, match="--output: cannot write"):
        call_command("realtime_agents_export", "--output", str(tmp_path / "missing" / "x.jsonl"),
                     stderr=io.StringIO())
    with pytest.raises(ValueError, match="export format must be one of jsonl, csv, got 'xml'"):
        iter_export(Conversation.objects.all(), "xml")
    with pytest.raises(TypeError, match="QuerySet of Conversation"):
        next(iter_conversations(Agent.objects.all()))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        ConversationScope(since=datetime(2026, 1, 1))
