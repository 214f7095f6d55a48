"""The OpenAI WebSocket transport: URLs, auth headers (OpenAI, Azure), SIP attach, bad frames."""
from __future__ import annotations

import asyncio

import pytest

from realtime_agents.engine import AgentSpec, OpenAIRealtimeModel, Runner, TransportError
from realtime_agents.engine.openai_realtime import build_url, redact_url

from .helpers import API_KEY, EventReader


def test_build_url_adds_model_or_call_id() -> None:
    assert build_url(None, model_name="gpt-realtime", call_id=None) == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert build_url("wss://x/v1/realtime?model=mine", model_name="other", call_id=None).endswith("?model=mine")
    assert build_url("wss://x/v1/realtime?model=m", model_name="m", call_id="rtc_1").endswith("?call_id=rtc_1")
    assert redact_url("wss://x/v1/realtime?api-key=secret") == "wss://x/v1/realtime"


async def test_bearer_token_and_model_query(server) -> None:
    session = await Runner(AgentSpec(name="A"), config={"model_settings": {"model_name": "gpt-realtime-mini"}}).run(
        model_config={"api_key": API_KEY, "url": server.http_base_url.replace("http", "ws") + "/realtime"})
    async with session:
        connection = await server.wait_for_connection()
    assert connection.headers["authorization"] == f"Bearer {API_KEY}"
    assert connection.query["model"] == "gpt-realtime-mini"


async def test_api_key_from_an_async_callable(server) -> None:
    async def key() -> str:
        return API_KEY

    session = await Runner(AgentSpec(name="A")).run(model_config={"api_key": key, "url": server.url})
    async with session:
        connection = await server.wait_for_connection()
    assert connection.headers["authorization"] == f"Bearer {API_KEY}"


async def test_api_key_from_the_environment() -> None:
    from realtime_agents.engine.testing import FakeRealtimeServer

    async with FakeRealtimeServer(api_key="env-key") as fake:
        model = OpenAIRealtimeModel(environ={"OPENAI_API_KEY": "env-key"})
        session = await Runner(AgentSpec(name="A"), model=model).run(model_config={"url": fake.url})
        async with session:
            connection = await fake.wait_for_connection()
        assert connection.headers["authorization"] == "Bearer env-key"


async def test_missing_api_key_is_a_clear_error(server) -> None:
    model = OpenAIRealtimeModel(environ={})
    session = await Runner(AgentSpec(name="A"), model=model).run(model_config={"url": server.url})
    with pytest.raises(TransportError, match="OPENAI_API_KEY"):
        await session.enter()


async def test_azure_headers_are_sent_as_given_without_authorization(server) -> None:
    url = server.url_for(model="my-deployment")
    session = await Runner(AgentSpec(name="A")).run(model_config={"url": url, "headers": {"api-key": API_KEY}})
    async with session:
        connection = await server.wait_for_connection()
    assert connection.headers["api-key"] == API_KEY
    assert "authorization" not in connection.headers
    assert connection.query["model"] == "my-deployment"


async def test_sip_attach_uses_call_id_and_sends_no_audio_formats(server) -> None:
    runner = Runner(AgentSpec(name="A", instructions="Answer the phone."))
    session = await runner.run(model_config={"api_key": API_KEY, "url": server.url, "call_id": "rtc_abc"})
    async with session:
        connection = await server.wait_for_connection()
        update = (await server.wait_for_client_event("session.update"))[0]["session"]
    assert connection.query == {"call_id": "rtc_abc"}
    assert "format" not in update.get("audio", {}).get("input", {})
    assert "format" not in update.get("audio", {}).get("output", {})
    assert "model" not in update
    assert session.model.owns_playback


async def test_a_non_json_frame_becomes_an_error_event_and_the_session_goes_on(server) -> None:
    session = await Runner(AgentSpec(name="A")).run(model_config={"api_key": API_KEY, "url": server.url})
    async with session:
        reader = EventReader(session)
        connection = await server.wait_for_connection()
        await connection.websocket.send("this is not json")
        error = await reader.until("error")
        assert error.code == "invalid_json"
        await connection.websocket.send('{"type": "error", "error": {"code": "x", "message": "still alive"}}')
        assert (await reader.until("error")).message == "still alive"


async def test_an_oversized_frame_drops_the_connection(server) -> None:
    session = await Runner(AgentSpec(name="A"), config={"reconnect": False}).run(
        model_config={"api_key": API_KEY, "url": server.url, "max_message_size": 4096})
    seen = []
    with pytest.raises(TransportError):
        async with session:
            connection = await server.wait_for_connection()
            await connection.websocket.send('{"type": "x", "pad": "' + "a" * 10_000 + '"}')
            async with asyncio.timeout(5):
                async for event in session:
                    seen.append(event)
    assert any(e.type == "error" for e in seen)


async def test_unreachable_server_is_a_transport_error() -> None:
    session = await Runner(AgentSpec(name="A")).run(
        model_config={"api_key": "k", "url": "ws://127.0.0.1:9/v1/realtime", "open_timeout": 2})
    with pytest.raises(TransportError, match="cannot connect"):
        await session.enter()
