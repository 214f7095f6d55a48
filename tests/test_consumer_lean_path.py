"""The consumer's lean audio path: the thin ASGI loop, the bounded microphone uplink, joined transcript deltas."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from realtime_agents.asgi_consumer import WebsocketConsumer
from realtime_agents.browser_frames import TRANSCRIPT_INTERVAL_S, OutboundFrames
from realtime_agents.browser_input import MAX_BACKLOG_MS, BrowserInput
from realtime_agents.browser_protocol import AudioRateLimiter, ProtocolError
from realtime_agents.consumers import RealtimeConsumer
from realtime_agents.engine import (
    AgentEndEvent,
    AgentSpec,
    AudioEvent,
    PlaybackTracker,
    Runner,
    Session,
    TranscriptDeltaEvent,
    TranscriptDoneEvent,
)
from realtime_agents.engine.openai_realtime import OpenAIRealtimeModel
from realtime_agents.engine.testing import FakeRealtimeServer, tone
from tests.consumer_helpers import API_KEY, upstream_events, upstream_input_audio, wait_until

AGENT = AgentSpec(name="Desk", instructions="Answer briefly.")


class CongestedModel(OpenAIRealtimeModel):
    """The real OpenAI transport with a gate on audio: an upstream that stopped taking input until `opened`."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = 0

    async def append_input_audio(self, audio_b64: str) -> None:
        """Wait for the gate, then append as the real transport does."""
        self.waiting += 1
        await self.gate.wait()
        await super().append_input_audio(audio_b64)


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    """A validating fake Realtime server."""
    async with FakeRealtimeServer(api_key=API_KEY, validate=True) as fake:
        yield fake
        assert fake.validation_errors == []


async def _session(server: FakeRealtimeServer, model: OpenAIRealtimeModel) -> Session:
    session = await Runner(AGENT, model=model).run(model_config={"api_key": API_KEY, "url": server.url})
    await session.enter()
    return session


def _input(session: Session, sent: list[str]) -> BrowserInput:
    async def send_frame(frame: str) -> None:
        sent.append(frame)

    # A generous limiter: these tests are about the uplink, not the rate limit.
    return BrowserInput(session=session, recorder=SimpleNamespace(public_id="test"), tracker=PlaybackTracker(),
                        user_decides=True, decided_by="caller", send_frame=send_frame,
                        limiter=AudioRateLimiter(burst_ms=60_000.0))


async def test_a_stalled_upstream_drops_the_oldest_audio_beyond_the_backlog_and_says_so(
    server: FakeRealtimeServer,
) -> None:
    model = CongestedModel()
    session = await _session(server, model)
    frames: list[str] = []
    browser_input = _input(session, frames)
    uplink = asyncio.create_task(browser_input.run_uplink(), name="test-uplink")
    try:
        first = tone(100)
        assert browser_input.audio(first) is False
        await wait_until(lambda: model.waiting == 1)  # the uplink is stuck sending `first`
        chunks = [tone(100, frequency=300 + 10 * i) for i in range(MAX_BACKLOG_MS // 100 + 10)]
        reported = [browser_input.audio(chunk) for chunk in chunks]
        # One report per backlog, on the first drop; the newest 3 s are kept in order.
        assert reported.count(True) == 1 and reported.index(True) == MAX_BACKLOG_MS // 100
        assert browser_input.dropped_audio_ms == pytest.approx(1000.0)
        model.gate.set()
        kept = chunks[-(MAX_BACKLOG_MS // 100):]
        await wait_until(lambda: upstream_input_audio(server) == first + b"".join(kept))
        # The backlog went up as one append, not thirty.
        assert len(upstream_events(server, "input_audio_buffer.append")) == 2
        # A later backlog is reported again.
        model.gate.clear()
        assert browser_input.audio(first) is False
        await wait_until(lambda: model.waiting == 3)
        assert [browser_input.audio(chunk) for chunk in chunks].count(True) == 1
        assert browser_input.dropped_audio_ms == pytest.approx(2000.0)
        assert frames == []  # the consumer sends the drop report; nothing failed here
    finally:
        model.gate.set()
        uplink.cancel()
        await asyncio.gather(uplink, return_exceptions=True)
        await session.close()


async def test_a_command_goes_after_the_audio_before_it(server: FakeRealtimeServer) -> None:
    model = CongestedModel()
    model.gate.set()
    session = await _session(server, model)
    browser_input = _input(session, [])
    # No uplink task: the command itself must flush the audio first.
    browser_input.audio(tone(100))
    browser_input.audio(tone(40))
    assert await browser_input.text(json.dumps({"type": "commit"})) is False
    await server.wait_for_client_event("input_audio_buffer.commit")
    kinds = [event["type"] for event in server.client_events]
    assert kinds[-2:] == ["input_audio_buffer.append", "input_audio_buffer.commit"]
    assert upstream_input_audio(server) == tone(100) + tone(40)
    await session.close()


async def test_audio_the_upstream_cannot_take_is_reported_to_the_browser(server: FakeRealtimeServer) -> None:
    model = OpenAIRealtimeModel()
    session = await _session(server, model)
    frames: list[str] = []
    browser_input = _input(session, frames)
    await model.close()  # the transport is gone; the session does not know yet
    browser_input.audio(tone(20))
    await browser_input.flush_audio()
    assert [json.loads(frame)["code"] for frame in frames] == ["upstream_unavailable"]
    await session.close()


def test_transcript_deltas_are_joined_to_one_frame_per_interval() -> None:
    now = [100.0]
    outbound = OutboundFrames(show_tool_arguments=False, clock=lambda: now[0])

    def delta(text: str, item_id: str = "a1", role: str = "assistant") -> list[dict[str, str]]:
        return [json.loads(f) for f in outbound.frames(TranscriptDeltaEvent(role=role, item_id=item_id,
                                                                            delta=text))]

    def audio(item_id: str = "a1") -> list[dict[str, str]]:
        return [json.loads(f) for f in outbound.before_audio(AudioEvent(data=b"\0\0", item_id=item_id))]

    assert [f["type"] for f in audio()] == ["audio.item"]
    assert [f["text"] for f in delta("Hel")] == ["Hel"]  # the first delta of an item at once
    assert delta("lo") == [] and delta(" the") == []
    assert audio() == []
    now[0] += TRANSCRIPT_INTERVAL_S
    # Due: the held text rides with the next audio chunk (or the next delta).
    assert audio() == [{"type": "transcript.delta", "role": "assistant", "item_id": "a1", "text": "lo the"}]
    assert delta("re") == []
    # Any frame-producing event releases held text first, so `done` follows its deltas.
    done = [json.loads(f) for f in outbound.frames(TranscriptDoneEvent(role="assistant", item_id="a1",
                                                                       transcript="Hello there"))]
    assert [(f["type"], f["text"]) for f in done] == [
        ("transcript.delta", "re"), ("transcript.done", "Hello there")]
    # Another item (or role) releases the held text of the previous one and starts at once.
    assert delta("x") == [] and delta("y") == []
    other = delta("Hi", item_id="u1", role="user")
    assert [(f["item_id"], f["text"]) for f in other] == [("a1", "xy"), ("u1", "Hi")]
    assert delta("!", item_id="u1", role="user") == []
    # A new audio item releases held text before its header; so does the end of the session.
    assert [f["type"] for f in audio("a2")] == ["transcript.delta", "audio.item"]
    assert delta("more", item_id="u1", role="user") == []
    assert [json.loads(f)["text"] for f in outbound.flush()] == ["more"]
    assert outbound.flush() == []
    # Events the browser does not see release nothing.
    assert delta("z", item_id="u1", role="user") == []
    assert outbound.frames(AgentEndEvent(agent=AGENT, response_id="r", status="completed"))[0].startswith(
        '{"type":"transcript.delta"')


async def test_the_thin_consumer_refuses_other_protocols_and_keeps_channels_introspection() -> None:
    app = RealtimeConsumer.as_asgi(reconnect=False)
    assert app.consumer_class is RealtimeConsumer  # type: ignore[attr-defined]
    assert app.consumer_initkwargs == {"reconnect": False}  # type: ignore[attr-defined]

    async def receive() -> dict[str, str]:
        raise AssertionError("nothing is read from a refused scope")

    async def send(message: dict[str, str]) -> None:
        raise AssertionError("nothing is sent to a refused scope")

    with pytest.raises(ValueError, match="WebSocket"):
        await app({"type": "http"}, receive, send)
    assert issubclass(RealtimeConsumer, WebsocketConsumer)


async def test_audio_too_fast_is_one_refusal_per_run_of_dropped_frames(server: FakeRealtimeServer) -> None:
    model = OpenAIRealtimeModel()
    session = await _session(server, model)
    browser_input = _input(session, [])
    # 300 ms of burst allowance, refilled at real time; a stalled server drains 1 s of frames at once.
    browser_input.limiter = AudioRateLimiter(burst_ms=300.0, rate=1.0, now=time.monotonic())
    frame = tone(100)
    outcomes = []
    for _ in range(10):
        try:
            outcomes.append(browser_input.audio(frame))
        except ProtocolError as exc:
            outcomes.append(exc.code)
    assert outcomes == [False, False, False, "audio_too_fast"] + [False] * 6
    assert browser_input.dropped_audio_ms == pytest.approx(700.0)
    await browser_input.flush_audio()
    await wait_until(lambda: upstream_input_audio(server) == frame * 3)
    # Once a frame is taken again, the next run of dropped frames is refused again.
    await asyncio.sleep(0.15)
    assert browser_input.audio(frame) is False
    with pytest.raises(ProtocolError, match="faster than real time"):
        for _ in range(5):  # at most 300 ms of allowance can have come back
            browser_input.audio(frame)
    await session.close()

