"""The fake Realtime server's handshake, error replies, session rules and connection control."""
from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from realtime_agents.engine.testing import FakeRealtimeServer, FunctionCall, ScriptedResponse
from tests.engine.test_fake_server import KEY, USER_TEXT, RawClient, raw_client, types


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(api_key=KEY, validate=True) as fake:
        yield fake


# -- handshake ---------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"api-key": "wrong"}])
async def test_bad_or_missing_key_is_refused_with_401(server: FakeRealtimeServer, headers: dict[str, str]) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(server.url, additional_headers=headers):
            pass
    assert caught.value.response.status_code == 401
    assert json.loads(caught.value.response.body)["error"]["code"] == "invalid_api_key"
    assert server.all_connections == [] and len(server.rejected_requests) == 1


async def test_azure_header_and_browser_subprotocol_are_accepted(server: FakeRealtimeServer) -> None:
    async with connect(server.url_for_call("rtc_123"), additional_headers={"api-key": KEY}) as websocket:
        assert json.loads(await websocket.recv())["type"] == "session.created"
    protocols = ["realtime", f"openai-insecure-api-key.{KEY}"]
    async with connect(server.url, subprotocols=protocols) as websocket:  # type: ignore[arg-type]
        assert websocket.subprotocol == "realtime"
        assert json.loads(await websocket.recv())["type"] == "session.created"
    first, second = server.all_connections
    assert first.query == {"call_id": "rtc_123"} and first.call_id == "rtc_123"
    assert first.path == "/v1/realtime" and first.headers["api-key"] == KEY
    assert second.query == {"model": "gpt-realtime"}


async def test_other_paths_get_404(server: FakeRealtimeServer) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(f"ws://127.0.0.1:{server.port}/v1/chat", additional_headers={"api-key": KEY}):
            pass
    assert caught.value.response.status_code == 404


async def test_session_created_is_a_full_ga_session(server: FakeRealtimeServer) -> None:
    async with connect(server.url, additional_headers={"api-key": KEY}) as websocket:
        created = json.loads(await websocket.recv())
    session = created["session"]
    assert session["type"] == "realtime" and session["object"] == "realtime.session"
    assert session["id"].startswith("sess_") and session["model"] == "gpt-realtime"
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["output"]["voice"] == "alloy"
    detection = session["audio"]["input"]["turn_detection"]
    assert detection["type"] == "server_vad" and detection["create_response"] and detection["interrupt_response"]
    assert server.validation_errors == []


# -- malformed and unknown input ---------------------------------------------------------------


async def test_unknown_type_malformed_json_and_binary_frames_get_errors(server: FakeRealtimeServer) -> None:
    async with raw_client(server) as client:
        await client.send({"type": "response.explode", "event_id": "evt_1"})
        unknown = (await client.recv())["error"]
        await client.websocket.send("{not json")
        malformed = (await client.recv())["error"]
        await client.websocket.send("[1, 2]")
        not_object = (await client.recv())["error"]
        await client.websocket.send(b"\x00\x01")
        binary = (await client.recv())["error"]
        await client.send({"event_id": "evt_2"})
        no_type = (await client.recv())["error"]
        # The session survives every mistake.
        await client.send({"type": "conversation.item.create", "item": USER_TEXT})
        assert (await client.recv())["type"] == "conversation.item.added"
    assert (unknown["code"], unknown["param"], unknown["event_id"]) == ("invalid_value", "type", "evt_1")
    assert "response.explode" in unknown["message"]
    assert malformed["code"] == "invalid_json" and not_object["code"] == "invalid_type"
    assert binary["code"] == "invalid_json"
    assert (no_type["code"], no_type["param"], no_type["event_id"]) == ("missing_required_parameter", "type", "evt_2")


async def test_validation_records_client_events_that_break_the_openai_models(server: FakeRealtimeServer) -> None:
    async with raw_client(server) as client:
        await client.send({"type": "conversation.item.create", "item": {**USER_TEXT, "colour": "red"}})
        rejected = (await client.recv())["error"]
        await client.send({"type": "response.cancel", "response_id": 7})
        await client.until("error")
    assert (rejected["code"], rejected["param"]) == ("unknown_parameter", "item.colour")
    assert [(i.direction, i.event_type) for i in server.validation_errors] == [
        ("received", "conversation.item.create"), ("received", "response.cancel")]
    assert "item.colour" in server.validation_errors[0].detail


async def test_validate_needs_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai.types.realtime", None)
    with pytest.raises(ImportError, match="needs the 'openai' package"):
        FakeRealtimeServer(validate=True)
    FakeRealtimeServer(validate=False)  # no openai needed


def test_bad_construction_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="default_response"):
        FakeRealtimeServer(default_response="hi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="api_key"):
        FakeRealtimeServer(api_key="")
    with pytest.raises(ValueError, match="pace"):
        ScriptedResponse(pace=-1)
    with pytest.raises(ValueError, match="not both"):
        ScriptedResponse(transcript="a", text="b")
    with pytest.raises(ValueError, match="name"):
        FunctionCall(name="")
    with pytest.raises(TypeError, match="ScriptedResponse"):
        FakeRealtimeServer().add_response("hello")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeRealtimeServer().url


# -- session.update ----------------------------------------------------------------------------


async def update(client: RawClient, session: object) -> dict:
    await client.send({"type": "session.update", "session": session, "event_id": "evt_su"})
    return await client.recv()


async def test_session_update_rules() -> None:
    async with FakeRealtimeServer() as server, raw_client(server) as client:
        unknown = await update(client, {"type": "realtime", "temperature": 0.8})
        nested = await update(client, {"type": "realtime", "audio": {"output": {"volume": 3}}})
        missing = await update(client, {"instructions": "x"})
        bad_voice = await update(client, {"type": "realtime", "audio": {"output": {"voice": "robot"}}})
        merged = await update(client, {"type": "realtime", "instructions": "Be kind.",
                                       "audio": {"output": {"voice": "cedar"}}})
        again = await update(client, {"type": "realtime", "tools": [
            {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}}]})
    assert (unknown["error"]["code"], unknown["error"]["param"]) == ("unknown_parameter", "session.temperature")
    assert unknown["error"]["event_id"] == "evt_su"
    assert nested["error"]["param"] == "session.audio.output.volume"
    assert (missing["error"]["code"], missing["error"]["param"]) == ("missing_required_parameter", "session.type")
    assert bad_voice["error"]["code"] == "invalid_value"
    assert merged["type"] == "session.updated"
    assert merged["session"]["instructions"] == "Be kind."
    assert merged["session"]["audio"]["output"]["voice"] == "cedar"
    assert merged["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"  # untouched
    assert again["session"]["instructions"] == "Be kind." and again["session"]["tools"][0]["name"] == "f"
    assert server.all_connections[0].session["audio"]["output"]["voice"] == "cedar"


async def test_voice_is_fixed_after_assistant_audio(server: FakeRealtimeServer) -> None:
    async with raw_client(server) as client:
        await client.send({"type": "response.create"})
        await client.until("response.done")
        same = await update(client, {"type": "realtime", "audio": {"output": {"voice": "alloy"}}})
        changed = await update(client, {"type": "realtime", "audio": {"output": {"voice": "marin"}}})
    assert same["type"] == "session.updated"
    assert (changed["error"]["code"], changed["error"]["param"]) == ("cannot_update_voice",
                                                                     "session.audio.output.voice")
    assert server.all_connections[0].session["audio"]["output"]["voice"] == "alloy"


# -- conversation items ------------------------------------------------------------------------


async def test_item_create_ordering_ids_and_rejections(server: FakeRealtimeServer) -> None:
    async with raw_client(server) as client:
        await client.send({"type": "conversation.item.create", "item": {**USER_TEXT, "id": "item_a"}})
        first = await client.until("conversation.item.done")
        await client.send({"type": "conversation.item.create", "item": USER_TEXT, "previous_item_id": "root"})
        root = await client.until("conversation.item.done")
        await client.send({"type": "conversation.item.create", "item": USER_TEXT, "previous_item_id": "item_zz"})
        unknown_previous = (await client.recv())["error"]
        await client.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "assistant", "content": [{"type": "output_audio", "transcript": "hi"}]}})
        assistant_audio = (await client.recv())["error"]
        await client.send({"type": "conversation.item.create", "item": {"role": "user"}})
        no_type = (await client.recv())["error"]
        await client.send({"type": "conversation.item.create", "item": {**USER_TEXT, "id": "item_a"}})
        duplicate = (await client.recv())["error"]
        await client.send({"type": "conversation.item.retrieve", "item_id": "item_a"})
        retrieved = await client.recv()
        await client.send({"type": "conversation.item.delete", "item_id": "item_a"})
        deleted = await client.recv()
    assert first[0]["item"]["id"] == "item_a" and first[0]["previous_item_id"] is None
    assert root[0]["previous_item_id"] is None and root[0]["item"]["id"].startswith("item_")
    assert unknown_previous["param"] == "previous_item_id"
    assert assistant_audio["code"] == "invalid_value" and assistant_audio["param"] == "item.content[0].type"
    assert (no_type["code"], no_type["param"]) == ("missing_required_parameter", "item.type")
    assert duplicate["param"] == "item.id"
    assert retrieved["type"] == "conversation.item.retrieved" and retrieved["item"]["id"] == "item_a"
    assert deleted == {**deleted, "type": "conversation.item.deleted", "item_id": "item_a"}
    assert [i["id"] for i in server.all_connections[0].conversation] == [root[0]["item"]["id"]]
    # Only the deliberately shapeless item breaks the openai models; everything the server sent is valid.
    assert [(i.direction, i.event_type) for i in server.validation_errors] == [
        ("received", "conversation.item.create")]


# -- connection control ------------------------------------------------------------------------


async def test_drop_connection_mid_response_is_an_abnormal_close(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(transcript="never finished", audio_ms=5000, pace=1.0))
    async with raw_client(server) as client:
        await client.send({"type": "response.create"})
        await client.until("response.output_audio.delta")
        await server.drop_connection()
        with pytest.raises(ConnectionClosedError) as caught:
            await client.until("response.done", timeout=3)
    assert caught.value.rcvd is None  # no close frame came
    await server.wait_until_idle(timeout=2)
    assert server.connections == []
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("fake-realtime-")]


async def test_inject_error_and_send_server_event(server: FakeRealtimeServer) -> None:
    async with raw_client(server) as client:
        await server.inject_error(code="server_error", message="boom")
        injected = await client.recv()
        await server.send_server_event({"type": "input_audio_buffer.timeout_triggered", "item_id": "item_x",
                                        "audio_start_ms": 0, "audio_end_ms": 100})
        pushed = await client.recv()
    assert injected["type"] == "error" and injected["error"] == {**injected["error"], "code": "server_error",
                                                                  "message": "boom", "type": "server_error"}
    assert pushed["type"] == "input_audio_buffer.timeout_triggered" and pushed["event_id"].startswith("event_")
    assert server.validation_errors == []
    with pytest.raises(ValueError, match="type"):
        await server.send_server_event({"no": "type"})


async def test_concurrent_connections_are_isolated(server: FakeRealtimeServer) -> None:
    async with raw_client(server) as one, raw_client(server) as two:
        first, second = server.connections
        first.add_response(ScriptedResponse(transcript="for one"))
        second.add_response(ScriptedResponse(transcript="for two"))
        await one.send({"type": "session.update", "session": {"type": "realtime", "instructions": "one"}})
        await one.until("session.updated")
        await asyncio.gather(one.send({"type": "response.create"}), two.send({"type": "response.create"}))
        done_one, done_two = await asyncio.gather(one.until("response.done"), two.until("response.done"))
        await server.wait_for_client_event("response.create", count=2, timeout=5)
    assert done_one[-1]["response"]["output"][0]["content"][0]["transcript"] == "for one"
    assert done_two[-1]["response"]["output"][0]["content"][0]["transcript"] == "for two"
    assert first.session["instructions"] == "one" and second.session["instructions"] != "one"
    assert first.session["id"] != second.session["id"]
    assert len(first.conversation) == len(second.conversation) == 1
    assert types(first.client_events) == ["session.update", "response.create"]
    assert types(second.client_events) == ["response.create"]


async def test_close_closes_connections_and_cancels_tasks() -> None:
    server = await FakeRealtimeServer().start()
    server.add_response(ScriptedResponse(transcript="long", audio_ms=10_000, pace=1.0))
    async with raw_client(server) as client:
        await client.send({"type": "response.create"})
        await client.until("response.output_audio.delta")
        await asyncio.wait_for(server.close(), timeout=5)
        with pytest.raises(Exception) as caught:
            await client.until("response.done", timeout=3)
    assert getattr(caught.value, "rcvd", None) is not None and caught.value.rcvd.code == 1001  # type: ignore[attr-defined]
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("fake-realtime-")]


async def test_wait_for_client_event_times_out_with_a_clear_message(server: FakeRealtimeServer) -> None:
    async with raw_client(server) as client:
        await client.send({"type": "input_audio_buffer.clear"})
        await client.recv()
        with pytest.raises(TimeoutError, match=r"1 'response.create'.*input_audio_buffer.clear"):
            await server.wait_for_client_event("response.create", timeout=0.2)
        events = await server.wait_for_client_event("input_audio_buffer.clear")
    assert len(events) == 1


async def test_record_audio_false_drops_payloads() -> None:
    async with FakeRealtimeServer(record_audio=False) as server, raw_client(server) as client:
        await client.send({"type": "input_audio_buffer.append", "audio": "AAAA"})
        events = await server.wait_for_client_event("input_audio_buffer.append")
    assert events[0]["audio"] == ""
