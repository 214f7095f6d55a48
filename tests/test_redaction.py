"""Redaction: e-mails, phone numbers, Luhn-checked card numbers; applied at write time by a real recorder run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from realtime_agents.engine.testing import FakeRealtimeServer, FunctionCall, ScriptedResponse
from realtime_agents.recording.ops import RowOp
from realtime_agents.redaction import luhn_valid, redact_json_text, redact_op, redact_text
from realtime_agents.specs import LoadedChannel, load_channel
from tests import rows
from tests.rows import close_db_threads  # noqa: F401  (fixture)
from tests.test_recorder import API_KEY, fetch, finish, start


@pytest.mark.parametrize("text, expected", [
    ("Write to jane.doe+shop@example.co.uk today.", "Write to [email] today."),
    ("a@b.io, B_C@mail-host.example.org", "[email], [email]"),
    ("Call +1 415 555 1234 now", "Call [phone] now"),
    ("or (415) 555-1234 or 415-555-1234.", "or [phone] or [phone]."),
    ("UK: +44 20 7946 0958, mobile 07700 900123", "UK: [phone], mobile [phone]"),
    ("plain 4155551234 digits", "plain [phone] digits"),
])
def test_emails_and_phone_numbers_are_replaced(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize("card", [
    "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "5555 5555 5555 4444",
    "378282246310005", "6011 0009 9013 9424",
])
def test_luhn_valid_card_numbers_are_replaced(card: str) -> None:
    assert redact_text(f"my card is {card}.") == "my card is [card]."


@pytest.mark.parametrize("text", [
    "order 4111 1111 1111 1112 shipped",  # one digit off: fails Luhn
    "ref 1234567890123456",
    "tracking 1234 5678 9012 3456",
    "on 2026-11-21 at 12:30",
    "it costs 1,299.00 for 3 nights",
    "room 1204, flight 2231, pin 1234",
    "version 10.4.2 build 77",
    "item_abc1234567890def",
])
def test_other_numbers_and_words_are_kept(text: str) -> None:
    assert redact_text(text) == text


def test_luhn_checksum() -> None:
    assert luhn_valid("79927398713") and luhn_valid("4111111111111111")
    assert not luhn_valid("79927398710") and not luhn_valid("") and not luhn_valid("12a4")


def test_json_arguments_stay_valid_json() -> None:
    arguments = json.dumps({"email": "x@y.com", "card": 4111111111111111, "nights": 3, "note": ["ok", "a@b.co"]})
    redacted = json.loads(redact_json_text(arguments))
    assert redacted == {"email": "[email]", "card": "[card]", "nights": 3, "note": ["ok", "[email]"]}
    untouched = '{"nights":  3}'
    assert redact_json_text(untouched) == untouched, "unchanged JSON keeps its own spelling"
    assert redact_json_text("not json: a@b.co") == "not json: [email]"


def test_row_operations_redact_texts_arguments_outputs_and_event_texts_only() -> None:
    item = redact_op(RowOp(kind="item", fields={"text": "mail a@b.co", "item_id": "item_4111111111111111"}))
    assert item.fields == {"text": "mail [email]", "item_id": "item_4111111111111111"}
    update = redact_op(RowOp(kind="item_update", sequence=3, fields={"text": "a@b.co", "audio_ms": 1.0}))
    assert update.fields == {"text": "[email]", "audio_ms": 1.0} and update.sequence == 3
    tool = redact_op(RowOp(kind="tool", fields={"arguments": '{"to": "a@b.co"}', "output": "sent to a@b.co",
                                                "call_id": "call_a@b.co"}))
    assert tool.fields == {"arguments": '{"to": "[email]"}', "output": "sent to [email]", "call_id": "call_a@b.co"}
    event = redact_op(RowOp(kind="event", fields={"kind": "guardrail_tripped", "data": {
        "text": "call 415-555-1234", "message": "a@b.co", "item_id": "415-555-1234"}}))
    assert event.fields["data"] == {"text": "call [phone]", "message": "[email]", "item_id": "415-555-1234"}


def test_bad_input_gets_clear_errors() -> None:
    with pytest.raises(TypeError, match="redact_text takes a str, not bytes"):
        redact_text(b"a@b.co")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="redact_json_text takes a str, not int"):
        redact_json_text(3)  # type: ignore[arg-type]


# -- at write time, through a real recorder run -----------------------------------------------------

SAID = "I am jane@example.com, card 4111 1111 1111 1111, phone +1 415 555 1234. Echo my mail."
ANSWER = "Noted, I will call 415-555-1234 and write to jane@example.com. Your refund guaranteed today, truly. "


@pytest.fixture
async def server() -> Any:
    """A fake GA Realtime server on 127.0.0.1."""
    async with FakeRealtimeServer(api_key=API_KEY, validate=True) as fake:
        yield fake
        assert fake.validation_errors == []


def _build(redact: bool) -> LoadedChannel:
    concierge = rows.agent("concierge")
    concierge.tools.add(rows.python_tool("toolapp_echo", "toolapp_echo"))
    concierge.guardrails.add(rows.phrases_guardrail("no-promises", "refund guaranteed", debounce_text_length=20))
    rows.channel("web", concierge, redact_personal_data=redact)
    return load_channel("web")


async def _record(server: FakeRealtimeServer, *, redact: bool) -> dict[str, Any]:
    loaded = await sync_to_async(_build)(redact)
    server.add_response(
        ScriptedResponse(function_calls=[FunctionCall(name="toolapp_echo", call_id="c1",
                                                      arguments={"text": "jane@example.com", "times": 1})]),
        ScriptedResponse(transcript=ANSWER * 3, pace=1.0, chunk_ms=40),
        ScriptedResponse(transcript="Sorry, I cannot promise that. Mail 4111111111111111 is not a card I keep."),
    )
    session, recorder, feed = await start(loaded, server)
    await session.send_message(SAID)
    await feed.count("guardrail_tripped", 1, timeout=10)
    await feed.until(lambda: any("cannot promise" in e.transcript for e in feed.of_type("transcript_done")), 10)
    await finish(session, recorder, feed)
    return await fetch(recorder)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_a_redacting_channel_stores_no_personal_data(server: FakeRealtimeServer) -> None:
    got = await _record(server, redact=True)
    stored = [item.text for item in got["items"]]
    stored += [run.arguments for run in got["tools"]] + [run.output for run in got["tools"]]
    stored += [json.dumps(event.data) for event in got["events"]]
    everything = "\n".join(stored)
    for secret in ("jane@example.com", "4111 1111 1111 1111", "4111111111111111", "555 1234", "555-1234"):
        assert secret not in everything
    user = got["items"][0]
    assert user.role == "user"
    assert user.text == "I am [email], card [card], phone [phone]. Echo my mail."
    run = got["tools"][0]
    assert json.loads(run.arguments) == {"text": "[email]", "times": 1} and run.output == "[email]"
    trip = next(event for event in got["events"] if event.kind == "guardrail_tripped")
    assert "refund guaranteed" in trip.data["text"] and "[phone]" in trip.data["text"]
    cut = next(item for item in got["items"] if item.text.startswith("Noted"))
    assert cut.text.startswith("Noted, I will call [phone] and write to [email].")
    assert got["items"][-1].text == "Sorry, I cannot promise that. Mail [card] is not a card I keep."


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_a_channel_that_does_not_ask_keeps_the_text(server: FakeRealtimeServer) -> None:
    got = await _record(server, redact=False)
    assert got["items"][0].text == SAID
    assert json.loads(got["tools"][0].arguments) == {"text": "jane@example.com", "times": 1}
    assert got["tools"][0].output == "jane@example.com"
