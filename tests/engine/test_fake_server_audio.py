"""The fake Realtime server's input audio path: server VAD, transcription, barge-in, commit and clear."""
from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from realtime_agents.engine.testing import FakeRealtimeServer, ScriptedResponse, silence, tone
from realtime_agents.engine.testing.audio import PCMU
from tests.engine.test_fake_server import KEY, RawClient, raw_client, types


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(api_key=KEY, validate=True) as fake:
        yield fake


async def stream(client: RawClient, audio: bytes, *, frame_bytes: int = 960) -> None:
    """Append audio in 20 ms events, as a microphone would."""
    for offset in range(0, len(audio), frame_bytes):
        chunk = base64.b64encode(audio[offset : offset + frame_bytes]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})


VAD_SESSION = {
    "type": "realtime",
    "audio": {"input": {
        "transcription": {"model": "gpt-4o-transcribe"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 300, "prefix_padding_ms": 100},
    }},
}


async def test_server_vad_detects_a_tone_burst_transcribes_and_answers(server: FakeRealtimeServer) -> None:
    server.add_transcription("what's the weather in Paris")
    server.add_response(ScriptedResponse(transcript="Sunny."))
    async with raw_client(server) as client:
        await client.send({"type": "session.update", "session": VAD_SESSION})
        updated = (await client.until("session.updated"))[-1]["session"]
        assert updated["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 300
        assert updated["audio"]["input"]["turn_detection"]["create_response"] is True
        await stream(client, silence(300) + tone(600) + silence(600))
        events = await client.until("response.done")
    kinds = types(events)
    order = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
             "input_audio_buffer.committed", "conversation.item.added",
             "conversation.item.input_audio_transcription.completed", "conversation.item.done", "response.created"]
    assert [kinds.index(kind) for kind in order] == sorted(kinds.index(kind) for kind in order)
    started = events[kinds.index("input_audio_buffer.speech_started")]
    stopped = events[kinds.index("input_audio_buffer.speech_stopped")]
    committed = events[kinds.index("input_audio_buffer.committed")]
    # The tone starts at 300 ms (minus 100 ms padding) and 300 ms of silence after 900 ms ends it.
    assert started["audio_start_ms"] == 200
    assert stopped["audio_end_ms"] == 1200
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    added = events[kinds.index("conversation.item.added")]["item"]
    assert added["role"] == "user" and added["content"][0]["type"] == "input_audio"
    deltas = "".join(e["delta"] for e in events if e["type"].endswith("input_audio_transcription.delta"))
    assert deltas.strip() == "what's the weather in Paris"
    completed = events[kinds.index("conversation.item.input_audio_transcription.completed")]
    assert completed["transcript"] == "what's the weather in Paris"
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == "Sunny."
    connection = server.all_connections[0]
    assert [i["role"] for i in connection.conversation] == ["user", "assistant"]
    assert connection.conversation[0]["content"][0]["transcript"] == "what's the weather in Paris"
    assert server.validation_errors == []


async def test_vad_without_transcription_or_create_response_only_commits(server: FakeRealtimeServer) -> None:
    async with raw_client(server) as client:
        await client.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": {"type": "server_vad", "create_response": False, "silence_duration_ms": 200}}}}})
        await client.until("session.updated")
        await stream(client, tone(300) + silence(400))
        events = await client.until("conversation.item.done")
        await client.send({"type": "input_audio_buffer.clear"})
        cleared = await client.recv()
    assert cleared["type"] == "input_audio_buffer.cleared"
    assert not any("transcription" in kind or kind.startswith("response.") for kind in types(events))
    assert types(events)[0] == "input_audio_buffer.speech_started"


async def test_vad_with_mu_law_input(server: FakeRealtimeServer) -> None:
    async with raw_client(server) as client:
        await client.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "format": {"type": "audio/pcmu"},
            "turn_detection": {"type": "server_vad", "prefix_padding_ms": 0, "silence_duration_ms": 200}}}}})
        await client.until("session.updated")
        audio = silence(200, format_type=PCMU) + tone(400, format_type=PCMU) + silence(400, format_type=PCMU)
        await stream(client, audio, frame_bytes=160)
        events = await client.until("input_audio_buffer.speech_stopped")
    assert events[-2]["type"] == "input_audio_buffer.speech_started"
    assert events[-2]["audio_start_ms"] == 200
    assert events[-1]["audio_end_ms"] == 800


async def test_speech_over_a_response_cancels_it(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(transcript="a long story", audio_ms=5000, pace=1.0))
    async with raw_client(server) as client:
        await client.send({"type": "response.create"})
        await client.until("response.output_audio.delta")
        await stream(client, tone(200))
        events = await client.until("response.done", timeout=3)
    kinds = types(events)
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("response.done")
    response = events[-1]["response"]
    assert response["status"] == "cancelled"
    assert response["status_details"]["reason"] == "turn_detected"
    assert server.validation_errors == []


async def test_manual_commit_needs_100_ms_and_clear_empties(server: FakeRealtimeServer) -> None:
    async with raw_client(server) as client:
        await client.send({"type": "session.update", "session": {"type": "realtime",
                                                                 "audio": {"input": {"turn_detection": None}}}})
        await client.until("session.updated")
        await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_c0"})
        error = (await client.recv())["error"]
        assert error["code"] == "input_audio_buffer_commit_empty" and error["event_id"] == "evt_c0"
        await stream(client, tone(60))
        await client.send({"type": "input_audio_buffer.commit"})
        assert "buffer only has 60.00ms of audio" in (await client.recv())["error"]["message"]
        await stream(client, tone(60))
        await client.send({"type": "input_audio_buffer.commit"})
        events = await client.until("conversation.item.done")
        assert types(events) == ["input_audio_buffer.committed", "conversation.item.added",
                                 "conversation.item.done"]
        await stream(client, tone(200))
        await client.send({"type": "input_audio_buffer.clear"})
        assert (await client.recv())["type"] == "input_audio_buffer.cleared"
        await client.send({"type": "input_audio_buffer.commit"})
        assert (await client.recv())["error"]["code"] == "input_audio_buffer_commit_empty"
    # Tone bursts with VAD off never produce speech events, and no response starts by itself.
    sent = types(server.all_connections[0].server_events)
    assert "input_audio_buffer.speech_started" not in sent and "response.created" not in sent
    assert server.all_connections[0].input_audio_ms == 120


async def test_bad_base64_audio_is_an_error(server: FakeRealtimeServer) -> None:
    async with raw_client(server) as client:
        await client.send({"type": "input_audio_buffer.append", "audio": "not base64!!"})
        error = (await client.recv())["error"]
        await client.send({"type": "input_audio_buffer.append"})
        missing = (await client.recv())["error"]
    assert (error["code"], error["param"]) == ("invalid_value", "audio")
    assert (missing["code"], missing["param"]) == ("missing_required_parameter", "audio")


def test_tone_and_silence_reject_bad_arguments() -> None:
    assert len(tone(20)) == 960 and len(silence(20, format_type=PCMU)) == 160
    assert set(silence(20, format_type=PCMU)) == {0xFF}
    with pytest.raises(ValueError, match="unknown audio format"):
        tone(20, format_type="pcm16")
    with pytest.raises(ValueError, match="amplitude"):
        tone(20, amplitude=2)
