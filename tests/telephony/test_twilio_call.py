"""TwilioCall without a Twilio socket: a real session on the fake model, frames given as parsed events."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.core.cache import cache

from realtime_agents.engine import AgentSpec, PlaybackTracker, Runner
from realtime_agents.engine.testing import FakeRealtimeServer
from realtime_agents.telephony import twilio_call
from realtime_agents.telephony.twilio_call import MAX_STRIKES, TwilioCall, TwilioCallControl
from realtime_agents.telephony.twilio_outcomes import CallOutcome, take_outcome
from realtime_agents.telephony.twilio_session import chunk_ms
from realtime_agents.telephony.twilio_stream import TwilioStart, parse_twilio_frame

from .twilio_sim import CallerStream

API_KEY = "call-test-key"
CALL_SID = "CA" + "d" * 32
STREAM_SID = "MZ" + "d" * 32


class Recorder:
    """Stands in for the conversation recorder (its own tests cover it); keeps the playback notes."""

    def __init__(self) -> None:
        self.playback: list[tuple[str, float]] = []

    def observe(self, event: Any) -> None:
        pass

    def note_playback(self, item_id: str, ms: float) -> None:
        self.playback.append((item_id, ms))

    def note_approval(self, call_id: str, *, approved: bool, decided_by: str) -> bool:
        return True


@pytest.fixture
async def call() -> AsyncIterator[TwilioCall]:
    """A call on an entered session with the fake model (μ-law both ways); frames sent are kept in `sent`."""
    async with FakeRealtimeServer(api_key=API_KEY, validate=True) as fake:
        tracker = PlaybackTracker()
        settings = {"input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw"}
        runner = Runner(AgentSpec(name="Operator"), config={"model_settings": settings})
        session = await runner.run(
            model_config={"api_key": API_KEY, "url": fake.url, "playback_tracker": tracker}
        )
        await session.enter()
        sent: list[str] = []

        async def send(frame: str) -> None:
            sent.append(frame)

        start = TwilioStart(stream_sid=STREAM_SID, account_sid="AC1", call_sid=CALL_SID)
        control = TwilioCallControl(call_sid=CALL_SID, channel="line")
        twilio = TwilioCall(
            session=session, recorder=Recorder(), start=start, tracker=tracker, control=control, send=send
        )
        twilio.fake = fake  # type: ignore[attr-defined]
        twilio.sent = sent  # type: ignore[attr-defined]
        yield twilio
        twilio.close()
        await session.close()
        assert fake.validation_errors == []


def frames(*texts: str) -> list[Any]:
    return [parse_twilio_frame(text) for text in texts]


async def test_keys_pressed_together_reach_the_model_as_one_message(
    call: TwilioCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(twilio_call, "DTMF_GAP_S", 0.05)
    stream = CallerStream(stream_sid=STREAM_SID, call_sid=CALL_SID)
    for event in frames(stream.dtmf("4"), stream.dtmf("2")):
        assert await call.on_frame(event) is None
    fake: FakeRealtimeServer = call.fake  # type: ignore[attr-defined]
    created = await fake.wait_for_client_event("conversation.item.create")
    assert created[0]["item"]["content"][0]["text"] == "[The caller pressed 4 2 on the keypad]"
    # A long run of keys is sent without waiting for a pause.
    monkeypatch.setattr(twilio_call, "DTMF_GAP_S", 60)
    for event in frames(*(stream.dtmf("7") for _ in range(32))):
        await call.on_frame(event)
    created = await fake.wait_for_client_event("conversation.item.create", count=2)
    assert (
        created[1]["item"]["content"][0]["text"] == f"[The caller pressed {' '.join('7' * 32)} on the keypad]"
    )


async def test_unusable_frames_end_the_call_only_after_many(call: TwilioCall) -> None:
    stream = CallerStream(stream_sid="MZother", call_sid=CALL_SID)
    bad = frames(
        "not json", stream.media(b"\xff" * 160)[0], stream.start()
    )  # another stream's media, a 2nd start
    reasons = [await call.on_frame(event) for event in (bad * MAX_STRIKES)[: MAX_STRIKES - 1]]
    assert reasons == [None] * (MAX_STRIKES - 1)
    assert await call.on_frame(bad[0]) == "protocol_violation"


async def test_caller_audio_is_muted_once_the_agent_ends_the_call(call: TwilioCall) -> None:
    stream = CallerStream(stream_sid=STREAM_SID, call_sid=CALL_SID)
    fake: FakeRealtimeServer = call.fake  # type: ignore[attr-defined]
    for event in frames(*stream.media(b"\x01" * 320)):
        await call.on_frame(event)
    await fake.wait_for_client_event("input_audio_buffer.append", count=2)
    await call.control.hang_up()
    for event in frames(*stream.media(b"\x02" * 320)):
        await call.on_frame(event)
    assert await call.on_frame(parse_twilio_frame(stream.stop())) == "caller_hung_up"
    appended = b"".join(
        base64.b64decode(e["audio"]) for e in fake.client_events if e["type"] == "input_audio_buffer.append"
    )
    assert appended == b"\x01" * 320
    assert take_outcome(CALL_SID) == CallOutcome(action="hang_up", channel="line")
    assert (call.control.reason, call.control.ending.is_set()) == ("agent_ended_call", True)


async def test_drain_waits_for_the_last_mark_and_gives_up_when_none_comes(call: TwilioCall) -> None:
    sent: list[str] = call.sent  # type: ignore[attr-defined]
    for frame in call.playback.audio("item_1", 0, b"\xff" * 400):  # one 40 ms chunk, 10 ms held back
        await call._send(frame)
    assert await call.drain(limit_s=0.05) is False  # flushed the rest, but Twilio never confirmed
    marks = [parse_twilio_frame(frame) for frame in sent if '"mark"' in frame]
    assert len(marks) == 2 and call.playback.pending_marks == 2
    waiter = asyncio.create_task(call.drain(limit_s=5))
    for mark in marks:
        await call.on_frame(mark)
    assert await waiter is True
    assert call.recorder.playback == [("item_1", 40.0), ("item_1", 50.0)]  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def clear_cache() -> None:
    cache.clear()


@pytest.mark.parametrize(("configured", "used"), [(30, 30), (100, 40), (5, 20)])
def test_chunk_size_stays_within_what_playback_takes(settings: Any, configured: int, used: int) -> None:
    settings.REALTIME_AGENTS = {"TWILIO_CHUNK_MS": configured}
    assert chunk_ms() == used
