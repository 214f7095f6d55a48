"""Real espeak-ng speech through the whole offline transport: VAD, Whisper, router, tools, TTS, barge-in."""
from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from realtime_agents.engine import Runner
from realtime_agents.engine.audio import ulaw_decode, ulaw_encode
from realtime_agents.engine.offline import OfflineModel
from realtime_agents.engine.offline.tts import resample
from realtime_agents.engine.testing.validation import EventValidator

from ..helpers import EventReader
from .agents import MENU, build_agents
from .speech import chunks, requires_offline, silence, speak

pytestmark = [requires_offline, pytest.mark.timeout(90)]


def dicts(raw: list[Any], kind: str | None = None) -> list[dict[str, Any]]:
    """The raw GA server events (optionally of one type)."""
    return [e for e in raw if isinstance(e, dict) and (kind is None or e.get("type") == kind)]


async def say(session: Any, pcm16: bytes, **kwargs: Any) -> None:
    """Stream audio in 100 ms appends (faster than real time, as a buffered client may)."""
    for chunk in chunks(pcm16, **kwargs):
        await session.send_audio(chunk)


async def offline_session(engines: Any, recorder: Any, agent: Any, *, model_settings: dict[str, Any] | None = None,
                          **model_options: Any) -> Any:
    """A session of `agent` over the offline model, its raw server events going to `recorder` (not entered)."""
    model = OfflineModel(engines=engines, **model_options)
    model.add_listener(recorder)
    config = {"model_settings": model_settings} if model_settings is not None else None
    return await Runner(agent, model=model, config=config).run()


def assistant_done(event: Any) -> bool:
    return event.type == "transcript_done" and event.role == "assistant"


async def test_spoken_weather_question_runs_the_tool_and_answers_aloud(engines, recorder, raw_events) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    session = await offline_session(engines, recorder, triage)
    async with session:
        reader = EventReader(session)
        await say(session, speak("What is the weather in Paris?") + silence(0.8))
        heard = await reader.until(lambda e: e.type == "transcript_done" and e.role == "user", timeout=30)
        tool_start = await reader.until("tool_start", timeout=30)
        answer = await reader.until(assistant_done, timeout=30)
        await reader.drain(0.3)
    assert "weather" in heard.transcript.lower() and "paris" in heard.transcript.lower()
    assert tool_start.tool.name == "get_weather"
    assert calls == [("get_weather", {"city": "Paris"})]
    assert answer.transcript == "It is sunny and 21 degrees in Paris."
    audio = b"".join(e.data for e in reader.of_type("audio"))
    assert len(audio) > 48 * 1000, "at least a second of 24 kHz PCM16 speech"
    assert reader.of_type("error") == []
    kinds = [e["type"] for e in dicts(raw_events)]
    for expected in ("session.created", "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                     "input_audio_buffer.committed", "conversation.item.input_audio_transcription.completed",
                     "response.function_call_arguments.done", "response.output_audio.delta",
                     "response.output_audio_transcript.done"):
        assert expected in kinds, expected
    assert kinds.index("input_audio_buffer.speech_stopped") < kinds.index("response.created")
    done = dicts(raw_events, "response.done")
    assert [d["response"]["status"] for d in done] == ["completed", "completed"]
    assert all(d["response"]["usage"]["total_tokens"] > 0 for d in done)
    started = dicts(raw_events, "input_audio_buffer.speech_started")[0]
    assert 100 <= started["audio_start_ms"] <= 600, "onset near the 0.5 s of padding (minus prefix padding)"
    validator = EventValidator()
    problems = [(e["type"], validator.check_server_event(e)) for e in dicts(raw_events)]
    assert [p for p in problems if p[1]] == []


async def test_spoken_booking_hands_off_and_the_new_agent_books(engines, recorder, raw_events) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    triage, booking = build_agents(calls)
    session = await offline_session(engines, recorder, triage)
    async with session:
        reader = EventReader(session)
        await say(session, speak("I would like to book a table for two at seven.") + silence(0.8))
        handoff = await reader.until("handoff", timeout=30)
        answer = await reader.until(assistant_done, timeout=30)
        assert session.current_agent is booking
    assert handoff.from_agent is triage and handoff.to_agent is booking
    assert calls == [("book_table", {"party_size": 2, "time": "7:00"})]
    assert answer.transcript == "Your table for 2 at 7:00 is booked."
    assert reader.of_type("error") == []
    updates = dicts(raw_events, "session.updated")
    assert [t["name"] for t in updates[-1]["session"]["tools"]] == ["book_table"]


async def test_barge_in_cancels_the_spoken_answer_and_truncates_it(engines, recorder, raw_events) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    session = await offline_session(engines, recorder, triage, max_audio_lead_s=0.5)
    async with session:
        reader = EventReader(session)
        await say(session, speak("Read me the menu.") + silence(0.8))
        await reader.until("tool_end", timeout=30)
        await reader.until("audio", timeout=30)
        await asyncio.sleep(1.0)
        await say(session, speak("What is the weather in London?", voice="en-us+f3") + silence(0.8))
        interrupted = await reader.until("audio_interrupted", timeout=30)
        answer = await reader.until(assistant_done, timeout=30)
        await reader.drain(0.3)
    assert interrupted.reason == "speech"
    assert calls == [("read_menu", {}), ("get_weather", {"city": "London"})]
    assert answer.transcript == "It is sunny and 21 degrees in London."
    cancelled = [d for d in dicts(raw_events, "response.done") if d["response"]["status"] == "cancelled"]
    assert len(cancelled) == 1
    assert cancelled[0]["response"]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    menu_item = cancelled[0]["response"]["output"][0]
    assert menu_item["status"] == "incomplete"
    spoken = menu_item["content"][0]["transcript"]
    assert spoken and len(spoken) < len(MENU), "synthesis stopped before the end of the menu"
    truncated = dicts(raw_events, "conversation.item.truncated")
    assert len(truncated) == 1 and truncated[0]["item_id"] == menu_item["id"]
    assert 0 < truncated[0]["audio_end_ms"]
    assert [e for e in dicts(raw_events, "error")] == []


async def test_a_finished_answer_may_be_cut_at_its_last_whole_millisecond_and_not_beyond(
        engines, recorder, raw_events) -> None:
    # Players report whole milliseconds; the answer's length rarely is one (piper's sentences are any
    # number of samples long), so the model must count its audio exactly, not rounded per chunk.
    triage, _ = build_agents([])
    model = OfflineModel(engines=engines)
    model.add_listener(recorder)
    session = await Runner(triage, model=model).run()
    async with session:
        reader = EventReader(session)
        await session.send_message("What is the weather in Paris?")
        await reader.until(assistant_done, timeout=30)
        async with asyncio.timeout(30):
            while not [d for d in dicts(raw_events, "response.done") if d["response"]["output"]]:
                await asyncio.sleep(0.02)
        item_id = dicts(raw_events, "response.done")[-1]["response"]["output"][0]["id"]
        sent = [base64.b64decode(d["delta"]) for d in dicts(raw_events, "response.output_audio.delta")
                if d["item_id"] == item_id]
        total_ms = sum(len(chunk) for chunk in sent) / 48  # 24 kHz PCM16: 48 bytes a millisecond
        # (Piper's length varies run to run; about one answer in 24 is whole milliseconds long.)
        assert len(sent) > 1
        assert model.conversation.audio_ms[item_id] == pytest.approx(total_ms, abs=1e-6)
        for end_ms in (int(total_ms) + 1, int(total_ms)):
            await session.send_raw_event({"type": "conversation.item.truncate", "item_id": item_id,
                                          "content_index": 0, "audio_end_ms": end_ms})
        async with asyncio.timeout(10):
            while not dicts(raw_events, "conversation.item.truncated"):
                await asyncio.sleep(0.02)
    errors = [e["error"] for e in dicts(raw_events, "error")]
    assert [e["param"] for e in errors] == ["audio_end_ms"], (total_ms, errors)
    assert f"shorter than {int(total_ms) + 1}ms" in errors[0]["message"], (total_ms, errors)
    truncated = dicts(raw_events, "conversation.item.truncated")
    assert [d["audio_end_ms"] for d in truncated] == [int(total_ms)], (total_ms, truncated)


async def test_typed_text_gets_a_tool_call_and_a_spoken_answer(engines) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    session = await Runner(triage, model=OfflineModel(engines=engines)).run()
    async with session:
        reader = EventReader(session)
        await session.send_message("what's the weather like in Berlin")
        answer = await reader.until(assistant_done, timeout=30)
        await session.send_message("hello there")
        help_text = await reader.until(assistant_done, timeout=30)
    assert calls == [("get_weather", {"city": "Berlin"})]
    assert answer.transcript == "It is sunny and 21 degrees in Berlin."
    assert reader.of_type("audio")
    assert help_text.transcript.startswith("I can help you get the current weather for a city")
    assert "read today's restaurant menu aloud" in help_text.transcript and "talk to booking" in help_text.transcript


async def test_without_speech_synthesis_answers_come_as_text(engines) -> None:
    from realtime_agents.engine.offline import OfflineEngines

    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    mute = OfflineEngines(vad=engines.vad, recognizer=engines.recognizer, synthesizer=None)
    session = await Runner(triage, model=OfflineModel(engines=mute)).run()
    async with session:
        reader = EventReader(session)
        await session.send_message("What is the weather in Tokyo?")
        answer = await reader.until(assistant_done, timeout=30)
    assert answer.transcript == "It is sunny and 21 degrees in Tokyo."
    assert reader.of_type("audio") == []


async def test_g711_in_and_out(engines, recorder, raw_events) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    session = await offline_session(engines, recorder, triage, model_settings={
        "input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw"})
    # Narrowband espeak speech is marginal for Whisper base; this phrase was recognised at every segment offset tried.
    pcm24 = speak("How is the weather in Berlin?") + silence(0.8)
    ulaw = ulaw_encode(resample(pcm24, 24000, 8000))
    async with session:
        reader = EventReader(session)
        for offset in range(0, len(ulaw), 800):
            await session.send_audio(ulaw[offset:offset + 800])
        answer = await reader.until(assistant_done, timeout=30)
    assert calls == [("get_weather", {"city": "Berlin"})]
    assert answer.transcript == "It is sunny and 21 degrees in Berlin."
    deltas = [base64.b64decode(e["delta"]) for e in dicts(raw_events, "response.output_audio.delta")]
    assert deltas and all(len(d) <= 200 * 8 for d in deltas), "8 kHz, one byte a sample, 200 ms chunks"
    decoded = ulaw_decode(b"".join(deltas))
    assert len(decoded) == 2 * sum(len(d) for d in deltas)
