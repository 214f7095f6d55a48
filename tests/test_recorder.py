"""ConversationRecorder: real engine sessions against the fake Realtime server, recorded as real rows."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import override_settings

from realtime_agents.engine import PlaybackTracker, Runner, Session, SessionEvent, TransportError
from realtime_agents.engine import AgentSpec
from realtime_agents.engine.events import (
    AgentEndEvent,
    AudioEvent,
    HistoryAddedEvent,
    ToolEndEvent,
    TranscriptDoneEvent,
)
from realtime_agents.engine.items import InputText, MessageItem
from realtime_agents.engine.testing import FakeRealtimeServer, FunctionCall, ScriptedResponse, silence, tone
from realtime_agents.models import Channel, Conversation
from realtime_agents.recorder import ClientInfo, ConversationRecorder
from realtime_agents.recording.tracker import ConversationTracker
from realtime_agents.specs import LoadedChannel, load_channel
from tests import rows
from tests.rows import close_db_threads  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_threads")]

API_KEY = "recorder-test-key"
CLIENT = ClientInfo(user_agent="Mozilla/5.0 (X11) test", ip="203.0.113.7")
VAD = {"turn_detection": "server_vad", "vad_silence_duration_ms": 200, "transcription_model": "whisper-1"}


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    """A fake GA Realtime server on 127.0.0.1 that validates every event against the openai types."""
    async with FakeRealtimeServer(api_key=API_KEY, validate=True) as fake:
        yield fake
        assert fake.validation_errors == []


def _channel(slug: str = "web", *, tools: tuple[str, ...] = (), **fields: Any) -> LoadedChannel:
    """A channel starting with a Concierge agent that has the given registered Python tools."""
    start = rows.agent("concierge")
    for function in tools:
        start.tools.add(rows.python_tool(function, function))
    rows.channel(slug, start, **fields)
    return load_channel(slug)


class Feed:
    """Pumps a session's events into the recorder (as the consumer does) and keeps them for waiting."""

    def __init__(self, session: Session, recorder: ConversationRecorder) -> None:
        self.session = session
        self.recorder = recorder
        self.seen: list[SessionEvent] = []
        self.failure: BaseException | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._pump(), name="test-recorder-feed")

    async def _pump(self) -> None:
        try:
            async for event in self.session:
                self.recorder.observe(event)
                self.seen.append(event)
                self._changed.set()
        except TransportError as exc:
            self.failure = exc
        self._changed.set()

    def of_type(self, kind: str) -> list[Any]:
        """Every event of one type seen so far."""
        return [e for e in self.seen if e.type == kind]

    async def until(self, check: Callable[[], bool], timeout: float = 8.0) -> None:
        """Wait until `check()` holds, re-checking on every event."""
        async with asyncio.timeout(timeout):
            while not check():
                self._changed.clear()
                await self._changed.wait()

    async def count(self, kind: str, n: int, timeout: float = 8.0) -> None:
        """Wait for the n-th event of a type."""
        await self.until(lambda: len(self.of_type(kind)) >= n, timeout)

    async def stop(self) -> None:
        """Cancel the pump (the session is closed by then)."""
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def start(loaded: LoadedChannel, server: FakeRealtimeServer, *, reconnect: bool = True,
                tracker: PlaybackTracker | None = None, user_id: int | None = None,
                ) -> tuple[Session, ConversationRecorder, Feed]:
    """Open a recorder and an entered session for the channel, wired like the consumer wires them."""
    recorder = await ConversationRecorder.open(loaded=loaded, user_id=user_id, client=CLIENT)
    config: dict[str, Any] = {"model_settings": loaded.model_settings}
    if not reconnect:
        config["reconnect"] = {"max_attempts": 0}
    model_config: dict[str, Any] = {"api_key": API_KEY, "url": server.url}
    if tracker is not None:
        model_config["playback_tracker"] = tracker
    session = await Runner(loaded.starting_agent, config=config).run(model_config=model_config)
    await session.enter()
    return session, recorder, Feed(session, recorder)


async def finish(session: Session, recorder: ConversationRecorder, feed: Feed, reason: str = "client_closed") -> None:
    """Close like the consumer: the session, then the recorder."""
    await session.close()
    await feed.stop()
    await recorder.close(reason)


@sync_to_async
def transcript(recorder: ConversationRecorder) -> list[tuple[str, str, str]]:
    conversation = Conversation.objects.get(pk=recorder.conversation_id)
    return [(i.role, i.status, i.text) for i in conversation.transcript_items.order_by("sequence")]


@sync_to_async
def fetch(recorder: ConversationRecorder) -> dict[str, Any]:
    """The conversation and all its rows, in sequence order."""
    conversation = Conversation.objects.get(pk=recorder.conversation_id)
    items = list(conversation.transcript_items.order_by("sequence"))
    tools = list(conversation.tool_runs.order_by("sequence"))
    events = list(conversation.events.order_by("sequence"))
    timeline = sorted([(i.sequence, f"item:{i.role}") for i in items] + [(t.sequence, f"tool:{t.tool_name}")
                      for t in tools] + [(e.sequence, f"event:{e.kind}") for e in events])
    return {"conversation": conversation, "items": items, "tools": tools, "events": events,
            "timeline": [label for _, label in timeline]}


async def test_a_spoken_conversation_is_recorded_in_order_with_latency_usage_and_audio(server) -> None:
    loaded = await sync_to_async(_channel)(**VAD)
    user = await sync_to_async(get_user_model().objects.create)(username="alice")
    server.add_transcription("What is the weather like?", "Thanks a lot.")
    server.add_response(ScriptedResponse(transcript="It is sunny and warm today."),
                        ScriptedResponse(transcript="You are welcome, goodbye."))
    tracker = PlaybackTracker()
    session, recorder, feed = await start(loaded, server, user_id=user.pk, tracker=tracker)
    await session.send_audio(silence(100) + tone(600) + silence(500))
    await feed.count("agent_end", 1)
    # The browser played the whole answer before the user spoke again.
    first = feed.of_type("audio")[0].item_id
    played = sum(len(e.data) for e in feed.of_type("audio")) / 48
    tracker.on_play_ms(first, 0, played)
    recorder.note_playback(first, played)
    await session.send_audio(silence(100) + tone(400) + silence(500))
    await feed.count("agent_end", 2)
    await finish(session, recorder, feed)

    got = await fetch(recorder)
    assert [(i.role, i.status, i.text) for i in got["items"]] == [
        ("user", "completed", "What is the weather like?"),
        ("assistant", "completed", "It is sunny and warm today."),
        ("user", "completed", "Thanks a lot."),
        ("assistant", "completed", "You are welcome, goodbye."),
    ]
    user_items = [i for i in got["items"] if i.role == "user"]
    assistant_items = [i for i in got["items"] if i.role == "assistant"]
    # Server VAD spans: the tone plus the silence it waits for (and its padding).
    assert [i.audio_ms for i in user_items] == [900.0, 700.0]
    for item in assistant_items:
        assert item.agent_name == "Concierge" and item.item_id.startswith("item_")
        assert 0 < item.response_latency_ms < 3000, "end of user speech to first assistant audio"
        assert item.audio_ms == pytest.approx(65 * len(item.text), abs=60), "the scripted audio length"
        assert item.started_at <= item.ended_at
    conversation = got["conversation"]
    usage = [e.usage for e in feed.of_type("usage")]
    assert conversation.status == "ended" and conversation.end_reason == "client_closed"
    assert conversation.ended_at >= conversation.started_at and conversation.user_id == user.pk
    assert conversation.turn_count == 2 and conversation.response_count == 2
    assert conversation.input_tokens == sum(u["input_tokens"] for u in usage) > 0
    assert conversation.output_tokens == sum(u["output_tokens"] for u in usage) > 0
    audio_bytes = sum(len(e.data) for e in feed.of_type("audio"))
    assert conversation.output_audio_seconds == pytest.approx(audio_bytes / 48_000, abs=0.002)
    assert conversation.input_audio_seconds == pytest.approx(1.6, abs=0.001)
    assert conversation.channel_id == loaded.channel_id and conversation.channel_slug == "web"
    assert conversation.starting_agent_name == conversation.final_agent_name == "Concierge"


async def test_tool_runs_record_arguments_output_status_duration_and_who_approved(server) -> None:
    loaded = await sync_to_async(_channel)(tools=("toolapp_echo", "toolapp_slow"))
    server.add_response(
        ScriptedResponse(function_calls=[FunctionCall(name="toolapp_echo", call_id="c1",
                                                      arguments={"text": "hi", "times": 2})]),
        ScriptedResponse(transcript="Echoed."),
        ScriptedResponse(function_calls=[FunctionCall(name="toolapp_slow", call_id="c2",
                                                      arguments={"seconds": 0.05})]),
        ScriptedResponse(function_calls=[FunctionCall(name="toolapp_slow", call_id="c3",
                                                      arguments={"seconds": 0.05})]),
        ScriptedResponse(function_calls=[FunctionCall(name="no_such_tool", call_id="c4")]),
        ScriptedResponse(transcript="That tool does not exist."),
    )
    session, recorder, feed = await start(loaded, server)
    await session.send_message("Echo hi twice.")
    await feed.count("agent_end", 2)
    await session.send_message("Wait a little.")
    await feed.count("tool_approval_required", 1)
    assert recorder.note_approval("c2", approved=True, decided_by="user:alice") is True
    await session.approve_tool_call("c2")
    await feed.count("tool_end", 2)
    await session.send_message("Wait again.")
    await feed.count("tool_approval_required", 2)
    recorder.note_approval("c3", approved=False, decided_by="staff:bob")
    await session.reject_tool_call("c3", message="Bob said no.")
    await feed.count("tool_end", 3)
    await session.send_message("Use the other tool.")
    await feed.count("tool_end", 4)
    await feed.until(lambda: bool([e for e in feed.of_type("transcript_done") if "exist" in e.transcript]))
    assert recorder.note_approval("never-asked", approved=True, decided_by="x") is False
    await finish(session, recorder, feed)

    got = await fetch(recorder)
    runs = {run.call_id: run for run in got["tools"]}
    assert [run.call_id for run in got["tools"]] == ["c1", "c2", "c3", "c4"]
    echo = runs["c1"]
    assert echo.tool_name == "toolapp_echo" and json.loads(echo.arguments) == {"text": "hi", "times": 2}
    assert (echo.output, echo.status, echo.approval, echo.decided_by) == ("hi hi", "ok", "", "")
    assert 0 <= echo.duration_ms < 1000 and echo.agent_name == "Concierge"
    slow = runs["c2"]
    assert (slow.status, slow.output, slow.approval, slow.decided_by) == ("ok", "done", "approved", "user:alice")
    assert 40 <= slow.duration_ms < 2000, "the tool slept 50 ms"
    rejected = runs["c3"]
    assert (rejected.status, rejected.output, rejected.approval) == ("rejected", "Bob said no.", "rejected")
    assert rejected.decided_by == "staff:bob"
    assert (runs["c4"].status, runs["c4"].tool_name) == ("not_found", "no_such_tool")
    timeline = got["timeline"]
    assert timeline[:3] == ["item:user", "tool:toolapp_echo", "item:assistant"], "the run sits where it happened"
    assert "event:error" in timeline, "the unknown tool is also an error event"


async def test_handoffs_and_guardrail_trips_are_events_and_the_cut_answer_is_kept_as_heard(server) -> None:
    def build() -> LoadedChannel:
        concierge, billing = rows.agent("concierge"), rows.agent("billing")
        rows.handoff(concierge, billing)
        billing.guardrails.add(rows.phrases_guardrail("no-promises", "refund guaranteed", debounce_text_length=20))
        rows.channel("web", concierge)
        return load_channel("web")

    loaded = await sync_to_async(build)()
    server.add_response(
        ScriptedResponse(transcript="Let me transfer you.",
                         function_calls=[FunctionCall(name="transfer_to_billing", call_id="h1")]),
        ScriptedResponse(transcript="Billing here. Your refund guaranteed today, and more words follow. " * 3,
                         pace=1.0, chunk_ms=40),
        ScriptedResponse(transcript="Sorry, I cannot promise that."),
    )
    session, recorder, feed = await start(loaded, server)
    await session.send_message("I want my money back.")
    await feed.count("guardrail_tripped", 1, timeout=10)
    await feed.until(lambda: any("cannot promise" in e.transcript for e in feed.of_type("transcript_done")), 10)
    await finish(session, recorder, feed, "max_duration")

    got = await fetch(recorder)
    handoff = next(e for e in got["events"] if e.kind == "handoff")
    assert handoff.data == {"from_agent": "Concierge", "to_agent": "Billing", "call_id": "h1"}
    assert handoff.agent_name == "Concierge"
    trip = next(e for e in got["events"] if e.kind == "guardrail_tripped")
    assert trip.data["guardrails"] == ["no-promises"] and trip.data["guardrail_kind"] == "output"
    assert "refund guaranteed" in trip.data["text"] and trip.agent_name == "Billing"
    items = got["items"]
    cut = next(i for i in items if i.text.startswith("Billing here"))
    assert cut.status in ("truncated", "interrupted") and cut.agent_name == "Billing"
    assert len(cut.text) < len("Billing here. Your refund guaranteed today, and more words follow. " * 3)
    assert any(i.role == "system" and "no-promises" in i.text for i in items), "the recovery guidance is kept"
    assert items[-1].text == "Sorry, I cannot promise that." and items[-1].agent_name == "Billing"
    assert got["tools"] == [], "a handoff is an event, not a tool run"
    timeline = got["timeline"]
    assert timeline.index("event:handoff") < timeline.index("event:guardrail_tripped")
    conversation = got["conversation"]
    assert conversation.final_agent_name == "Billing" and conversation.starting_agent_name == "Concierge"
    assert conversation.end_reason == "max_duration"


async def test_barge_in_stores_the_assistant_item_truncated_at_what_was_heard(server) -> None:
    loaded = await sync_to_async(_channel)(**VAD)
    answer = "A long answer that keeps going for a good while. " * 3
    server.add_transcription("Tell me a story.", "Stop.")
    server.add_response(ScriptedResponse(transcript=answer, pace=1.0, chunk_ms=40),
                        ScriptedResponse(transcript="Okay, stopping."))
    tracker = PlaybackTracker()
    session, recorder, feed = await start(loaded, server, tracker=tracker)
    await session.send_audio(silence(100) + tone(500) + silence(400))
    await feed.count("audio", 10)
    item_id = feed.of_type("audio")[0].item_id
    tracker.on_play_ms(item_id, 0, 240)
    recorder.note_playback(item_id, 240)
    await session.send_audio(tone(400) + silence(400))
    await feed.count("audio_interrupted", 1)
    await feed.until(lambda: any(e.transcript == "Okay, stopping." for e in feed.of_type("transcript_done")))
    await finish(session, recorder, feed)

    got = await fetch(recorder)
    assert [(i.role, i.status) for i in got["items"]] == [
        ("user", "completed"), ("assistant", "truncated"), ("user", "completed"), ("assistant", "completed")]
    cut = got["items"][1]
    assert cut.item_id == item_id and cut.audio_ms == 240
    assert cut.text and answer.startswith(cut.text) and len(cut.text) < len(answer) / 2
    assert cut.response_latency_ms is not None and cut.response_latency_ms > 0
    interruption = next(e for e in got["events"] if e.kind == "interruption")
    assert interruption.data == {"item_id": item_id, "audio_end_ms": 240, "reason": "speech"}


async def test_an_answer_generated_in_full_but_cut_during_playback_is_updated_to_truncated(server) -> None:
    loaded = await sync_to_async(_channel)(**VAD)
    answer = "Here is everything at once, streamed faster than it can be played."
    server.add_transcription("Go.", "Wait.")
    server.add_response(ScriptedResponse(transcript=answer), ScriptedResponse(transcript="Yes?"))
    tracker = PlaybackTracker()
    session, recorder, feed = await start(loaded, server, tracker=tracker)
    await session.send_audio(silence(100) + tone(400) + silence(400))
    await feed.count("agent_end", 1)
    item_id = feed.of_type("audio")[0].item_id
    async with asyncio.timeout(5):
        while ("assistant", "completed", answer) not in await transcript(recorder):
            await asyncio.sleep(0.05)
    tracker.on_play_ms(item_id, 0, 1500)
    recorder.note_playback(item_id, 1500)
    await session.send_audio(silence(100) + tone(400) + silence(400))
    await feed.count("agent_end", 2)
    await finish(session, recorder, feed)

    got = await fetch(recorder)
    cut = next(i for i in got["items"] if i.item_id == item_id)
    assert cut.status == "truncated" and cut.audio_ms == 1500
    assert answer.startswith(cut.text) and 0 < len(cut.text) < len(answer)
    assert [i.role for i in got["items"]] == ["user", "assistant", "user", "assistant"]


async def test_a_killed_upstream_connection_loses_only_the_item_in_flight(server) -> None:
    loaded = await sync_to_async(_channel)()
    partial = "This reply will be cut off by the network before it ends. " * 4
    server.add_response(ScriptedResponse(transcript="First answer."),
                        ScriptedResponse(transcript=partial, pace=1.0))
    session, recorder, feed = await start(loaded, server, reconnect=False)
    await session.send_message("First question.")
    await feed.count("agent_end", 1)
    first_audio = len(feed.of_type("audio"))
    await session.send_message("Second question.")
    await feed.count("audio", first_audio + 3)
    await server.drop_connection()
    await feed.until(lambda: feed.failure is not None)
    assert isinstance(feed.failure, TransportError)

    # Before any close: what completed is already in the database (as after a crash).
    async with asyncio.timeout(5):
        while len(await transcript(recorder)) < 3:
            await asyncio.sleep(0.05)
    assert await transcript(recorder) == [
        ("user", "completed", "First question."),
        ("assistant", "completed", "First answer."),
        ("user", "completed", "Second question."),
    ]
    await finish(session, recorder, feed, "upstream_failed")
    got = await fetch(recorder)
    in_flight = got["items"][-1]
    assert in_flight.role == "assistant" and in_flight.status == "interrupted"
    assert 0 < in_flight.audio_ms < 65 * len(partial)
    assert any(e.kind == "error" and e.data["code"] == "connection_lost" for e in got["events"])
    assert got["conversation"].end_reason == "upstream_failed" and got["conversation"].status == "ended"


async def test_close_is_idempotent_and_later_events_are_ignored(server) -> None:
    loaded = await sync_to_async(_channel)()
    server.add_response(ScriptedResponse(transcript="Hello there."), ScriptedResponse(transcript="Too late."))
    session, recorder, feed = await start(loaded, server)
    await session.send_message("Hi.")
    await feed.count("agent_end", 1)
    await asyncio.gather(recorder.close("client_closed"), recorder.close("second"))
    await recorder.close("third")
    ended = (await fetch(recorder))["conversation"]
    assert ended.end_reason == "client_closed" and ended.status == "ended"
    await session.send_message("Are you there?")
    await feed.count("agent_end", 2)
    await feed.stop()
    await session.close()
    got = await fetch(recorder)
    assert [i.text for i in got["items"]] == ["Hi.", "Hello there."]
    assert got["conversation"].ended_at == ended.ended_at and got["conversation"].response_count == 1
    assert recorder.note_approval("c1", approved=True, decided_by="x") is False


async def test_the_client_address_is_only_stored_as_a_keyed_hash(server) -> None:
    loaded = await sync_to_async(_channel)()
    with override_settings(REALTIME_AGENTS={"IP_HASH_SECRET": "pepper-one"}):
        first = await ConversationRecorder.open(loaded=loaded, user_id=None, client=CLIENT)
        await first.close("client_closed")
    with override_settings(REALTIME_AGENTS={"IP_HASH_SECRET": "pepper-two"}):
        second = await ConversationRecorder.open(loaded=loaded, user_id=None, client=CLIENT)
        await second.close("client_closed")
    one, two = (await fetch(first))["conversation"], (await fetch(second))["conversation"]
    assert one.ip_hash == hmac.new(b"pepper-one", b"203.0.113.7", hashlib.sha256).hexdigest()
    assert two.ip_hash != one.ip_hash and len(two.ip_hash) == 64
    for row in (one, two):
        values = [str(getattr(row, f.attname)) for f in Conversation._meta.concrete_fields]
        assert not any("203.0.113.7" in value for value in values), "the raw address is nowhere in the row"
    assert one.user_agent == CLIENT.user_agent and one.public_id != two.public_id
    assert first.public_id == str(one.public_id)


@pytest.mark.parametrize(("transcription_model", "recorded"), [("", "Hello?"), ("none", "")])
async def test_caller_speech_waits_for_the_default_transcription_unless_it_is_off(
        server, transcription_model: str, recorded: str) -> None:
    loaded = await sync_to_async(_channel)(**{**VAD, "transcription_model": transcription_model})
    server.late_transcription = True
    server.add_transcription("Hello?")
    server.add_response(ScriptedResponse(transcript="Hi."))
    session, recorder, feed = await start(loaded, server)
    await session.send_audio(silence(100) + tone(400) + silence(500))
    await feed.count("agent_end", 1)
    await finish(session, recorder, feed)
    assert (await transcript(recorder))[0] == ("user", "completed", recorded)


async def test_calls_keep_their_call_id_and_caller_number_redacted_when_the_channel_redacts(server) -> None:
    loaded = await sync_to_async(_channel)()
    call = ClientInfo(user_agent="", ip="", call_id="CA0123", caller_number="+15550001111")
    plain = await ConversationRecorder.open(loaded=loaded, user_id=None, client=call)
    await plain.close("caller_hung_up")
    await sync_to_async(lambda: Channel.objects.filter(pk=loaded.channel_id).update(redact_personal_data=True))()
    redacted = await ConversationRecorder.open(loaded=loaded, user_id=None, client=call)
    await redacted.close("caller_hung_up")
    one, two = (await fetch(plain))["conversation"], (await fetch(redacted))["conversation"]
    assert (one.call_id, one.caller_number) == ("CA0123", "+15550001111")
    assert (two.call_id, two.caller_number) == ("CA0123", "[phone]")
    with pytest.raises(TypeError, match="caller_number must be a str"):
        ClientInfo(user_agent="", ip="", caller_number=None)  # type: ignore[arg-type]


async def test_active_count_by_channel_and_address_ignores_old_and_ended_rows() -> None:
    loaded = await sync_to_async(_channel)()
    other = await sync_to_async(lambda: dataclasses.replace(
        loaded, channel_id=rows.channel("other", rows.agent("other")).pk, slug="other"))()
    here = [await ConversationRecorder.open(loaded=loaded, user_id=None, client=CLIENT) for _ in range(3)]
    elsewhere = await ConversationRecorder.open(loaded=other, user_id=None,
                                                client=ClientInfo(user_agent="", ip="2001:db8::1"))
    await here[0].close("client_closed")
    await sync_to_async(lambda: Conversation.objects.filter(pk=here[1].conversation_id).update(
        started_at=Conversation.objects.get(pk=here[1].conversation_id).started_at.replace(year=2000)))()
    count = ConversationRecorder.active_count
    assert await count(within_s=3600) == 2
    assert await count(channel_id=loaded.channel_id, within_s=3600) == 1
    assert await count(ip="203.0.113.7", within_s=3600) == 1
    assert await count(ip="2001:db8::1", within_s=3600) == 1
    assert await count(ip="198.51.100.1", within_s=3600) == 0
    assert await count(channel_id=loaded.channel_id, within_s=10**12) == 2, "a wide window sees the stale row"
    for recorder in (*here[1:], elsewhere):
        await recorder.close("client_closed")


async def test_bad_input_gets_clear_errors_and_never_breaks_recording(server, caplog) -> None:
    with pytest.raises(ValueError, match="IPv4 or IPv6"):
        ClientInfo(user_agent="x", ip="not-an-address")
    with pytest.raises(TypeError, match="user_agent must be a str"):
        ClientInfo(user_agent=None, ip="")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="loaded must be a LoadedChannel"):
        await ConversationRecorder.open(loaded="web", user_id=None, client=CLIENT)  # type: ignore[arg-type]
    loaded = await sync_to_async(_channel)()
    with pytest.raises(TypeError, match="user_id must be an int"):
        await ConversationRecorder.open(loaded=loaded, user_id="7", client=CLIENT)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="within_s must be a positive"):
        await ConversationRecorder.active_count(within_s=0)
    recorder = await ConversationRecorder.open(loaded=loaded, user_id=None, client=ClientInfo(user_agent="", ip=""))
    with pytest.raises(ValueError, match="ms must be >= 0"):
        recorder.note_playback("item_1", -5)
    with pytest.raises(TypeError, match="note_approval takes"):
        recorder.note_approval("c1", approved="yes", decided_by="x")  # type: ignore[arg-type]
    recorder.observe(object())
    broken = ToolEndEvent(agent=None, tool=None, tool_name="t", call_id="c9", arguments="{}", output="x")  # type: ignore[arg-type]
    recorder.observe(broken)
    assert "could not record a tool_end event" in caplog.text
    await recorder.close(None)  # type: ignore[arg-type]
    got = await fetch(recorder)
    assert got["conversation"].end_reason == "unknown" and got["conversation"].ip_hash == ""
    assert got["conversation"].status == "ended"


async def test_close_never_raises_when_the_database_refuses_the_rows(caplog) -> None:
    loaded = await sync_to_async(_channel)()
    recorder = await ConversationRecorder.open(loaded=loaded, user_id=None, client=CLIENT)
    await sync_to_async(Conversation.objects.filter(pk=recorder.conversation_id).delete)()
    recorder.observe(HistoryAddedEvent(item=MessageItem(item_id="item_1", role="user",
                                                        content=(InputText(text="Hello?"),))))
    await recorder.close("client_closed")
    assert recorder.lost_rows == 1
    assert "could not write a item row" in caplog.text


def test_audio_only_moves_counters_and_queues_no_rows() -> None:
    tracker = ConversationTracker(starting_agent="A", bytes_per_ms=48, transcribes_input=False)
    chunk = AudioEvent(data=bytes(4800), item_id="item_a", response_id="resp_1")
    for _ in range(1000):
        tracker.observe(chunk)
    assert tracker.ops == [] and tracker.output_audio_bytes == 4_800_000
    assert tracker.totals().output_audio_seconds == 100.0
    tracker.observe(TranscriptDoneEvent(role="assistant", item_id="item_a", transcript="Long."))
    tracker.observe(AgentEndEvent(agent=AgentSpec(name="A"), response_id="resp_1", status="completed"))
    (row,) = tracker.ops
    assert (row.fields["text"], row.fields["status"], row.fields["audio_ms"]) == ("Long.", "completed", 100_000.0)


@pytest.mark.parametrize(("played", "status", "audio_ms"), [(300.0, "interrupted", 300.0),
                                                           (1700.0, "completed", 2000.0)])
def test_a_session_ending_mid_playback_marks_the_unheard_answer_interrupted(played, status, audio_ms) -> None:
    tracker = ConversationTracker(starting_agent="A", bytes_per_ms=48, transcribes_input=False)
    tracker.observe(AudioEvent(data=bytes(48 * 2000), item_id="item_a", response_id="resp_1"))
    tracker.observe(TranscriptDoneEvent(role="assistant", item_id="item_a", transcript="Two seconds of speech."))
    tracker.observe(AgentEndEvent(agent=AgentSpec(name="A"), response_id="resp_1", status="completed"))
    tracker.note_playback("item_a", played)
    tracker.note_playback("item_a", 100.0)  # a late, older position
    tracker.note_playback("item_unknown", 5.0)
    tracker.finish()
    final = {"status": tracker.ops[0].fields["status"], "audio_ms": tracker.ops[0].fields["audio_ms"]}
    for row in tracker.ops[1:]:
        assert row.kind == "item_update" and row.sequence == tracker.ops[0].fields["sequence"]
        final.update(row.fields)
    assert (final["status"], final["audio_ms"]) == (status, audio_ms)
