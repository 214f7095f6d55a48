"""SIP calls end to end: signed deliveries POSTed to a live Daphne, fake Calls API, fake Realtime server."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from realtime_agents.engine.testing import FakeRealtimeServer, FunctionCall, ScriptedResponse, silence, tone
from realtime_agents.models import Conversation, ToolRun, TranscriptItem
from realtime_agents.telephony import sip_session
from realtime_agents.telephony.sip_registry import calls
from realtime_agents.telephony.testing import FakeCallsApi
from tests.live_server import daphne_url, settle_daphne
from tests import rows
from tests.rows import close_db_threads  # noqa: F401  (fixture)
from tests.telephony.sip_helpers import (
    API_KEY,
    SECRET,
    CALLER,
    WEBHOOK_PATH,
    call_conversation,
    delivery,
    requests_for,
    settings_for,
    sip_channel,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_threads")]

TRANSFER_TO = "+442079460958"
GOODBYE = ScriptedResponse(transcript="Goodbye!", function_calls=[FunctionCall(name="end_call")])


@pytest.fixture
def api() -> Iterator[FakeCallsApi]:
    with FakeCallsApi(api_key=API_KEY) as fake:
        yield fake


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(api_key=API_KEY) as fake:
        yield fake


@pytest.fixture(autouse=True)
async def settle(daphne: Any) -> AsyncIterator[None]:
    """After each test: every call task on Daphne's loop has ended and its conversation is finalised."""
    yield
    await calls.wait_idle()
    await settle_daphne(daphne)


@pytest.fixture
def live(api: FakeCallsApi, server: FakeRealtimeServer) -> Iterator[dict[str, Any]]:
    values = settings_for(api, server.url)
    with override_settings(REALTIME_AGENTS=values):
        yield values


async def ring(daphne: Any, call_id: str, **options: Any) -> tuple[int, Any]:
    """POST a signed delivery for `call_id` to the live server."""
    headers, body = delivery(call_id, **options)
    async with httpx.AsyncClient(base_url=daphne_url(daphne), timeout=10) as client:
        response = await client.post(WEBHOOK_PATH, content=body, headers=headers)
    return response.status_code, response.json()


def responses_done(server: FakeRealtimeServer) -> int:
    return sum(1 for c in server.all_connections for e in c.server_events if e.get("type") == "response.done")


async def caller_says_something(server: FakeRealtimeServer) -> None:
    """Audio reaching OpenAI over SIP (not through our server): speech, then silence ending the turn."""
    connection = server.connections[-1]
    audio = base64.b64encode(tone(600) + silence(900)).decode()
    await connection.input_audio.append({"type": "input_audio_buffer.append", "audio": audio})


@sync_to_async
def transcript(conversation: Conversation) -> list[tuple[str, str]]:
    items = TranscriptItem.objects.filter(conversation=conversation).order_by("sequence")
    return [(item.role, item.text) for item in items]


async def test_an_answered_call_is_attached_greeted_recorded_and_finalised_when_it_ends(
    daphne: Any, api: FakeCallsApi, server: FakeRealtimeServer, live: dict[str, Any]
) -> None:
    await sip_channel(
        greeting="Welcome the caller to the desk.", voice="marin", input_audio_format="g711_ulaw",
        transcription_model="gpt-4o-mini-transcribe", transfer_numbers=TRANSFER_TO,
        agent_fields={"instructions": "You answer the desk phone."},
    )
    server.add_response(ScriptedResponse(transcript="Hello, you reached the desk."))
    server.add_transcription("I need help with my order.")
    server.add_response(ScriptedResponse(transcript="Sure, what is the order number?"))
    call_id = api.add_call()

    assert await ring(daphne, call_id) == (200, {"status": "processing"})
    connection = await server.wait_for_connection()
    assert connection.query == {"call_id": call_id}  # attached to the call: no model, no new session

    accept = requests_for(api, call_id, "accept")[0].body
    assert accept["type"] == "realtime"
    assert accept["model"] == "gpt-realtime"
    assert "You answer the desk phone." in accept["instructions"]
    assert {tool["name"] for tool in accept["tools"]} == {"end_call", "transfer_call"}
    assert accept["audio"]["output"]["voice"] == "marin"
    assert accept["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert "format" not in accept["audio"].get("input", {}) and "format" not in accept["audio"]["output"]
    update = (await server.wait_for_client_event("session.update"))[0]["session"]
    assert "model" not in update and "format" not in update.get("audio", {}).get("input", {})
    greeting = (await server.wait_for_client_event("response.create"))[0]
    assert "Welcome the caller to the desk." in greeting["response"]["instructions"]

    await wait_for(lambda: responses_done(server) >= 1, what="the greeting")
    await caller_says_something(server)
    await wait_for(lambda: responses_done(server) >= 2, what="the answer")
    # The caller hangs up: OpenAI closes the sideband normally.
    await connection.websocket.close()

    row = await call_conversation(call_id)
    assert row.end_reason == "call_ended"
    assert (row.call_id, row.caller_number, row.channel_slug) == (call_id, CALLER, "phone")
    assert row.user_agent == sip_session.CALLER_USER_AGENT and row.ip_hash == ""
    assert await transcript(row) == [
        ("assistant", "Hello, you reached the desk."),
        ("user", "I need help with my order."),
        ("assistant", "Sure, what is the order number?"),
    ]
    assert api.actions(call_id) == ["accept"]  # the caller hung up: nothing to end on our side


async def test_the_end_call_tool_hangs_up_after_the_goodbye(
    daphne: Any, api: FakeCallsApi, server: FakeRealtimeServer, live: dict[str, Any]
) -> None:
    await sip_channel(greeting="Say goodbye and end the call.")
    server.add_response(GOODBYE)
    call_id = api.add_call()
    await ring(daphne, call_id)

    await wait_for(lambda: requests_for(api, call_id, "hangup"), what="the hang-up")
    assert api.actions(call_id) == ["accept", "hangup"]
    row = await call_conversation(call_id)
    assert row.end_reason == "agent_hung_up"
    assert await transcript(row) == [("assistant", "Goodbye!")]
    run = await sync_to_async(ToolRun.objects.get)(conversation=row)
    assert (run.tool_name, run.status, run.output) == ("end_call", "ok", "The call is ending.")
    await wait_for(lambda: not server.connections, what="the sideband closed")


async def test_hang_up_waits_until_openai_has_played_the_goodbye(
    daphne: Any, api: FakeCallsApi, server: FakeRealtimeServer, live: dict[str, Any]
) -> None:
    await sip_channel(greeting="Say goodbye and end the call.")
    server.add_response(GOODBYE)
    call_id = api.add_call()
    await ring(daphne, call_id)
    connection = await server.wait_for_connection()
    # OpenAI starts playing the answer to the caller (SIP only) before the response is done.
    await server.wait_for_client_event("response.create")
    await server.send_server_event({"type": "output_audio_buffer.started", "response_id": "resp_x"},
                                   connection=connection)
    await wait_for(lambda: responses_done(server) >= 1, what="the response")
    await asyncio.sleep(0.5)  # time for a hang-up that did not wait to reach the API (not a timing assertion)
    assert requests_for(api, call_id, "hangup") == []  # still playing: no hang-up yet
    await server.send_server_event({"type": "output_audio_buffer.stopped", "response_id": "resp_x"},
                                   connection=connection)
    await wait_for(lambda: requests_for(api, call_id, "hangup"), what="the hang-up")
    assert (await call_conversation(call_id)).end_reason == "agent_hung_up"


async def test_the_transfer_tool_refers_the_call_to_a_listed_number(
    daphne: Any, api: FakeCallsApi, server: FakeRealtimeServer, live: dict[str, Any]
) -> None:
    await sip_channel(greeting="Transfer the caller.", transfer_numbers=TRANSFER_TO)
    server.add_response(ScriptedResponse(
        transcript="Transferring you now.",
        function_calls=[FunctionCall(name="transfer_call", arguments={"number": TRANSFER_TO})],
    ))
    call_id = api.add_call()
    await ring(daphne, call_id)
    connection = await server.wait_for_connection()

    await wait_for(lambda: requests_for(api, call_id, "refer"), what="the refer")
    assert requests_for(api, call_id, "refer")[0].body == {"target_uri": f"tel:{TRANSFER_TO}"}
    assert api.calls[call_id].referred_to == [f"tel:{TRANSFER_TO}"]
    # The call leaves OpenAI for the new number: the sideband closes.
    await wait_for(lambda: any(e.get("type") == "conversation.item.create" for e in connection.client_events),
                   what="the tool output")
    await connection.websocket.close()
    row = await call_conversation(call_id)
    assert row.end_reason == "transferred"
    assert api.actions(call_id) == ["accept", "refer"]


async def test_an_upstream_drop_that_cannot_be_repaired_ends_the_call_and_finalises(
    daphne: Any, api: FakeCallsApi, server: FakeRealtimeServer, live: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sip_session, "SIP_RECONNECT", {"max_attempts": 0})
    await sip_channel()
    call_id = api.add_call()
    await ring(daphne, call_id)
    await server.wait_for_connection()
    await server.wait_for_client_event("session.update")
    await server.drop_connection()

    row = await call_conversation(call_id)
    assert row.end_reason == "upstream_error"
    # A call nobody controls any more is ended rather than left talking to a model whose tools never run.
    assert api.actions(call_id) == ["accept", "hangup"]


async def test_a_refused_attach_hangs_up_and_records_the_failure(
    daphne: Any, api: FakeCallsApi, live: dict[str, Any]
) -> None:
    await sip_channel()
    call_id = api.add_call()
    async with FakeRealtimeServer(api_key="another-key") as strict:
        with override_settings(REALTIME_AGENTS=settings_for(api, strict.url)):
            await ring(daphne, call_id)
            row = await call_conversation(call_id)
        assert strict.rejected_requests and strict.rejected_requests[0]["status"] == 401
    assert row.end_reason == "upstream_error"
    assert api.actions(call_id) == ["accept", "hangup"]


async def test_a_call_reaching_the_maximum_duration_is_hung_up(
    daphne: Any, api: FakeCallsApi, server: FakeRealtimeServer, live: dict[str, Any]
) -> None:
    await sip_channel(max_session_seconds=1)
    call_id = api.add_call()
    await ring(daphne, call_id)
    row = await call_conversation(call_id)
    assert row.end_reason == "max_duration"
    assert api.actions(call_id) == ["accept", "hangup"]


async def test_tools_that_need_approval_are_refused_by_policy_on_a_call(
    daphne: Any, api: FakeCallsApi, server: FakeRealtimeServer, live: dict[str, Any]
) -> None:
    tool = await sync_to_async(rows.python_tool)("guarded_echo", needs_approval=True)
    await sip_channel(greeting="Use the tool.", tools=[tool])
    server.add_response(
        ScriptedResponse(function_calls=[FunctionCall(name="guarded_echo", arguments={"text": "x"},
                                                      call_id="c9")]),
        ScriptedResponse(transcript="I cannot do that."),
    )
    call_id = api.add_call()
    await ring(daphne, call_id)
    connection = await server.wait_for_connection()
    await wait_for(lambda: responses_done(server) >= 2, what="the answer after the refusal")
    await connection.websocket.close()
    row = await call_conversation(call_id)
    runs = await sync_to_async(lambda: list(
        row.tool_runs.values_list("call_id", "status", "approval", "decided_by")))()
    assert runs == [("c9", "rejected", "rejected", "channel_policy")]


async def test_azure_channels_accept_and_attach_with_the_api_key_header(
    daphne: Any, server: FakeRealtimeServer
) -> None:
    await sip_channel(transport="azure", model_name="my-realtime-deployment")
    with FakeCallsApi(api_key=API_KEY, auth="api-key", prefix="/openai/v1") as azure:
        call_id = azure.add_call()
        values = {
            "OPENAI_WEBHOOK_SECRET": SECRET,
            "AZURE_OPENAI_API_KEY": API_KEY,
            "AZURE_OPENAI_CALLS_BASE_URL": azure.base_url,
            "AZURE_OPENAI_REALTIME_URL": server.url_for(),
        }
        with override_settings(REALTIME_AGENTS=values):
            await ring(daphne, call_id)
            connection = await server.wait_for_connection()
            accept = requests_for(azure, call_id, "accept")[0]
            assert accept.headers["api-key"] == API_KEY and "authorization" not in accept.headers
            assert accept.body["model"] == "my-realtime-deployment"  # Azure: the deployment name
            assert connection.query == {"call_id": call_id}
            assert connection.headers["api-key"] == API_KEY and "authorization" not in connection.headers
            await server.wait_for_client_event("session.update")  # attached: the call may end now
            await connection.websocket.close()
            assert (await call_conversation(call_id)).end_reason == "call_ended"


async def test_a_dropped_sideband_is_reattached_to_the_same_call(
    daphne: Any, api: FakeCallsApi, server: FakeRealtimeServer, live: dict[str, Any]
) -> None:
    await sip_channel()
    call_id = api.add_call()
    await ring(daphne, call_id)
    await server.wait_for_connection()
    await server.wait_for_client_event("session.update")
    await server.drop_connection()
    second = await server.wait_for_connection(count=2)
    assert second.query == {"call_id": call_id}  # the same call, no new session
    assert api.actions(call_id) == ["accept"]
    await second.websocket.close()
    row = await call_conversation(call_id)
    assert row.end_reason == "call_ended"
