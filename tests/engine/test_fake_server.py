"""The fake Realtime server against the official openai client and raw websockets: turns and errors."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from realtime_agents.engine.testing import FakeRealtimeServer, FunctionCall, ScriptedError, ScriptedResponse

KEY = "test-key"


class RawClient:
    """A plain websockets client that reads JSON events with bounded loops."""

    def __init__(self, websocket: ClientConnection) -> None:
        self.websocket = websocket

    async def send(self, event: dict[str, Any]) -> None:
        await self.websocket.send(json.dumps(event))

    async def recv(self, *, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            return json.loads(await self.websocket.recv())

    async def until(self, event_type: str, *, timeout: float = 5.0, limit: int = 5000) -> list[dict[str, Any]]:
        """Read events up to and including the first of ``event_type``."""
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            for _ in range(limit):
                events.append(json.loads(await self.websocket.recv()))
                if events[-1]["type"] == event_type:
                    return events
        raise AssertionError(f"no {event_type} in {limit} events: {[e['type'] for e in events]}")


@contextlib.asynccontextmanager
async def raw_client(server: FakeRealtimeServer, *, url: str | None = None) -> AsyncIterator[RawClient]:
    """Connect with the Bearer key and swallow the greeting."""
    async with connect(url or server.url, additional_headers={"Authorization": f"Bearer {KEY}"}) as websocket:
        client = RawClient(websocket)
        greeting = await client.until("conversation.created")
        assert [e["type"] for e in greeting] == ["session.created", "conversation.created"]
        yield client


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(api_key=KEY, validate=True) as fake:
        yield fake


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


USER_TEXT = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "What's up?"}]}


async def test_official_client_completes_a_turn(server: FakeRealtimeServer) -> None:
    openai = pytest.importorskip("openai")
    server.add_response(ScriptedResponse(transcript="Hi there!", audio_ms=600))
    client = openai.AsyncOpenAI(api_key=KEY, base_url=server.http_base_url)
    seen: list[Any] = []
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session={"type": "realtime", "instructions": "Be brief.",
                                           "audio": {"output": {"voice": "marin"}}})
        await conn.conversation.item.create(item=USER_TEXT)
        await conn.response.create()
        async with asyncio.timeout(5):
            async for event in conn:
                seen.append(event)
                if event.type == "response.done":
                    break
    kinds = [e.type for e in seen]
    assert kinds[:2] == ["session.created", "conversation.created"]
    assert seen[0].session.model == "gpt-realtime"
    updated = next(e for e in seen if e.type == "session.updated")
    assert updated.session.instructions == "Be brief." and updated.session.audio.output.voice == "marin"
    transcript = "".join(e.delta for e in seen if e.type == "response.output_audio_transcript.delta")
    assert transcript == "Hi there!"
    audio_bytes = sum(len(base64.b64decode(e.delta)) for e in seen
                      if e.type == "response.output_audio.delta")
    assert audio_bytes == 600 * 48
    done = seen[-1]
    assert done.response.status == "completed" and done.response.usage.output_tokens > 0
    assert done.response.output[0].content[0].transcript == "Hi there!"
    assert server.validation_errors == [] and server.internal_errors == []
    assert server.all_connections[0].headers["authorization"] == f"Bearer {KEY}"
    assert server.all_connections[0].query == {"model": "gpt-realtime"}


async def test_audio_turn_event_order_and_server_state(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(transcript="One two three four", audio_ms=200, chunk_ms=50))
    async with raw_client(server) as client:
        await client.send({"type": "conversation.item.create", "item": USER_TEXT, "event_id": "c1"})
        assert types(await client.until("conversation.item.done")) == ["conversation.item.added",
                                                                       "conversation.item.done"]
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
    kinds = types(events)
    assert kinds[:5] == ["response.created", "rate_limits.updated", "response.output_item.added",
                         "conversation.item.added", "response.content_part.added"]
    assert kinds[-6:] == ["response.output_audio.done", "response.output_audio_transcript.done",
                          "response.content_part.done", "response.output_item.done", "conversation.item.done",
                          "response.done"]
    assert kinds.count("response.output_audio.delta") == 4
    # Transcript deltas are interleaved with the audio, not bunched at the end.
    assert kinds.index("response.output_audio_transcript.delta") < kinds.index("response.output_audio.done") - 2
    assert all("event_id" in e for e in events)
    connection = server.all_connections[0]
    assert [i["role"] for i in connection.conversation] == ["user", "assistant"]
    assert connection.conversation[1]["content"][0]["transcript"] == "One two three four"
    assert server.validation_errors == []


async def test_text_output(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(text="text-only answer"),
                        ScriptedResponse(transcript="spoken as text"))
    async with raw_client(server) as client:
        await client.send({"type": "response.create"})
        first = await client.until("response.done")
        await client.send({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})
        await client.until("session.updated")
        await client.send({"type": "response.create"})
        second = await client.until("response.done")
    for events, expected in ((first, "text-only answer"), (second, "spoken as text")):
        assert "response.output_audio.delta" not in types(events)
        assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == expected
        assert next(e for e in events if e["type"] == "response.output_text.done")["text"] == expected
        assert events[-1]["response"]["output"][0]["content"][0] == {"type": "output_text", "text": expected}
    assert server.validation_errors == []


async def test_function_call_script_then_tool_output(server: FakeRealtimeServer) -> None:
    server.add_response(
        ScriptedResponse(function_calls=[FunctionCall(name="get_weather", arguments={"city": "Paris"},
                                                      call_id="call_1")]),
        ScriptedResponse(transcript="It is sunny in Paris."),
    )
    async with raw_client(server) as client:
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
        kinds = types(events)
        assert "response.output_audio.delta" not in kinds
        added = next(e for e in events if e["type"] == "response.output_item.added")
        assert added["item"]["type"] == "function_call" and added["item"]["call_id"] == "call_1"
        arguments = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
        done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert json.loads(arguments) == json.loads(done["arguments"]) == {"city": "Paris"}
        assert done["name"] == "get_weather" and done["call_id"] == "call_1"
        assert kinds.index("response.function_call_arguments.done") < kinds.index("response.output_item.done")
        output = events[-1]["response"]["output"]
        assert [(o["type"], o["name"], o["status"]) for o in output] == [("function_call", "get_weather", "completed")]
        await client.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": "call_1", "output": '{"sky": "sunny"}'}})
        await client.until("conversation.item.done")
        await client.send({"type": "response.create"})
        answer = await client.until("response.done")
    assert answer[-1]["response"]["output"][0]["content"][0]["transcript"] == "It is sunny in Paris."
    conversation = server.all_connections[0].conversation
    assert [i["type"] for i in conversation] == ["function_call", "function_call_output", "message"]
    assert server.validation_errors == []


async def test_scripted_error_and_status(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(error=ScriptedError(code="rate_limit_exceeded", message="slow down")),
                        ScriptedResponse(transcript="cut", status="incomplete"))
    async with raw_client(server) as client:
        await client.send({"type": "response.create"})
        error = await client.recv()
        assert error["type"] == "error" and error["error"]["code"] == "rate_limit_exceeded"
        await client.send({"type": "response.create"})
        done = (await client.until("response.done"))[-1]
    assert done["response"]["status"] == "incomplete"
    assert done["response"]["status_details"]["reason"] == "max_output_tokens"
    assert server.pending_responses == 0 and server.validation_errors == []


async def test_default_response_when_queue_is_empty() -> None:
    async with FakeRealtimeServer(default_response=ScriptedResponse(transcript="Default!")) as server:
        async with raw_client(server) as client:
            await client.send({"type": "response.create"})
            events = await client.until("response.done")
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == "Default!"


async def test_double_response_create_is_refused(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(transcript="slow", delay_ms=300))
    async with raw_client(server) as client:
        await client.send({"type": "response.create"})
        await client.until("response.created")
        await client.send({"type": "response.create", "event_id": "evt_second"})
        events = await client.until("error")
        error = events[-1]["error"]
        assert error["code"] == "conversation_already_has_active_response"
        assert error["event_id"] == "evt_second"
        done = await client.until("response.done")
    assert done[-1]["response"]["status"] == "completed"
    assert sum(1 for e in server.all_connections[0].server_events if e["type"] == "response.created") == 1


async def test_out_of_band_response_runs_beside_the_default_one(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(transcript="main", delay_ms=200), ScriptedResponse(text="side"))
    async with raw_client(server) as client:
        await client.send({"type": "response.create"})
        await client.until("response.created")
        await client.send({"type": "response.create", "response": {"conversation": "none",
                                                                    "metadata": {"topic": "x"}}})
        events = await client.until("response.done")
    assert events[-1]["response"]["conversation_id"] is None
    assert events[-1]["response"]["metadata"] == {"topic": "x"}
    assert "error" not in types(events)


async def test_cancel_active_and_nothing_active(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(transcript="a long answer " * 5, audio_ms=3000, pace=1.0))
    async with raw_client(server) as client:
        await client.send({"type": "response.cancel", "event_id": "evt_cancel_0"})
        error = await client.recv()
        assert error["error"]["code"] == "response_cancel_not_active"
        assert error["error"]["event_id"] == "evt_cancel_0"
        await client.send({"type": "response.create"})
        await client.until("response.output_audio.delta")
        await client.send({"type": "response.cancel"})
        events = await client.until("response.done", timeout=2)
    response = events[-1]["response"]
    assert response["status"] == "cancelled"
    assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert response["output"][0]["status"] == "incomplete"
    assert types(events).count("response.output_audio.delta") < 10
    assert server.validation_errors == []


async def test_truncate_valid_and_beyond_audio(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(transcript="Hello there friend", audio_ms=500))
    async with raw_client(server) as client:
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
        item_id = events[-1]["response"]["output"][0]["id"]
        await client.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                           "audio_end_ms": 501, "event_id": "evt_t1"})
        error = await client.recv()
        assert error["error"]["code"] == "invalid_value" and error["error"]["param"] == "audio_end_ms"
        assert error["error"]["event_id"] == "evt_t1"
        await client.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                           "audio_end_ms": 250})
        truncated = await client.recv()
        assert truncated == {**truncated, "type": "conversation.item.truncated", "item_id": item_id,
                             "content_index": 0, "audio_end_ms": 250}
        await client.send({"type": "conversation.item.truncate", "item_id": "item_nope", "content_index": 0,
                           "audio_end_ms": 0})
        assert (await client.recv())["error"]["param"] == "item_id"
    item = server.all_connections[0].conversation[0]
    assert item["content"][0]["transcript"] == ""
    assert server.validation_errors == []


async def test_pace_one_streams_in_real_time(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(transcript="tick", audio_ms=400, pace=1.0))
    async with raw_client(server) as client:
        loop = asyncio.get_running_loop()
        await client.send({"type": "response.create"})
        await client.until("response.output_audio.delta")
        started = loop.time()
        await client.until("response.done")
        elapsed = loop.time() - started
    assert 0.3 <= elapsed < 2.0


async def test_cancel_then_create_back_to_back_is_accepted(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(transcript="long " * 20, audio_ms=4000, pace=1.0),
                        ScriptedResponse(transcript="Next."))
    async with raw_client(server) as client:
        await client.send({"type": "response.create"})
        await client.until("response.output_audio.delta")
        # Sent in one burst: the cancelled response must be finished before the create is read.
        await client.send({"type": "response.cancel"})
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
        assert events[-1]["response"]["status"] == "cancelled"
        following = await client.until("response.done")
    assert "error" not in types(events + following)
    assert following[-1]["response"]["output"][0]["content"][0]["transcript"] == "Next."
