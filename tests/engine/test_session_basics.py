"""Session basics over a real socket: a text turn, events, history, sequencing, errors, lifecycle."""
from __future__ import annotations

import asyncio

import pytest

from realtime_agents.engine import (
    AgentSpec,
    AudioEvent,
    MessageItem,
    Runner,
    SessionError,
    TransportError,
)
from realtime_agents.engine.testing import ScriptedResponse

from .helpers import EventReader, open_session, server_events


def client_types(server) -> list[str]:
    return [event["type"] for event in server.client_events]


async def test_text_turn_streams_audio_transcript_and_ends_the_turn(server) -> None:
    server.add_response(ScriptedResponse(transcript="Hello there, nice to meet you.", audio_ms=300))
    session = await open_session(Runner(AgentSpec(name="Assistant", instructions="Be brief.")), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("Say hello.")
        end = await reader.until("agent_end")
        assert end.agent.name == "Assistant"
        audio = [e for e in reader.seen if isinstance(e, AudioEvent)]
        assert sum(len(e.data) for e in audio) == 300 * 48
        assert all(e.audio.data == e.data for e in audio), "seed spelling event.audio.data"
        deltas = "".join(e.delta for e in reader.of_type("transcript_delta") if e.role == "assistant")
        assert deltas == "Hello there, nice to meet you."
        assert reader.of_type("agent_start")[0].agent.name == "Assistant"
        assert reader.of_type("usage")[0].usage["total_tokens"] > 0
        assert session.usage.requests == 1
    user, assistant = session.history
    assert isinstance(user, MessageItem) and user.role == "user" and user.text == "Say hello."
    assert assistant.role == "assistant" and assistant.text == "Hello there, nice to meet you."
    assert assistant.audio_ms == pytest.approx(300)
    update = server.client_events[0]
    assert update["type"] == "session.update"
    assert update["session"]["instructions"] == "Be brief."


async def test_first_event_is_an_empty_history(server) -> None:
    session = await open_session(Runner(AgentSpec(name="A")), server)
    async with session:
        first = await EventReader(session).next()
    assert first.type == "history_updated" and first.history == ()


async def test_messages_during_a_response_are_queued_not_refused(server) -> None:
    server.add_response(ScriptedResponse(transcript="A long answer that takes a while.", audio_ms=600, pace=1.0))
    server.add_response(ScriptedResponse(transcript="Second answer."))
    session = await open_session(Runner(AgentSpec(name="A")), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("First question.")
        await reader.until("agent_start")
        # Two messages while the first response is still streaming: one coalesced follow-up.
        await session.send_message("Also this.")
        await session.send_message("And this.")
        await reader.until(lambda e: e.type == "agent_end" and e.response_id != reader.of_type("agent_start")[0].response_id,
                           timeout=10)
        await reader.drain(0.3)
    assert reader.of_type("error") == []
    assert client_types(server).count("response.create") == 2
    assert not any(e["type"] == "error" for e in server_events(server))


async def test_server_error_becomes_an_event_and_the_session_goes_on(server) -> None:
    server.add_response(ScriptedResponse(transcript="Still here."))
    session = await open_session(Runner(AgentSpec(name="A")), server)
    async with session:
        reader = EventReader(session)
        await reader.next()
        await server.inject_error(code="server_error", message="boom")
        error = await reader.until("error")
        assert error.code == "server_error" and error.message == "boom"
        await session.send_message("Are you there?")
        await reader.until("agent_end")


async def test_structured_message_with_an_image_reaches_the_server(server) -> None:
    server.add_response(ScriptedResponse(text="A red square."))
    session = await open_session(Runner(AgentSpec(name="A")), server)
    image = "data:image/png;base64,iVBORw0KGgo="
    async with session:
        await session.send_message({"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Describe this."},
            {"type": "input_image", "image_url": image, "detail": "low"},
        ]})
        created = await server.wait_for_client_event("conversation.item.create", timeout=5)
    content = created[0]["item"]["content"]
    assert content[1] == {"type": "input_image", "image_url": image, "detail": "low"}


@pytest.mark.parametrize("message", [
    {"type": "message", "role": "assistant", "content": [{"type": "input_text", "text": "x"}]},
    {"type": "message", "role": "user", "content": []},
    {"type": "message", "role": "user", "content": [{"type": "input_video", "url": "x"}]},
])
async def test_malformed_structured_messages_are_refused_clearly(server, message) -> None:
    session = await open_session(Runner(AgentSpec(name="A")), server)
    async with session:
        with pytest.raises(SessionError):
            await session.send_message(message)


async def test_close_is_idempotent_and_wakes_every_waiting_iterator(server) -> None:
    session = await open_session(Runner(AgentSpec(name="A")), server)
    await session.enter()

    async def consume() -> int:
        count = 0
        async for _ in session:
            count += 1
        return count

    consumers = [asyncio.create_task(consume(), name=f"consumer-{i}") for i in range(3)]
    await asyncio.sleep(0.1)
    await session.close()
    await session.close()
    async with asyncio.timeout(3):
        counts = await asyncio.gather(*consumers)
    assert sum(counts) == 1  # the initial history_updated went to exactly one consumer
    with pytest.raises(SessionError):
        await session.send_message("after close")


async def test_normal_server_close_ends_iteration_cleanly(server) -> None:
    session = await open_session(Runner(AgentSpec(name="A")), server)
    async with session:
        connection = await server.wait_for_connection()
        await connection.websocket.close(1000)
        seen = []
        async with asyncio.timeout(5):
            async for event in session:
                seen.append(event.type)
    assert "reconnect" not in seen


async def test_a_session_can_be_entered_only_once(server) -> None:
    session = await open_session(Runner(AgentSpec(name="A")), server)
    async with session:
        with pytest.raises(SessionError):
            await session.enter()


async def test_connect_failure_raises_and_leaves_nothing_running(server) -> None:
    runner = Runner(AgentSpec(name="A"))
    session = await runner.run(model_config={"api_key": "wrong-key", "url": server.url})
    with pytest.raises(TransportError, match="HTTP 401"):
        await session.enter()
    assert not session.model.connected


async def test_raw_events_are_opt_in(server) -> None:
    server.add_response(ScriptedResponse(transcript="Hi."))
    session = await open_session(Runner(AgentSpec(name="A"), config={"include_raw_events": True}), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("Hi")
        await reader.until("agent_end")
    raw_types = {e.data.get("type") for e in reader.of_type("raw_model_event") if isinstance(e.data, dict)}
    assert {"session.created", "response.created", "response.done"} <= raw_types


async def test_raw_events_are_off_by_default(server) -> None:
    server.add_response(ScriptedResponse(transcript="Hi."))
    session = await open_session(Runner(AgentSpec(name="A")), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("Hi")
        await reader.until("agent_end")
    assert reader.of_type("raw_model_event") == []
