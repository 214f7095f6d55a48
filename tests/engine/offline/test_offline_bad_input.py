"""Bad audio and bad client events: handled quietly or answered with a clear error, never a crash."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from realtime_agents.engine import Runner
from realtime_agents.engine.offline import OfflineModel

from ..helpers import EventReader
from .agents import build_agents
from .recognizers import RecognizerWrapper
from .speech import clipped, requires_offline, silence, speak, white_noise
from .test_offline_voice import dicts, offline_session, say

pytestmark = [requires_offline, pytest.mark.timeout(90)]


async def test_silence_and_noise_cause_no_turn_and_no_error(engines, recorder, raw_events) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    session = await offline_session(engines, recorder, triage)
    async with session:
        reader = EventReader(session)
        await say(session, silence(2.0))
        await say(session, white_noise(2.0))
        await say(session, bytes(24000 * 2))  # digital zeros
        # Everything sent was processed once a marker utterance after it has been heard.
        await say(session, speak("What is the weather in Paris?") + silence(0.8))
        heard = await reader.until(lambda e: e.type == "transcript_done" and e.role == "user", timeout=40)
        await reader.until(lambda e: e.type == "transcript_done" and e.role == "assistant", timeout=30)
    assert "paris" in heard.transcript.lower()
    assert calls == [("get_weather", {"city": "Paris"})]
    assert len(dicts(raw_events, "input_audio_buffer.speech_started")) == 1, "only the spoken question is speech"
    assert reader.of_type("error") == [] and dicts(raw_events, "error") == []


async def test_clipped_speech_and_odd_length_appends_are_understood(engines, recorder, raw_events) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    session = await offline_session(engines, recorder, triage)
    audio = clipped(speak("What is the weather in Tokyo?")) + silence(0.8)
    async with session:
        reader = EventReader(session)
        for offset in range(0, len(audio), 4801):  # odd byte counts: samples split across appends
            await session.send_audio(audio[offset:offset + 4801])
        await reader.until(lambda e: e.type == "transcript_done" and e.role == "assistant", timeout=40)
    assert calls == [("get_weather", {"city": "Tokyo"})]
    assert dicts(raw_events, "error") == []


async def test_bad_client_events_get_clear_errors(engines, recorder, raw_events) -> None:
    triage, _ = build_agents([])
    session = await offline_session(engines, recorder, triage)
    async with session:
        await session.send_raw_event({"type": "input_audio_buffer.append", "audio": "not base64!"})
        await session.send_raw_event({"type": "no.such.event"})
        await session.send_raw_event({"type": "session.update", "session": {"type": "realtime", "bogus": 1}})
        await session.send_raw_event({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {"format": {"type": "audio/mp3"}}}}})
        await session.send_raw_event({"type": "conversation.item.truncate", "item_id": "item_missing",
                                      "content_index": 0, "audio_end_ms": 10})
        await session.send_raw_event({"type": "conversation.item.create", "item": {"type": "banana"}})
        await session.send_raw_event({"type": "response.cancel"})
        async with asyncio.timeout(10):
            while len(dicts(raw_events, "error")) < 7:
                await asyncio.sleep(0.02)
        errors = [e["error"] for e in dicts(raw_events, "error")]
        # The transport survives all of that and still answers.
        reader = EventReader(session)
        await session.send_message("weather in Paris please")
        await reader.until(lambda e: e.type == "transcript_done" and e.role == "assistant", timeout=30)
    codes = [e["code"] for e in errors]
    assert codes == ["invalid_value", "invalid_value", "unknown_parameter", "invalid_value", "invalid_value",
                     "invalid_value", "response_cancel_not_active"]
    assert "base64" in errors[0]["message"]
    assert "no.such.event" in errors[1]["message"]
    assert errors[2]["param"] == "session.bogus"
    assert errors[3]["param"] == "session.audio.input.format"
    assert "item_missing" in errors[4]["message"]
    assert "banana" in errors[5]["message"]


async def test_manual_commit_of_an_empty_buffer_is_refused(engines, recorder, raw_events) -> None:
    triage, _ = build_agents([])
    session = await offline_session(engines, recorder, triage, model_settings={"turn_detection": None})
    async with session:
        await session.send_audio(silence(0.05))
        await session.send_raw_event({"type": "input_audio_buffer.commit"})
        async with asyncio.timeout(10):
            while not dicts(raw_events, "error"):
                await asyncio.sleep(0.02)
    error = dicts(raw_events, "error")[0]["error"]
    assert error["code"] == "input_audio_buffer_commit_empty" and "100ms" in error["message"]


async def test_push_to_talk_commit_transcribes_and_answers(engines, recorder, raw_events) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    session = await offline_session(engines, recorder, triage, model_settings={"turn_detection": None})
    async with session:
        reader = EventReader(session)
        # session.created announces server VAD; only after session.updated does the session know it is off.
        async with asyncio.timeout(10):
            while not dicts(raw_events, "session.updated"):
                await asyncio.sleep(0.01)
        await say(session, speak("What is the weather in Berlin?", tail_s=0.3))
        await session.commit_audio()
        answer = await reader.until(lambda e: e.type == "transcript_done" and e.role == "assistant", timeout=30)
    assert dicts(raw_events, "input_audio_buffer.speech_started") == []
    assert calls == [("get_weather", {"city": "Berlin"})]
    assert answer.transcript == "It is sunny and 21 degrees in Berlin."


async def test_close_stops_every_task_and_a_reconnect_starts_clean(engines, recorder, raw_events) -> None:
    from realtime_agents.engine import TransportError
    from realtime_agents.engine.config import normalize_model_config

    model = OfflineModel(engines=engines)
    model.add_listener(recorder)
    config = normalize_model_config(None)
    await model.connect(config)
    await model.send_event({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}})
    async with asyncio.timeout(10):
        while not dicts(raw_events, "conversation.item.done"):
            await asyncio.sleep(0.01)
    tasks = set(model._tasks)
    assert {t.get_name() for t in tasks} == {"realtime-offline-client", "realtime-offline-input",
                                             "realtime-offline-turns"}
    await model.close()
    assert all(t.done() for t in tasks) and not model.connected
    with pytest.raises(TransportError, match="not connected"):
        await model.send_event({"type": "response.create"})
    await model.connect(config)
    assert model.conversation.items == [] and model.connected
    await model.close()
    await model.close()  # idempotent


class FailingOnce(RecognizerWrapper):
    """The real recognizer, except that its first call fails (a decoder crash, a bad model file)."""

    def __init__(self, real: Any) -> None:
        super().__init__(real)
        self.hints: list[dict[str, Any]] = []

    def transcribe(self, pcm16_16k: bytes, **hints: Any) -> Any:
        self.hints.append(hints)
        if len(self.hints) == 1:
            raise RuntimeError("decoder crashed")
        return self.real.transcribe(pcm16_16k, **hints)


async def test_a_failed_recognition_loses_only_that_turn(engines, recorder, raw_events) -> None:
    from realtime_agents.engine.offline import OfflineEngines

    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    recognizer = FailingOnce(engines.recognizer)
    flaky = OfflineEngines(vad=engines.vad, recognizer=recognizer, synthesizer=engines.synthesizer)
    model = OfflineModel(engines=flaky)
    model.add_listener(recorder)
    session = await Runner(triage, model=model).run()
    async with session:
        reader = EventReader(session)
        await say(session, speak("What is the weather in Paris?") + silence(0.8))
        await say(session, speak("What is the weather in London?") + silence(0.8))
        answer = await reader.until(lambda e: e.type == "transcript_done" and e.role == "assistant", timeout=40)
    assert calls == [("get_weather", {"city": "London"})]
    assert answer.transcript == "It is sunny and 21 degrees in London."
    transcripts = dicts(raw_events, "conversation.item.input_audio_transcription.completed")
    assert [d["transcript"] for d in transcripts][0] == ""
    assert reader.of_type("error") == [] and dicts(raw_events, "error") == []
    # The agent's tool names and handoffs steer recognition; no transcription language was configured.
    assert recognizer.hints[0] == {"language": None,
                                   "prompt": "Weather, read menu. Booking: books restaurant tables and reservations."}


def test_an_unknown_transcription_language_falls_back_to_the_default(engines) -> None:
    from realtime_agents.engine.offline.tts import resample

    speech = resample(speak("What is the weather in Paris?", tail_s=0.5), 24000, 16000)
    assert "paris" in engines.recognizer.transcribe(speech, language="zz").text.lower()
