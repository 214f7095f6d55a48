"""Tool calls in a live session: concurrency, dedupe, errors, timeouts, approvals, close."""
from __future__ import annotations

import asyncio
import json

import pytest

from realtime_agents.engine import AgentSpec, Runner, ToolContext, function_tool
from realtime_agents.engine.testing import FunctionCall, ScriptedResponse

from .helpers import EventReader, open_session


def outputs(server) -> dict[str, str]:
    """Every function_call_output the server received, by call id."""
    found = {}
    for event in server.client_events:
        item = event.get("item") or {}
        if event["type"] == "conversation.item.create" and item.get("type") == "function_call_output":
            assert item["call_id"] not in found, "an output was sent twice"
            found[item["call_id"]] = item["output"]
    return found


def call(name: str, call_id: str, **arguments) -> FunctionCall:
    return FunctionCall(name=name, arguments=arguments, call_id=call_id)


async def test_tool_runs_and_its_output_starts_a_follow_up_response(server) -> None:
    @function_tool
    def get_weather(city: str) -> str:
        """Get current weather for a city."""
        return f"The weather in {city} is sunny, 72F."

    server.add_response(ScriptedResponse(function_calls=[call("get_weather", "call_w", city="Paris")]))
    server.add_response(ScriptedResponse(transcript="It is sunny in Paris."))
    agent = AgentSpec(name="Assistant", instructions="You can answer weather questions.", tools=[get_weather])
    session = await open_session(Runner(agent), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("Weather in Paris?")
        start = await reader.until("tool_start")
        assert start.tool is get_weather and json.loads(start.arguments) == {"city": "Paris"}
        end = await reader.until("tool_end")
        assert end.output == "The weather in Paris is sunny, 72F." and end.status == "ok"
        await reader.until(lambda e: e.type == "agent_end" and reader.of_type("agent_start")[-1].response_id == e.response_id
                           and len(reader.of_type("agent_start")) == 2)
    assert outputs(server) == {"call_w": "The weather in Paris is sunny, 72F."}
    tool_item = next(i for i in session.history if i.type == "function_call")
    assert tool_item.output == "The weather in Paris is sunny, 72F." and tool_item.status == "completed"
    assert [e["type"] for e in server.client_events].count("response.create") == 2


async def test_tools_run_concurrently(server) -> None:
    both_started = asyncio.Event()
    started: list[str] = []

    @function_tool
    async def slow_a() -> str:
        """A."""
        started.append("a")
        if len(started) == 2:
            both_started.set()
        async with asyncio.timeout(3):
            await both_started.wait()
        return "a done"

    @function_tool
    async def slow_b() -> str:
        """B."""
        started.append("b")
        if len(started) == 2:
            both_started.set()
        async with asyncio.timeout(3):
            await both_started.wait()
        return "b done"

    server.add_response(ScriptedResponse(function_calls=[call("slow_a", "c1"), call("slow_b", "c2")]))
    server.add_response(ScriptedResponse(transcript="Both done."))
    session = await open_session(Runner(AgentSpec(name="A", tools=[slow_a, slow_b])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("go")
        await reader.until(lambda e: e.type == "tool_end" and len(reader.of_type("tool_end")) == 2)
    assert outputs(server) == {"c1": "a done", "c2": "b done"}


async def test_duplicate_call_ids_run_once(server) -> None:
    runs: list[str] = []

    @function_tool
    def count() -> str:
        """Count."""
        runs.append("x")
        return "counted"

    server.add_response(ScriptedResponse(function_calls=[call("count", "dup")]))
    session = await open_session(Runner(AgentSpec(name="A", tools=[count])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("go")
        await reader.until("tool_end")
        item = {"id": "item_dup", "type": "function_call", "call_id": "dup", "name": "count",
                "arguments": "{}", "status": "completed", "object": "realtime.item"}
        await server.send_server_event({"type": "response.output_item.done", "response_id": "resp_x",
                                        "output_index": 0, "item": item})
        await reader.drain(0.3)
    assert runs == ["x"]
    assert list(outputs(server)) == ["dup"]


async def test_unknown_tool_gets_a_model_visible_answer(server) -> None:
    server.add_response(ScriptedResponse(function_calls=[call("does_not_exist", "c9")]))
    server.add_response(ScriptedResponse(transcript="Sorry, I cannot do that."))
    session = await open_session(Runner(AgentSpec(name="A")), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("go")
        error = await reader.until("error")
        assert error.code == "tool_not_found"
        end = await reader.until("tool_end")
        assert end.status == "not_found"
        await reader.until(lambda e: e.type == "agent_start" and len(reader.of_type("agent_start")) == 2)
    assert "not found" in outputs(server)["c9"]


async def test_a_failing_tool_is_reported_and_the_session_goes_on(server) -> None:
    @function_tool
    def explode() -> str:
        """Fails."""
        raise RuntimeError("database is down")

    server.add_response(ScriptedResponse(function_calls=[call("explode", "c1")]))
    server.add_response(ScriptedResponse(transcript="That did not work."))
    server.add_response(ScriptedResponse(transcript="Still here."))
    session = await open_session(Runner(AgentSpec(name="A", tools=[explode])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("go")
        error = await reader.until("error")
        assert error.code == "tool_error" and "RuntimeError" in error.message
        end = await reader.until("tool_end")
        assert end.status == "error"
        await reader.until(lambda e: e.type == "agent_end" and len(reader.of_type("agent_end")) == 2)
        await session.send_message("Hello?")
        await reader.until(lambda e: e.type == "agent_end" and len(reader.of_type("agent_end")) == 3)
    assert "RuntimeError" in outputs(server)["c1"]
    assert "database is down" not in outputs(server)["c1"], "exception text is not for the model"


async def test_a_slow_tool_times_out_with_a_model_visible_output(server) -> None:
    @function_tool(timeout=0.2)
    async def slow() -> str:
        """Slow."""
        await asyncio.sleep(5)
        return "never"

    server.add_response(ScriptedResponse(function_calls=[call("slow", "c1")]))
    session = await open_session(Runner(AgentSpec(name="A", tools=[slow])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("go")
        end = await reader.until("tool_end")
    assert end.status == "timeout"
    assert "timed out" in outputs(server)["c1"]


async def test_invalid_arguments_never_reach_the_function(server) -> None:
    calls: list[int] = []

    @function_tool
    def book(guests: int) -> str:
        """Book."""
        calls.append(guests)
        return "booked"

    server.add_response(ScriptedResponse(function_calls=[call("book", "c1", guests="many")]))
    session = await open_session(Runner(AgentSpec(name="A", tools=[book])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("go")
        end = await reader.until("tool_end")
    assert end.status == "invalid_arguments" and calls == []
    assert "guests" in outputs(server)["c1"]


def approval_tool(runs: list[str]):
    @function_tool(needs_approval=True)
    def book_table(guests: int) -> str:
        """Book a table."""
        runs.append(f"booked {guests}")
        return f"booked for {guests}"

    return book_table


async def test_approval_approve_runs_the_tool(server) -> None:
    runs: list[str] = []
    server.add_response(ScriptedResponse(function_calls=[call("book_table", "c1", guests=2)]))
    session = await open_session(Runner(AgentSpec(name="A", tools=[approval_tool(runs)])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("book")
        request = await reader.until("tool_approval_required")
        assert request.call_id == "c1" and runs == []
        assert await session.approve_tool_call("c1") is True
        end = await reader.until("tool_end")
    assert runs == ["booked 2"] and end.approval == "approved"
    assert await session.approve_tool_call("unknown") is False


async def test_approval_reject_sends_the_message_and_skips_the_tool(server) -> None:
    runs: list[str] = []
    server.add_response(ScriptedResponse(function_calls=[call("book_table", "c1", guests=2)]))
    session = await open_session(Runner(AgentSpec(name="A", tools=[approval_tool(runs)])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("book")
        await reader.until("tool_approval_required")
        await session.reject_tool_call("c1", message="The manager said no.")
        end = await reader.until("tool_end")
    assert runs == [] and end.status == "rejected" and end.approval == "rejected"
    assert outputs(server)["c1"] == "The manager said no."


async def test_always_decisions_are_sticky_for_the_tool(server) -> None:
    runs: list[str] = []
    server.add_response(ScriptedResponse(function_calls=[call("book_table", "c1", guests=2)]))
    server.add_response(ScriptedResponse(function_calls=[call("book_table", "c2", guests=4)]))
    session = await open_session(Runner(AgentSpec(name="A", tools=[approval_tool(runs)])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("book")
        await reader.until("tool_approval_required")
        await session.approve_tool_call("c1", always=True)
        await reader.until(lambda e: e.type == "tool_end" and len(reader.of_type("tool_end")) == 2, timeout=8)
    assert runs == ["booked 2", "booked 4"]
    assert len(reader.of_type("tool_approval_required")) == 1


async def test_needs_approval_predicate_sees_the_arguments(server) -> None:
    runs: list[str] = []

    @function_tool(needs_approval=lambda ctx, args: args["guests"] > 6)
    def book_table(guests: int) -> str:
        """Book."""
        runs.append(str(guests))
        return "ok"

    server.add_response(ScriptedResponse(function_calls=[call("book_table", "c1", guests=2)]))
    session = await open_session(Runner(AgentSpec(name="A", tools=[book_table])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("book")
        await reader.until("tool_end")
    assert runs == ["2"] and reader.of_type("tool_approval_required") == []


async def test_a_tool_running_at_close_is_cancelled_and_sends_nothing(server) -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    @function_tool
    async def forever(ctx: ToolContext) -> str:
        """Never ends."""
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    server.add_response(ScriptedResponse(function_calls=[call("forever", "c1")]))
    session = await open_session(Runner(AgentSpec(name="A", tools=[forever])), server)
    async with session:
        await session.send_message("go")
        async with asyncio.timeout(5):
            await started.wait()
    async with asyncio.timeout(3):
        await cancelled.wait()
    assert outputs(server) == {}


async def test_starts_response_false_sends_the_output_without_a_response(server) -> None:
    @function_tool(starts_response=False)
    def note(text: str) -> str:
        """Take a note silently."""
        return "noted"

    server.add_response(ScriptedResponse(function_calls=[call("note", "c1", text="hi")]))
    session = await open_session(Runner(AgentSpec(name="A", tools=[note])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("note this")
        await reader.until("tool_end")
        await reader.drain(0.3)
    assert outputs(server) == {"c1": "noted"}
    assert [e["type"] for e in server.client_events].count("response.create") == 1


async def test_tool_context_carries_the_user_context(server) -> None:
    seen: list[object] = []

    @function_tool
    def whoami(ctx: ToolContext) -> str:
        """Who am I."""
        seen.append(ctx.context)
        return ctx.agent.name

    server.add_response(ScriptedResponse(function_calls=[call("whoami", "c1")]))
    runner = Runner(AgentSpec(name="Concierge", tools=[whoami]))
    session = await runner.run(context={"user": 7}, model_config={"api_key": "test-key", "url": server.url})
    async with session:
        reader = EventReader(session)
        await session.send_message("who")
        end = await reader.until("tool_end")
    assert seen == [{"user": 7}] and end.output == "Concierge"


@pytest.mark.parametrize("formatter_result", ["Custom: not allowed.", None])
async def test_tool_error_formatter_shapes_rejections(server, formatter_result) -> None:
    runs: list[str] = []
    server.add_response(ScriptedResponse(function_calls=[call("book_table", "c1", guests=2)]))
    runner = Runner(AgentSpec(name="A", tools=[approval_tool(runs)]),
                    config={"tool_error_formatter": lambda kind, name, detail: formatter_result})
    session = await open_session(runner, server)
    async with session:
        reader = EventReader(session)
        await session.send_message("book")
        await reader.until("tool_approval_required")
        await session.reject_tool_call("c1")
        await reader.until("tool_end")
    assert outputs(server)["c1"] == (formatter_result or "Tool execution was not approved.")
