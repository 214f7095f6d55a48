"""Interruption in a live session: barge-in, `interrupt()`, truncation at what was really heard."""
from __future__ import annotations

import asyncio
import contextlib

from realtime_agents.engine import AgentSpec, PlaybackTracker, Runner
from realtime_agents.engine.testing import ScriptedResponse, silence, tone

from .helpers import EventReader, open_session, server_events

VAD = {"model_settings": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 200,
                                                  "interrupt_response": True, "create_response": False}}}
VAD_NO_AUTO_CANCEL = {"model_settings": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 200,
                                                                 "interrupt_response": False,
                                                                 "create_response": False}}}
NO_VAD = {"model_settings": {"turn_detection": None}}


def sent(server, kind: str) -> list[dict]:
    return [e for e in server.client_events if e["type"] == kind]


@contextlib.asynccontextmanager
async def speak_while_answering(server, config, tracker=None, play_ms=None):
    """Start a slow answer, barge in with real speech; yields (reader, session) inside the session."""
    server.add_response(ScriptedResponse(transcript="A long answer that keeps going for a good while. " * 3,
                                         pace=1.0, chunk_ms=40))
    extra = {"playback_tracker": tracker} if tracker else {}
    session = await open_session(Runner(AgentSpec(name="A"), config=config), server, **extra)
    async with session:
        reader = EventReader(session)
        await session.send_message("Tell me a story.")
        first_audio = await reader.until("audio")
        await reader.until(lambda e: e.type == "audio" and len(reader.of_type("audio")) >= 8)
        if tracker is not None and play_ms is not None:
            tracker.on_play_ms(first_audio.item_id, 0, play_ms)
        await session.send_audio(tone(400))
        await reader.until("audio_interrupted", timeout=5)
        yield reader, session


async def test_barge_in_truncates_at_the_tracked_position_and_lets_the_server_cancel(server) -> None:
    tracker = PlaybackTracker()
    async with speak_while_answering(server, VAD, tracker, play_ms=123) as (reader, session):
        interrupted = reader.of_type("audio_interrupted")[0]
        assert interrupted.reason == "speech" and interrupted.audio_end_ms == 123
        truncates = await server.wait_for_client_event("conversation.item.truncate", timeout=5)
        assert truncates[0]["audio_end_ms"] == 123 and truncates[0]["item_id"] == interrupted.item_id
        await reader.until("agent_end", timeout=5)
        await reader.drain(0.3)
    assert sent(server, "response.cancel") == [], "interrupt_response: the server cancels by itself"
    item = next(i for i in session.history if i.item_id == interrupted.item_id)
    assert item.status == "truncated"
    assert len(item.text) < len("A long answer that keeps going for a good while. " * 3)


async def test_barge_in_without_server_cancel_sends_response_cancel(server) -> None:
    async with speak_while_answering(server, VAD_NO_AUTO_CANCEL) as (reader, session):
        cancels = await server.wait_for_client_event("response.cancel", timeout=5)
        await reader.until("agent_end", timeout=5)
    assert len(cancels) == 1


async def test_wall_clock_truncation_is_clamped_to_the_audio_received(server) -> None:
    tracker = PlaybackTracker()
    async with speak_while_answering(server, VAD, tracker, play_ms=60_000) as (reader, session):
        truncate = (await server.wait_for_client_event("conversation.item.truncate", timeout=5))[0]
    received_bytes = sum(len(e.data) for e in reader.of_type("audio") if e.item_id == truncate["item_id"])
    assert truncate["audio_end_ms"] <= received_bytes // 48
    assert not any(e["type"] == "error" for e in server_events(server)), "the server accepted the truncation"


async def test_no_audio_is_delivered_for_an_interrupted_response(server) -> None:
    async with speak_while_answering(server, VAD) as (reader, session):
        interrupted = reader.of_type("audio_interrupted")[0]
        after = await reader.drain(0.5)
    assert not [e for e in after if e.type == "audio" and e.item_id == interrupted.item_id]


async def test_interrupt_method_cancels_and_truncates(server) -> None:
    server.add_response(ScriptedResponse(transcript="Counting slowly, one, two, three, four, five.", pace=1.0))
    session = await open_session(Runner(AgentSpec(name="A"), config=NO_VAD), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("count")
        await reader.until(lambda e: e.type == "audio" and len(reader.of_type("audio")) >= 4)
        await session.interrupt()
        interrupted = await reader.until("audio_interrupted")
        assert interrupted.reason == "interrupt"
        await server.wait_for_client_event("response.cancel", timeout=5)
        await server.wait_for_client_event("conversation.item.truncate", timeout=5)
        end = await reader.until("agent_end")
        assert end.status == "cancelled"


async def test_no_truncate_when_playback_had_finished(server) -> None:
    tracker = PlaybackTracker()
    server.add_response(ScriptedResponse(transcript="Short.", audio_ms=200))
    session = await open_session(Runner(AgentSpec(name="A"), config=VAD), server, playback_tracker=tracker)
    async with session:
        reader = EventReader(session)
        await session.send_message("hi")
        audio = await reader.until("audio")
        await reader.until("agent_end")
        tracker.on_play_ms(audio.item_id, 0, 200)
        await session.send_audio(silence(100) + tone(400) + silence(400))
        await server.wait_for_client_event("input_audio_buffer.append", timeout=5)
        await reader.until("speech_started", timeout=5)
        await reader.drain(0.3)
    assert sent(server, "conversation.item.truncate") == []
    assert reader.of_type("audio_interrupted") == [], "nothing was playing, so nothing was interrupted"


async def test_interrupt_with_nothing_playing_is_harmless(server) -> None:
    session = await open_session(Runner(AgentSpec(name="A"), config=NO_VAD), server)
    async with session:
        reader = EventReader(session)
        await session.interrupt()
        await asyncio.sleep(0.2)
        await reader.drain(0.2)
    assert reader.of_type("error") == []
    assert sent(server, "response.cancel") == [] and sent(server, "conversation.item.truncate") == []


async def test_push_to_talk_commit_asks_for_a_response(server) -> None:
    server.add_response(ScriptedResponse(transcript="You said something."))
    server.add_transcription("hello there")
    config = {"model_settings": {"turn_detection": None, "input_audio_transcription": {"model": "whisper-1"}}}
    session = await open_session(Runner(AgentSpec(name="A"), config=config), server)
    async with session:
        reader = EventReader(session)
        await session.send_audio(tone(300))
        await session.commit_audio()
        done = await reader.until(lambda e: e.type == "transcript_done" and e.role == "user")
        assert done.transcript == "hello there"
        await reader.until("agent_end")
    user = next(i for i in session.history if i.role == "user")
    assert user.text == "hello there"


async def test_without_a_tracker_truncation_uses_the_wall_clock(server) -> None:
    async with speak_while_answering(server, VAD) as (reader, session):
        truncate = (await server.wait_for_client_event("conversation.item.truncate", timeout=5))[0]
        first_audio = reader.of_type("audio")[0]
    received_ms = sum(len(e.data) for e in reader.of_type("audio") if e.item_id == truncate["item_id"]) // 48
    # Playback is assumed to start with the first delta in real time: some audio was heard,
    # and never more than was received.
    assert 0 < truncate["audio_end_ms"] <= received_ms
    assert truncate["item_id"] == first_audio.item_id
