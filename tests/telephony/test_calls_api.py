"""Tests for the Realtime Calls API client against a fake Calls API on 127.0.0.1, and the accept payload."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator

import pytest

from realtime_agents.engine import AgentSpec, Runner
from realtime_agents.engine.errors import ConfigError
from realtime_agents.engine.handoffs import realtime_handoff
from realtime_agents.engine.testing import FakeRealtimeServer
from realtime_agents.engine.tools import function_tool
from realtime_agents.telephony.calls_api import (
    CallGone,
    CallsApiError,
    CallsApiTimeout,
    CallsClient,
    build_accept_session,
)
from realtime_agents.telephony.testing import FakeCallsApi

KEY = "sk-test-calls-0123456789"


@pytest.fixture
def api() -> Iterator[FakeCallsApi]:
    with FakeCallsApi(api_key=KEY) as fake:
        yield fake


SESSION = {
    "type": "realtime",
    "model": "gpt-realtime",
    "instructions": "Be brief.",
    "audio": {"output": {"voice": "marin"}},
}


async def test_accept_reject_refer_hangup(api: FakeCallsApi) -> None:
    accepted, rejected = api.add_call("rtc_accept"), api.add_call("rtc_reject")
    async with CallsClient(api_key=KEY, base_url=api.base_url) as client:
        await client.accept(accepted, SESSION)
        await client.refer(accepted, "tel:+15551234567")
        await client.refer(accepted, "sip:desk@pbx.example.com")
        await client.hangup(accepted)
        await client.reject(rejected, status_code=486)
    call = api.calls[accepted]
    assert (call.state, call.session) == ("ended", SESSION)
    assert call.referred_to == ["tel:+15551234567", "sip:desk@pbx.example.com"]
    assert api.actions(accepted) == ["accept", "refer", "refer", "hangup"]
    assert (api.calls[rejected].state, api.calls[rejected].reject_status) == ("rejected", 486)
    first = api.requests[0]
    assert first.path == "/v1/realtime/calls/rtc_accept/accept"
    assert first.headers["authorization"] == f"Bearer {KEY}" and "api-key" not in first.headers
    assert first.headers["content-type"] == "application/json"
    hangup = next(r for r in api.requests if r.path.endswith("/hangup"))
    assert hangup.body is None


async def test_reject_defaults_to_603(api: FakeCallsApi) -> None:
    call_id = api.add_call()
    async with CallsClient(api_key=KEY, base_url=api.base_url + "/") as client:
        await client.reject(call_id)
    assert api.requests[0].body == {"status_code": 603}
    assert api.calls[call_id].reject_status == 603


async def test_azure_uses_the_api_key_header() -> None:
    with FakeCallsApi(api_key=KEY, auth="api-key", prefix="/openai/v1") as azure:
        call_id = azure.add_call()
        async with CallsClient(api_key=KEY, base_url=azure.base_url, auth="api-key") as client:
            await client.accept(call_id, SESSION)
        request = azure.requests[0]
        assert request.path == f"/openai/v1/realtime/calls/{call_id}/accept"
        assert request.headers["api-key"] == KEY and "authorization" not in request.headers
        assert azure.calls[call_id].state == "accepted"


async def test_gone_call_raises_call_gone(api: FakeCallsApi) -> None:
    async with CallsClient(api_key=KEY, base_url=api.base_url) as client:
        with pytest.raises(CallGone) as caught:
            await client.accept("rtc_unknown", SESSION)
    error = caught.value
    assert (error.status_code, error.code, error.call_id, error.action) == (
        404,
        "call_id_not_found",
        "rtc_unknown",
        "accept",
    )
    assert "No session found" in str(error)


async def test_server_error_and_bad_request_raise_calls_api_error(api: FakeCallsApi) -> None:
    call_id = api.add_call()
    api.fail_next(
        500, {"error": {"message": "The server had an error", "type": "server_error", "code": None}}
    )
    api.fail_next(502, None)
    async with CallsClient(api_key=KEY, base_url=api.base_url) as client:
        with pytest.raises(CallsApiError) as server_error:
            await client.hangup(call_id)
        with pytest.raises(CallsApiError) as bad_gateway:
            await client.hangup(call_id)
        with pytest.raises(CallsApiError) as invalid:
            # The fake refuses audio formats on accept, as SIP negotiates the codec.
            await client.accept(call_id, {**SESSION, "audio": {"input": {"format": {"type": "audio/pcmu"}}}})
    assert not isinstance(server_error.value, CallGone)
    assert server_error.value.status_code == 500 and "The server had an error" in str(server_error.value)
    assert bad_gateway.value.status_code == 502
    assert (invalid.value.status_code, invalid.value.code) == (400, "invalid_value")
    assert api.calls[call_id].state == "ringing"


async def test_wrong_key_is_an_error_and_the_key_is_never_logged(
    api: FakeCallsApi, caplog: pytest.LogCaptureFixture
) -> None:
    call_id = api.add_call()
    caplog.set_level(logging.DEBUG)
    secret = "sk-wrong-secret-value"
    async with CallsClient(api_key=secret, base_url=api.base_url) as client:
        assert secret not in repr(client)
        with pytest.raises(CallsApiError) as caught:
            await client.accept(call_id, SESSION)
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    assert secret not in str(caught.value)
    assert caplog.records, "the failure is logged"
    assert all(secret not in record.getMessage() for record in caplog.records)


async def test_timeout_raises_calls_api_timeout(api: FakeCallsApi) -> None:
    call_id = api.add_call()
    api.delay_s = 1.0
    async with CallsClient(api_key=KEY, base_url=api.base_url, timeout=0.2) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(CallsApiTimeout) as caught:
            await client.hangup(call_id)
        assert loop.time() - started < 0.9
    assert caught.value.status_code is None and caught.value.action == "hangup"


async def test_unreachable_api_raises_calls_api_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with CallsClient(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", timeout=2) as client:
        with pytest.raises(CallsApiError, match="could not reach") as caught:
            await client.hangup("rtc_1")
    assert caught.value.status_code is None


async def test_bad_arguments_are_refused_before_any_request(api: FakeCallsApi) -> None:
    async with CallsClient(api_key=KEY, base_url=api.base_url) as client:
        for bad_id in ("", "../accept", "rtc 1", "x" * 201):
            with pytest.raises(ValueError, match="call_id"):
                await client.hangup(bad_id)
        with pytest.raises(ValueError, match="status_code"):
            await client.reject("rtc_1", status_code=200)
        with pytest.raises(ValueError, match="target_uri"):
            await client.refer("rtc_1", "https://example.com")
        with pytest.raises(ConfigError, match="type 'realtime'"):
            await client.accept("rtc_1", {"model": "gpt-realtime"})
    assert api.requests == []
    with pytest.raises(ConfigError, match="api_key"):
        CallsClient(api_key="")
    with pytest.raises(ConfigError, match="base_url"):
        CallsClient(api_key=KEY, base_url="ftp://x")
    with pytest.raises(ConfigError, match="auth"):
        CallsClient(api_key=KEY, auth="basic")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="timeout"):
        CallsClient(api_key=KEY, timeout=0)


# -- the accept payload ----------------------------------------------------------------------------


@function_tool
def lookup_order(order_id: str) -> str:
    """Find an order.

    Args:
        order_id: The order number.
    """
    return f"order {order_id} shipped"


def _agents() -> AgentSpec:
    billing = AgentSpec(name="Billing", instructions="You handle invoices.", handoff_description="Invoices")
    hidden = AgentSpec(name="Hidden")

    async def instructions(context: object, agent: AgentSpec) -> str:
        return f"You are {agent.name}, answering the phone."

    return AgentSpec(
        name="Front desk",
        instructions=instructions,
        tools=[lookup_order],
        voice="cedar",
        handoffs=[billing, realtime_handoff(hidden, is_enabled=False)],
    )


SETTINGS = {
    "input_audio_format": "g711_ulaw",
    "output_audio_format": "g711_ulaw",
    "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
    "speed": 1.1,
}


async def test_accept_session_has_agent_tools_handoffs_and_no_formats() -> None:
    payload = await build_accept_session(_agents(), SETTINGS)
    assert payload["type"] == "realtime" and payload["model"] == "gpt-realtime"
    assert payload["instructions"] == "You are Front desk, answering the phone."
    assert [tool["name"] for tool in payload["tools"]] == ["lookup_order", "transfer_to_billing"]
    assert payload["audio"]["output"] == {"voice": "cedar", "speed": 1.1}
    assert "format" not in payload["audio"]["input"] and "format" not in payload["audio"]["output"]
    assert payload["audio"]["input"]["turn_detection"] == {"type": "server_vad", "silence_duration_ms": 400}
    with FakeCallsApi(api_key=KEY) as api:
        call_id = api.add_call()
        async with CallsClient(api_key=KEY, base_url=api.base_url) as client:
            await client.accept(call_id, payload)
        assert api.calls[call_id].session == payload


async def test_accept_session_matches_what_the_engine_sends_when_attached() -> None:
    agent = _agents()
    payload = await build_accept_session(agent, SETTINGS)
    async with FakeRealtimeServer(api_key=KEY) as server:
        runner = Runner(agent, config={"model_settings": SETTINGS})
        session = await runner.run(model_config={"api_key": KEY, "url": server.url, "call_id": "rtc_attach"})
        async with session:
            update = (await server.wait_for_client_event("session.update", timeout=5))[0]["session"]
            assert server.connections[0].call_id == "rtc_attach"
    assert {k: v for k, v in payload.items() if k != "model"} == update


async def test_accept_session_refuses_duplicate_names_and_non_agents() -> None:
    clash = AgentSpec(name="lookup order")
    agent = AgentSpec(
        name="A", tools=[lookup_order], handoffs=[realtime_handoff(clash, tool_name_override="lookup_order")]
    )
    with pytest.raises(ConfigError, match="'lookup_order' repeats"):
        await build_accept_session(agent)
    with pytest.raises(ConfigError, match="AgentSpec"):
        await build_accept_session("agent")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown model setting"):
        await build_accept_session(AgentSpec(name="B"), {"colour": "blue"})
    plain = await build_accept_session(AgentSpec(name="B"), {"model_name": "gpt-realtime-2"})
    assert plain["model"] == "gpt-realtime-2" and plain["instructions"] == "" and plain["tools"] == []
