"""The browser consumer through Channels' WebsocketCommunicator, with the fake Realtime server upstream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from realtime_agents.consumers import MAX_STRIKES, RealtimeConsumer
from realtime_agents.engine.testing import FakeRealtimeServer, FunctionCall, ScriptedResponse, tone
from tests import rows
from tests.asgi import application
from tests.consumer_helpers import (
    ORIGIN,
    Closed,
    FrameReader,
    conversation_row,
    decode_output,
    fake_openai_upstream,
    make_channel,
    upstream_audio,
    upstream_events,
    upstream_input_audio,
    wait_until,
    wait_upstream_closed,
)
from tests.rows import close_db_threads  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_threads")]

# Upstream failures end the session at once instead of after the engine's reconnect backoff.
NO_RECONNECT_APP = AuthMiddlewareStack(
    URLRouter(
        [
            path("ws/realtime/<slug:slug>/", RealtimeConsumer.as_asgi(reconnect=False)),
        ]
    )
)


@pytest.fixture
async def server(settings: Any) -> AsyncIterator[FakeRealtimeServer]:
    """A validating fake Realtime server, configured as the site's OpenAI endpoint."""
    async with fake_openai_upstream(settings) as fake:
        yield fake


class Browser:
    """A communicator plus a frame reader."""

    def __init__(
        self, slug: str, *, origin: str | None = ORIGIN, ip: str = "127.0.0.1", app: Any = None
    ) -> None:
        headers = [(b"user-agent", b"pytest-browser")]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        self.communicator = WebsocketCommunicator(
            app or application, f"/ws/realtime/{slug}/", headers=headers
        )
        self.communicator.scope["client"] = (ip, 40000)
        self.frames = FrameReader(self._receive)

    async def _receive(self, timeout: float) -> Any:
        return decode_output(await self.communicator.receive_output(timeout))

    async def connect(self) -> None:
        """Open the socket (accepted; the `ready` frame is not read)."""
        connected, _ = await self.communicator.connect(timeout=5)
        assert connected

    async def open(self) -> dict[str, Any]:
        """Connect and return the `ready` frame."""
        await self.connect()
        ready = await self.frames.next()
        assert isinstance(ready, dict) and ready["type"] == "ready", ready
        return ready

    async def refused(self) -> int:
        """Connect and return the close code of the refusal (no other frame before it)."""
        connected, _ = await self.communicator.connect(timeout=5)
        assert connected  # accepted, then closed, so browsers can read the code
        frame = await self.frames.next()
        assert isinstance(frame, Closed), frame
        return frame.code

    async def send(self, frame: dict[str, Any]) -> None:
        await self.communicator.send_to(text_data=json.dumps(frame))

    async def send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def send_audio(self, data: bytes) -> None:
        # send_to() refuses empty bytes; an empty binary frame is still a frame a browser can send.
        await self.communicator.send_input({"type": "websocket.receive", "bytes": data})

    async def error(self) -> dict[str, Any]:
        frame = await self.frames.until("error")
        assert isinstance(frame, dict)
        return frame

    async def drop(self) -> None:
        """The browser vanishes (tab closed, network gone)."""
        await self.communicator.send_input({"type": "websocket.disconnect", "code": 1001})

    async def close(self) -> None:
        await self.communicator.disconnect()


@pytest.fixture
def new_browser() -> type[Browser]:
    """How tests open a browser socket; the live Daphne module overrides it with a real client."""
    return Browser


# -- talking ---------------------------------------------------------------------------------


async def test_text_in_transcript_and_raw_audio_out(server: FakeRealtimeServer, new_browser: Any) -> None:
    channel = await make_channel("talk")
    server.add_response(
        ScriptedResponse(transcript="Hello there, how can I help?", chunk_ms=40),
        ScriptedResponse(transcript="Second answer.", chunk_ms=40),
    )
    browser = new_browser("talk")
    ready = await browser.open()
    assert ready["agent"] == "Talk Agent" and ready["channel"] == "talk"
    await browser.send({"type": "text", "text": "Hi"})
    await browser.frames.until("turn.end")
    await browser.send({"type": "text", "text": "Again"})
    await browser.frames.until("turn.end")
    message = upstream_events(server, "conversation.item.create")[0]["item"]
    assert message["content"] == [{"type": "input_text", "text": "Hi"}]
    # Every upstream delta arrives as exactly one binary frame with the same bytes.
    assert browser.frames.audio() == upstream_audio(server)
    assert len(browser.frames.audio()) > 10
    # The item is announced once per item, right before its first audio.
    headers = browser.frames.of_type("audio.item")
    assert len(headers) == 2 and headers[0]["item_id"] != headers[1]["item_id"]
    first_audio = next(i for i, f in enumerate(browser.frames.seen) if isinstance(f, bytes))
    assert browser.frames.seen[first_audio - 1] == headers[0]
    done = [f for f in browser.frames.of_type("transcript.done") if f["role"] == "assistant"]
    assert [f["text"] for f in done] == ["Hello there, how can I help?", "Second answer."]
    deltas = "".join(
        f["text"] for f in browser.frames.of_type("transcript.delta") if f["item_id"] == done[0]["item_id"]
    )
    assert deltas == done[0]["text"]
    # Model deltas that arrive together reach the browser joined (docs/protocol.md, transcript.delta).
    sent = [
        e for c in server.all_connections for e in c.server_events
        if e.get("type") == "response.output_audio_transcript.delta" and e.get("item_id") == done[0]["item_id"]
    ]
    shown = [f for f in browser.frames.of_type("transcript.delta") if f["item_id"] == done[0]["item_id"]]
    assert 1 <= len(shown) < len(sent)
    await browser.send({"type": "end"})
    assert (await browser.frames.until("session.end"))["reason"] == "client_ended"
    assert (await browser.frames.until_closed()).code == 1000
    await wait_upstream_closed(server, 1.0)
    row = await conversation_row(ready["conversation_id"])
    assert (row.end_reason, row.channel_id) == ("client_ended", channel.pk)
    await browser.close()


async def test_browser_audio_goes_upstream_and_commit_ends_the_turn(
    server: FakeRealtimeServer,
    new_browser: Any,
) -> None:
    await make_channel("ptt", turn_detection="none")
    browser = new_browser("ptt")
    await browser.open()
    first, second = tone(100), tone(60, frequency=660)
    await browser.send_audio(first)
    await browser.send_audio(second)
    await browser.send({"type": "commit"})
    await server.wait_for_client_event("input_audio_buffer.commit")
    # Frames that arrive together may go up as one append; every byte goes, in order, before the commit.
    assert upstream_input_audio(server) == first + second
    kinds = [event["type"] for event in server.client_events]
    assert kinds.index("input_audio_buffer.commit") > max(
        i for i, kind in enumerate(kinds) if kind == "input_audio_buffer.append"
    )
    await browser.frames.until("turn.end")
    await browser.close()


async def test_greeting_is_spoken_first(server: FakeRealtimeServer, new_browser: Any) -> None:
    await make_channel("greet", greeting="Welcome to the shop!")
    server.add_response(ScriptedResponse(transcript="Welcome!"))
    browser = new_browser("greet")
    await browser.open()
    await browser.frames.until("turn.end")
    created = upstream_events(server, "response.create")
    assert "Welcome to the shop!" in created[0]["response"]["instructions"]
    assert upstream_events(server, "conversation.item.create") == []
    await browser.close()


# -- tools, approvals, handoffs, guardrails --------------------------------------------------


async def test_tool_run_frames_hide_arguments_unless_the_channel_shows_them(
    server: FakeRealtimeServer,
    new_browser: Any,
) -> None:
    tool = await make_tool("echo_tool")
    for slug, show in (("tools-hidden", False), ("tools-shown", True)):
        await make_channel(slug, tools=[tool], show_tool_arguments=show)
        server.add_response(
            ScriptedResponse(function_calls=[FunctionCall(name="echo_tool", arguments={"text": "hi"})]),
            ScriptedResponse(transcript="Done."),
        )
        browser = new_browser(slug)
        await browser.open()
        await browser.send({"type": "text", "text": "echo hi"})
        started = await browser.frames.until("tool.started")
        ended = await browser.frames.until("tool.ended")
        assert (started["name"], ended["name"], ended["status"]) == ("echo_tool", "echo_tool", "ok")
        assert started["call_id"] == ended["call_id"]
        if show:
            assert started["arguments"] == ended["arguments"] == {"text": "hi"}
        else:
            assert "arguments" not in started and "arguments" not in ended
        assert "output" not in ended
        await browser.frames.until(
            lambda f: isinstance(f, dict) and f.get("type") == "transcript.done" and f.get("text") == "Done."
        )
        await browser.close()
    outputs = [
        e["item"]["output"]
        for e in upstream_events(server, "conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]
    assert outputs == ["hi", "hi"]


async def test_approval_round_trip(server: FakeRealtimeServer, new_browser: Any) -> None:
    tool = await make_tool("guarded_echo", needs_approval=True)
    await make_channel("approve", tools=[tool])
    server.add_response(
        ScriptedResponse(
            function_calls=[FunctionCall(name="guarded_echo", arguments={"text": "yes"}, call_id="c1")]
        ),
        ScriptedResponse(transcript="Approved."),
        ScriptedResponse(
            function_calls=[FunctionCall(name="guarded_echo", arguments={"text": "no"}, call_id="c2")]
        ),
        ScriptedResponse(transcript="Rejected."),
    )
    browser = new_browser("approve")
    ready = await browser.open()
    await browser.send({"type": "text", "text": "do it"})
    required = await browser.frames.until("approval.required")
    assert (required["call_id"], required["name"]) == ("c1", "guarded_echo")
    assert browser.frames.of_type("tool.started") == []
    await browser.send({"type": "approval", "call_id": "nope", "approve": True})
    assert (await browser.error())["code"] == "unknown_call"
    await browser.send({"type": "approval", "call_id": "c1", "approve": True})
    assert (await browser.frames.until("tool.ended"))["status"] == "ok"
    await browser.send({"type": "text", "text": "and again"})
    assert (await browser.frames.until("approval.required"))["call_id"] == "c2"
    await browser.send({"type": "approval", "call_id": "c2", "approve": False})
    ended = await browser.frames.until("tool.ended")
    assert (ended["call_id"], ended["status"]) == ("c2", "rejected")
    await browser.frames.until(lambda f: isinstance(f, dict) and f.get("text") == "Rejected.")
    await browser.close()
    row = await conversation_row(ready["conversation_id"])
    runs = await sync_list(
        row.tool_runs.order_by("sequence").values_list("call_id", "status", "approval", "decided_by")
    )
    assert runs == [("c1", "ok", "approved", "caller"), ("c2", "rejected", "rejected", "caller")]


async def test_channels_without_a_caller_reject_approvals_by_policy(
    server: FakeRealtimeServer,
    new_browser: Any,
) -> None:
    tool = await make_tool("guarded_echo", needs_approval=True)
    await make_channel("phone", tools=[tool], kind="twilio")
    server.add_response(
        ScriptedResponse(
            function_calls=[FunctionCall(name="guarded_echo", arguments={"text": "x"}, call_id="c9")]
        ),
        ScriptedResponse(transcript="I cannot."),
    )
    browser = new_browser("phone")
    await browser.open()
    await browser.send({"type": "text", "text": "do it"})
    ended = await browser.frames.until("tool.ended")
    assert (ended["call_id"], ended["status"]) == ("c9", "rejected")
    assert browser.frames.of_type("approval.required") == []
    await browser.send({"type": "approval", "call_id": "c9", "approve": True})
    error = await browser.error()
    assert error["code"] == "approval_not_allowed"
    await browser.close()


async def test_handoff_announces_the_new_agent(server: FakeRealtimeServer, new_browser: Any) -> None:
    def build() -> None:
        front = rows.agent("front")
        rows.handoff(front, rows.agent("billing"))
        rows.channel("handoff", front)

    await sync(build)
    server.add_response(
        ScriptedResponse(function_calls=[FunctionCall(name="transfer_to_billing")]),
        ScriptedResponse(transcript="Billing here."),
    )
    browser = new_browser("handoff")
    ready = await browser.open()
    assert ready["agent"] == "Front"
    await browser.send({"type": "text", "text": "billing please"})
    changed = await browser.frames.until("agent.changed")
    assert (changed["agent"], changed["previous"]) == ("Billing", "Front")
    turn = await browser.frames.until(
        lambda f: isinstance(f, dict) and f.get("type") == "turn.end" and f.get("agent") == "Billing"
    )
    assert turn["status"] == "completed"
    await browser.close()


async def test_guardrail_trip_frames(server: FakeRealtimeServer, new_browser: Any) -> None:
    guard = await sync(lambda: rows.phrases_guardrail("no-refunds", debounce_text_length=5))
    channel = await make_channel("guarded")
    await sync(lambda: channel.starting_agent.guardrails.add(guard))
    server.add_response(
        ScriptedResponse(
            transcript="Sure, a refund guaranteed for everyone who asks today.", pace=1.0, chunk_ms=50
        ),
        ScriptedResponse(transcript="Sorry, I cannot promise that."),
    )
    browser = new_browser("guarded")
    await browser.open()
    await browser.send({"type": "text", "text": "refund?"})
    tripped = await browser.frames.until("guardrail.tripped", timeout=8)
    assert tripped["kind"] == "output" and tripped["item_id"]
    interrupted = await browser.frames.until("audio.interrupted")
    assert interrupted["reason"] == "guardrail" and interrupted["item_id"] == tripped["item_id"]
    await browser.frames.until(
        lambda f: isinstance(f, dict) and f.get("text") == "Sorry, I cannot promise that.", timeout=8
    )
    await browser.close()


async def test_interrupt_truncates_at_the_reported_playback_position(
    server: FakeRealtimeServer,
    new_browser: Any,
) -> None:
    await make_channel("barge")
    server.add_response(ScriptedResponse(transcript="A long answer " * 10, pace=1.0, chunk_ms=50))
    browser = new_browser("barge")
    await browser.open()
    await browser.send({"type": "text", "text": "talk"})
    header = await browser.frames.until("audio.item")
    for _ in range(4):
        await browser.frames.until(lambda f: isinstance(f, bytes))
    await browser.send({"type": "playback", "item_id": header["item_id"], "content_index": 0, "ms": 80})
    await browser.send({"type": "playback", "item_id": header["item_id"], "content_index": 0, "ms": 120})
    await browser.send({"type": "interrupt"})
    interrupted = await browser.frames.until("audio.interrupted")
    assert (interrupted["item_id"], interrupted["audio_end_ms"], interrupted["reason"]) == (
        header["item_id"],
        120,
        "interrupt",
    )
    truncate = (await server.wait_for_client_event("conversation.item.truncate"))[0]
    assert (truncate["item_id"], truncate["audio_end_ms"]) == (header["item_id"], 120)
    await browser.frames.until("turn.end")
    await browser.close()


# -- bad input ---------------------------------------------------------------------------------


async def test_every_bad_input_gets_an_error_and_the_session_goes_on(
    server: FakeRealtimeServer,
    new_browser: Any,
) -> None:
    await make_channel("bad")
    browser = new_browser("bad")
    ready = await browser.open()
    cases: list[tuple[str | bytes, str]] = [
        ("not json", "invalid_json"),
        ("[]", "invalid_json"),
        (json.dumps({"type": "fly"}), "unknown_type"),
        (json.dumps({"type": "text", "text": 5}), "invalid_message"),
        (json.dumps({"type": "playback", "item_id": "i", "ms": "soon"}), "invalid_message"),
        (json.dumps({"type": "text", "text": "x" * 70_000}), "frame_too_large"),
        (b"", "invalid_audio"),
        (b"\x00\x01\x02", "invalid_audio"),
        (b"\x00" * 48_002, "frame_too_large"),
    ]
    for payload, code in cases:
        if isinstance(payload, bytes):
            await browser.send_audio(payload)
        else:
            await browser.send_text(payload)
        error = await browser.error()
        assert error["code"] == code, (payload[:20], error)
        assert error["message"] and "Traceback" not in error["message"]
    assert upstream_events(server, "input_audio_buffer.append") == []
    # Audio far faster than real time: the burst allowance (3 s) passes, the rest is dropped.
    second = tone(1000)
    for _ in range(5):
        await browser.send_audio(second)
    error = await browser.error()
    assert error["code"] == "audio_too_fast"
    await wait_until(lambda: len(upstream_input_audio(server)) >= 3 * len(second))
    await asyncio.sleep(0.1)
    assert upstream_input_audio(server) == second * 3
    # Still talking.
    await browser.send({"type": "text", "text": "still there?"})
    await browser.frames.until("turn.end")
    await browser.close()
    assert (await conversation_row(ready["conversation_id"])).end_reason == "client_disconnected"


async def test_abusive_clients_are_closed_and_the_conversation_finalised(
    server: FakeRealtimeServer,
    new_browser: Any,
) -> None:
    await make_channel("abuse")
    browser = new_browser("abuse")
    ready = await browser.open()
    for _ in range(MAX_STRIKES):
        await browser.send_text("garbage")
    assert (await browser.frames.until("session.end"))["reason"] == "protocol_violation"
    assert (await browser.frames.until_closed()).code == 4400
    assert len(browser.frames.of_type("error")) == MAX_STRIKES
    await wait_upstream_closed(server, 1.0)
    assert (await conversation_row(ready["conversation_id"])).end_reason == "protocol_violation"
    await browser.close()


# -- refusals ----------------------------------------------------------------------------------


async def test_refusals_have_documented_close_codes(
    server: FakeRealtimeServer,
    settings: Any,
    new_browser: Any,
) -> None:
    await make_channel("open-door")
    await make_channel("closed-door", is_active=False)
    await make_channel("partner", allowed_origins="https://partner.test")
    assert await new_browser("no-such-channel").refused() == 4404
    assert await new_browser("closed-door").refused() == 4404
    assert await new_browser("open-door", origin="http://evil.test").refused() == 4403
    assert await new_browser("open-door", origin=None).refused() == 4403
    assert await new_browser("partner").refused() == 4403
    assert server.all_connections == []
    partner = new_browser("partner", origin="https://partner.test")
    await partner.open()
    await partner.close()
    settings.REALTIME_AGENTS = {**settings.REALTIME_AGENTS, "ALLOW_MISSING_ORIGIN": True}
    no_origin = new_browser("open-door", origin=None)
    await no_origin.open()
    await no_origin.close()
    # OpenAI chosen but no key configured: refused before any upstream connection is tried.
    settings.REALTIME_AGENTS = {**settings.REALTIME_AGENTS, "OPENAI_API_KEY": ""}
    assert await new_browser("open-door").refused() == 4503
    assert len(server.all_connections) == 2


async def test_session_limits_per_ip_and_per_channel(
    server: FakeRealtimeServer,
    settings: Any,
    new_browser: Any,
) -> None:
    settings.REALTIME_AGENTS = {**settings.REALTIME_AGENTS, "MAX_SESSIONS_PER_IP": 1}
    await make_channel("busy", max_concurrent_sessions=2)
    first = new_browser("busy", ip="10.9.0.1")
    await first.open()
    assert await new_browser("busy", ip="10.9.0.1").refused() == 4429
    second = new_browser("busy", ip="10.9.0.2")
    await second.open()
    assert await new_browser("busy", ip="10.9.0.3").refused() == 4429
    await first.close()
    await wait_upstream_closed_count(server, 1)
    third = new_browser("busy", ip="10.9.0.1")
    await third.open()
    await second.close()
    await third.close()


# -- ending ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["before_ready", "mid_response", "during_tool_run"])
async def test_disconnect_closes_upstream_within_a_second(
    server: FakeRealtimeServer,
    stage: str,
    new_browser: Any,
) -> None:
    tool = await make_tool("slow_tool", function="toolapp_slow")
    await make_channel("leave", tools=[tool])
    browser = new_browser("leave")
    if stage == "before_ready":
        await browser.connect()
        # Gone while the upstream session is still being opened: it must still be closed.
        await browser.drop()
        await server.wait_for_connection()
    else:
        await browser.open()
        if stage == "mid_response":
            server.add_response(ScriptedResponse(transcript="A long answer " * 20, pace=1.0))
            await browser.send({"type": "text", "text": "talk"})
            await browser.frames.until(lambda f: isinstance(f, bytes))
        else:
            server.add_response(
                ScriptedResponse(
                    function_calls=[FunctionCall(name="slow_tool", arguments={"seconds": 2}, call_id="s1")]
                )
            )
            await browser.send({"type": "text", "text": "wait"})
            await browser.frames.until("approval.required")
            await browser.send({"type": "approval", "call_id": "s1", "approve": True})
            await browser.frames.until("tool.started")
    if stage != "before_ready":
        assert len(server.connections) == 1
        await browser.drop()
    took = await wait_upstream_closed(server, 1.0)
    assert took < 1.0
    await browser.close()
    conversation = await latest_conversation()
    assert conversation.end_reason == "client_disconnected"
    if stage == "during_tool_run":
        # The cancelled tool never answered upstream.
        assert not [
            e
            for e in upstream_events(server, "conversation.item.create")
            if e["item"]["type"] == "function_call_output"
        ]


async def test_upstream_failure_sends_error_then_end_then_close(server: FakeRealtimeServer) -> None:
    await make_channel("fragile")
    browser = Browser("fragile", app=NO_RECONNECT_APP)
    ready = await browser.open()
    await server.drop_connection()
    error = await browser.error()
    assert error["code"] in ("connection_lost", "upstream_error")
    end = await browser.frames.until("session.end")
    assert end["reason"] == "upstream_error"
    assert (await browser.frames.until_closed()).code == 4502
    types = browser.frames.types()
    assert types.index("error") < types.index("session.end") < types.index("<close 4502>")
    assert (await conversation_row(ready["conversation_id"])).end_reason == "upstream_error"
    await browser.close()


async def test_unreachable_upstream_is_reported_and_finalised(
    server: FakeRealtimeServer,
    settings: Any,
    new_browser: Any,
) -> None:
    await make_channel("nowhere")
    await server.close()
    # Port 9 (discard) has no listener on the test machines: the connection is refused at once.
    settings.REALTIME_AGENTS = {
        **settings.REALTIME_AGENTS,
        "OPENAI_REALTIME_URL": "ws://127.0.0.1:9/v1/realtime",
    }
    browser = new_browser("nowhere")
    await browser.connect()
    error = await browser.error()
    assert error["code"] == "upstream_unavailable"
    assert (await browser.frames.until("session.end"))["reason"] == "upstream_error"
    assert (await browser.frames.until_closed()).code == 4502
    assert (await latest_conversation()).end_reason == "upstream_error"
    await browser.close()


async def test_maximum_session_length(server: FakeRealtimeServer, new_browser: Any) -> None:
    await make_channel("short", max_session_seconds=1)
    browser = new_browser("short")
    ready = await browser.open()
    loop = asyncio.get_running_loop()
    started = loop.time()
    end = await browser.frames.until("session.end", timeout=3)
    assert end["reason"] == "max_duration"
    assert 0.9 <= loop.time() - started < 2.0
    assert (await browser.frames.until_closed()).code == 4408
    await wait_upstream_closed(server, 1.0)
    assert (await conversation_row(ready["conversation_id"])).end_reason == "max_duration"
    await browser.close()


# -- helpers -----------------------------------------------------------------------------------


async def sync(function: Any) -> Any:
    """Run a row-building function in Django's database thread."""
    from asgiref.sync import sync_to_async

    return await sync_to_async(function)()


async def sync_list(queryset: Any) -> list[Any]:
    """Evaluate a queryset in Django's database thread."""
    return await sync(lambda: list(queryset))


async def make_tool(name: str, *, function: str = "toolapp_echo", **fields: Any) -> Any:
    """A Python tool row."""
    return await sync(lambda: rows.python_tool(name, function, **fields))


async def latest_conversation() -> Any:
    """The newest conversation, once it is finalised (bounded wait)."""
    from realtime_agents.models import Conversation

    newest = await sync(lambda: Conversation.objects.order_by("-id").first())
    assert newest is not None
    return await conversation_row(str(newest.public_id))


async def wait_upstream_closed_count(server: FakeRealtimeServer, count: int, timeout: float = 2.0) -> None:
    """Wait until the fake server has at most `count` open connections."""
    async with asyncio.timeout(timeout):
        while len(server.connections) > count:
            await asyncio.sleep(0.01)


async def test_a_consumer_the_server_cancels_still_finalises_its_conversation(server: FakeRealtimeServer) -> None:
    # Daphne cancels an application whose disconnect message waits behind a backlog of frames.
    await make_channel("cancelled")
    browser = Browser("cancelled")
    ready = await browser.open()
    server.add_response(ScriptedResponse(transcript="A long answer " * 20, pace=1.0))
    await browser.send({"type": "text", "text": "talk"})
    await browser.frames.until(lambda f: isinstance(f, bytes))
    browser.communicator.future.cancel()
    took = await wait_upstream_closed(server, 2.0)
    assert took < 2.0
    row = await conversation_row(ready["conversation_id"], timeout=5)
    assert row.end_reason == "client_disconnected" and row.ended_at is not None
