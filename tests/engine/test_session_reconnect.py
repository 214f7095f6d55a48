"""Reconnect: an upstream socket killed mid-response is replaced and the conversation restored."""
from __future__ import annotations

import asyncio

import pytest

from realtime_agents.engine import AgentSpec, Runner, TransportError, function_tool
from realtime_agents.engine.testing import FunctionCall, ScriptedResponse

from .helpers import EventReader, open_session

FAST_RECONNECT = {"reconnect": {"max_attempts": 3, "initial_delay": 0.05, "max_delay": 0.2}}


async def test_a_dropped_socket_is_reconnected_and_the_conversation_reseeded(server) -> None:
    @function_tool
    def get_time() -> str:
        """Time."""
        return "noon"

    server.add_response(ScriptedResponse(function_calls=[FunctionCall(name="get_time", call_id="t1")]))
    server.add_response(ScriptedResponse(transcript="It is noon."))
    server.add_response(ScriptedResponse(transcript="A long reply that will be cut off by the network. " * 4,
                                         pace=1.0))
    server.add_response(ScriptedResponse(transcript="As I was saying, here is the answer."))
    session = await open_session(Runner(AgentSpec(name="A", instructions="Be kind.", tools=[get_time]),
                                        config=FAST_RECONNECT), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("What time is it?")
        await reader.until(lambda e: e.type == "agent_end" and len(reader.of_type("agent_end")) == 2)
        await session.send_message("Tell me more.")
        await reader.until(lambda e: e.type == "audio" and len(reader.of_type("audio")) >= 3)
        await server.drop_connection()
        reconnecting = await reader.until("reconnect")
        assert reconnecting.status == "reconnecting" and reconnecting.attempt == 1
        reconnected = await reader.until("reconnect")
        assert reconnected.status == "reconnected"
        second = await server.wait_for_connection(count=2)
        await reader.until(lambda e: e.type == "agent_end" and e.response_id and
                           e.response_id.startswith("resp_") and len(reader.of_type("agent_end")) >= 3, timeout=10)
    kinds = [e["type"] for e in second.client_events]
    assert kinds[0] == "session.update"
    assert second.client_events[0]["session"]["instructions"] == "Be kind."
    created = [e["item"] for e in second.client_events if e["type"] == "conversation.item.create"]
    texts = [part.get("text") for item in created if item.get("type") == "message" for part in item["content"]]
    assert texts[:2] == ["What time is it?", "It is noon."]
    assert "Tell me more." in texts
    calls = [item for item in created if item.get("type") == "function_call"]
    outputs = [item for item in created if item.get("type") == "function_call_output"]
    assert [c["call_id"] for c in calls] == ["t1"] and outputs[0]["output"] == "noon"
    assert "response.create" in kinds, "the answer lost with the connection is asked for again"
    history_ids = [item.item_id for item in session.history]
    assert len(history_ids) == len(set(history_ids)), "no duplicated history items after the reseed"


async def test_reconnect_gives_up_with_a_clear_error(server) -> None:
    session = await open_session(Runner(AgentSpec(name="A"), config=FAST_RECONNECT), server)
    seen: list = []
    with pytest.raises(TransportError, match="could not reconnect"):
        async with session:
            server.api_key = "rotated-key"  # every reconnect attempt is now refused with HTTP 401
            await server.drop_connection()
            async with asyncio.timeout(5):
                async for event in session:
                    seen.append(event)
    statuses = [e.status for e in seen if e.type == "reconnect"]
    assert statuses == ["reconnecting"] * 3 + ["failed"]
    assert [e.code for e in seen if e.type == "error"] == ["connection_lost"]


async def test_without_reconnect_a_drop_ends_the_session_with_an_error(server) -> None:
    session = await open_session(Runner(AgentSpec(name="A"), config={"reconnect": False}), server)
    seen: list = []
    with pytest.raises(TransportError):
        async with session:
            await server.drop_connection()
            async with asyncio.timeout(5):
                async for event in session:
                    seen.append(event.type)
    assert "error" in seen and "reconnect" in seen


async def test_audio_sent_while_reconnecting_is_dropped_not_raised(server) -> None:
    session = await open_session(Runner(AgentSpec(name="A"), config={
        "reconnect": {"max_attempts": 2, "initial_delay": 0.3, "max_delay": 0.3}}), server)
    async with session:
        reader = EventReader(session)
        await server.drop_connection()
        await reader.until("reconnect")
        await session.send_audio(b"\x00\x00" * 480)
        await session.send_message("typed while offline")
        await reader.until(lambda e: e.type == "reconnect" and e.status == "reconnected")
        second = await server.wait_for_connection(count=2)
        await server.wait_for_client_event("response.create", timeout=5)
    texts = [e["item"]["content"][0].get("text") for e in second.client_events if e["type"] == "conversation.item.create"]
    assert texts == ["typed while offline"]


async def test_a_tool_finishing_while_disconnected_runs_once_and_its_output_arrives_once(server) -> None:
    runs: list[str] = []
    dropped = asyncio.Event()

    @function_tool
    async def slow_lookup() -> str:
        """Look something up slowly."""
        runs.append("run")
        await server.drop_connection()
        dropped.set()
        return "found it"

    server.add_response(ScriptedResponse(function_calls=[FunctionCall(name="slow_lookup", call_id="s1")]))
    server.add_response(ScriptedResponse(transcript="Here is what I found."))
    session = await open_session(Runner(AgentSpec(name="A", tools=[slow_lookup]), config=FAST_RECONNECT), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("look it up")
        await reader.until(lambda e: e.type == "reconnect" and e.status == "reconnected")
        second = await server.wait_for_connection(count=2)
        await reader.until(lambda e: e.type == "agent_end" and e.status == "completed"
                           and len(reader.of_type("agent_start")) >= 2, timeout=10)
    assert runs == ["run"]
    outputs = [e["item"] for conn in server.all_connections for e in conn.client_events
               if e["type"] == "conversation.item.create" and e["item"].get("type") == "function_call_output"]
    assert [o["output"] for o in outputs] == ["found it"]
    assert "response.create" in [e["type"] for e in second.client_events]
