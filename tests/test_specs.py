"""specs.py: rows become engine agents; fixed query counts; bad rows raise SpecError naming the row."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from realtime_agents.engine.agent import AgentSpec, RunContext
from realtime_agents.engine.handoffs import Handoff as EngineHandoff
from realtime_agents.engine.tools import ToolContext
from realtime_agents.models import Agent, Channel, Guardrail, Handoff, Tool
from realtime_agents.specs import (
    ChannelUnavailable,
    SpecError,
    aload_channel,
    load_channel,
    reachable_agent_ids,
)
from tests import rows
from tests.httpserver import running_server
from tests.rows import close_db_threads  # noqa: F401,E402  (fixture)

pytestmark = pytest.mark.django_db


def build_graph(size: int) -> None:
    """A hub with `size` spokes that each hand back, tools and guardrails on every agent."""
    hub = rows.agent("hub")
    tool = rows.python_tool("echo")
    guard = rows.phrases_guardrail("guard")
    hub.tools.add(tool, rows.python_tool("hub_only", "toolapp_slow"))
    hub.guardrails.add(guard)
    for index in range(size):
        spoke = rows.agent(f"spoke-{index}")
        spoke.tools.add(tool)
        spoke.guardrails.add(guard, rows.phrases_guardrail(f"guard-{index}", applies_to_input=True))
        rows.handoff(hub, spoke)
        rows.handoff(spoke, hub)
    rows.channel("main", hub)
    # Not reachable from the channel: must not be loaded.
    island = rows.agent("island")
    island.tools.add(rows.python_tool("broken", "not_registered"))


@pytest.mark.parametrize("size", [1, 40])
def test_query_count_does_not_depend_on_graph_size(size: int, django_assert_max_num_queries: object) -> None:
    build_graph(size)
    with django_assert_max_num_queries(6):  # type: ignore[operator]
        loaded = load_channel("main")
    assert len(loaded.agents) == size + 1
    assert "island" not in loaded.agents


def test_small_and_large_graphs_take_the_same_queries() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (2, 30):
        Channel.objects.all().delete()
        Agent.objects.all().delete()
        Tool.objects.all().delete()
        Guardrail.objects.all().delete()
        build_graph(size)
        with CaptureQueriesContext(connection) as captured:
            load_channel("main")
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_cycles_link_the_same_agent_objects() -> None:
    concierge, billing = (
        rows.agent("concierge"),
        rows.agent("billing", handoff_description="Bills and refunds."),
    )
    rows.handoff(concierge, billing)
    rows.handoff(
        billing, concierge, tool_name_override="back_to_concierge", tool_description_override="Go back."
    )
    rows.channel("demo", concierge, voice="marin")
    loaded = load_channel("demo")
    start = loaded.starting_agent
    assert start is loaded.agents["concierge"]
    [to_billing] = start.handoffs
    assert isinstance(to_billing, EngineHandoff)
    assert to_billing.tool_name == "transfer_to_billing"
    assert "Bills and refunds." in to_billing.tool_description
    [back] = to_billing.agent.handoffs
    assert back.tool_name == "back_to_concierge" and back.tool_description == "Go back."
    assert back.agent is start
    assert loaded.model_settings == {"model_name": "gpt-realtime", "voice": "marin"}
    assert start.metadata == {"agent_id": concierge.pk, "slug": "concierge"}


def test_loaded_channel_carries_limits_and_settings_defaults() -> None:
    a = rows.agent("a", voice="cedar")
    rows.channel(
        "c",
        a,
        allowed_origins="https://example.com\n",
        greeting="Say hi",
        show_tool_arguments=True,
        retention_days=30,
        max_session_seconds=120,
    )
    with override_settings(REALTIME_AGENTS={"MAX_SESSIONS_PER_CHANNEL": 7, "DEFAULT_TRANSPORT": "offline"}):
        loaded = load_channel("c")
    assert loaded.allowed_origins == ("https://example.com",)
    assert (loaded.greeting, loaded.show_tool_arguments, loaded.retention_days) == ("Say hi", True, 30)
    assert (loaded.max_session_seconds, loaded.max_concurrent_sessions) == (120, 7)
    assert loaded.transport == "offline" and loaded.kind == "web"
    assert loaded.starting_agent.voice == "cedar"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_async_variant_loads_the_same_graph() -> None:
    from asgiref.sync import sync_to_async

    @sync_to_async
    def setup() -> None:
        a, b = rows.agent("a"), rows.agent("b")
        rows.handoff(a, b)
        rows.channel("c", a)

    await setup()
    loaded = await aload_channel("c")
    assert sorted(loaded.agents) == ["a", "b"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_python_tools_resolve_through_the_registry_with_row_overrides() -> None:
    from asgiref.sync import sync_to_async

    @sync_to_async
    def setup() -> None:
        a = rows.agent("a")
        a.tools.add(
            rows.python_tool(
                "say_twice",
                "toolapp_echo",
                description="Say it twice.",
                needs_approval=True,
                starts_response=False,
                timeout_seconds=4,
            )
        )
        a.tools.add(rows.python_tool("slow", "toolapp_slow"))
        a.tools.add(rows.python_tool("off", "toolapp_echo", enabled=False))
        rows.channel("c", a)

    await setup()
    agent = (await aload_channel("c")).starting_agent
    say_twice, slow = agent.tools
    assert (say_twice.name, say_twice.description, say_twice.needs_approval) == (
        "say_twice",
        "Say it twice.",
        True,
    )
    assert (say_twice.starts_response, say_twice.timeout) == (False, 4)
    assert say_twice.metadata["function"] == "toolapp_echo"
    # Unset row fields keep what the code registered.
    assert (slow.needs_approval, slow.starts_response, slow.timeout) == (True, False, 3.0)
    ctx = ToolContext(run_context=RunContext(), call_id="c1", tool_name="say_twice", agent=agent)
    assert await say_twice.on_invoke_tool(ctx, json.dumps({"text": "hi", "times": 2})) == "hi hi"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_guardrails_become_engine_guardrails() -> None:
    from asgiref.sync import sync_to_async

    @sync_to_async
    def setup() -> None:
        a = rows.agent("a")
        a.guardrails.add(
            rows.phrases_guardrail(
                "phrases", "Refund  Guaranteed\nfree money", message="I can't promise that."
            ),
            Guardrail.objects.create(
                name="regex",
                kind="regex",
                pattern=r"\d{4}-\d{4}",
                applies_to_input=True,
                applies_to_output=False,
            ),
            Guardrail.objects.create(
                name="check", kind="python", python_check="toolapp_no_banana", debounce_text_length=20
            ),
            Guardrail.objects.create(name="off", kind="regex", pattern="x", enabled=False),
        )
        rows.channel("c", a)

    await setup()
    agent = (await aload_channel("c")).starting_agent
    assert [g.name for g in agent.output_guardrails] == ["check", "phrases"]
    assert [g.name for g in agent.input_guardrails] == ["regex"]
    check, phrases = agent.output_guardrails
    assert (check.debounce_text_length, phrases.debounce_text_length) == (20, 100)
    assert phrases.message == "I can't promise that."
    ctx = RunContext()
    assert (await phrases.check(ctx, agent, "Your refund\nguaranteed today")).tripwire_triggered is True
    assert (await phrases.check(ctx, agent, "No promises")).tripwire_triggered is False
    assert (await agent.input_guardrails[0].check(ctx, agent, "card 1234-5678")).tripwire_triggered is True
    assert (await check.check(ctx, agent, "I love BANANAS")).tripwire_triggered is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_http_tools_resolve_secrets_from_settings_at_call_time() -> None:
    from asgiref.sync import sync_to_async

    with running_server() as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/weather"
        settings = {"SECRETS": {"WEATHER_KEY": "k-123"}, "HTTP_TOOLS_ALLOW_PRIVATE_NETWORKS": True}
        with override_settings(REALTIME_AGENTS=settings):

            @sync_to_async
            def setup() -> None:
                a = rows.agent("a")
                a.tools.add(
                    rows.http_tool(
                        "weather", url, http_headers={"Authorization": "Bearer {secret:WEATHER_KEY}"}
                    )
                )
                rows.channel("c", a)

            await setup()
            agent = (await aload_channel("c")).starting_agent
            [weather] = agent.tools
            ctx = ToolContext(run_context=RunContext(), call_id="c1", tool_name="weather", agent=agent)
            echo = json.loads(await weather.on_invoke_tool(ctx, json.dumps({"city": "Oslo"})))
        assert echo["headers"]["authorization"] == "Bearer k-123"
        assert echo["query"] == {"city": "Oslo"}
        with override_settings(REALTIME_AGENTS={"SECRETS": {"WEATHER_KEY": "k-123"}}):
            agent = (await aload_channel("c")).starting_agent
            out = json.loads(await agent.tools[0].on_invoke_tool(ctx, json.dumps({"city": "Oslo"})))
        assert "private" in out["error"]


def test_reachability_stops_at_inactive_agents() -> None:
    assert reachable_agent_ids(1, [(1, 2, True), (2, 3, False), (3, 4, False), (2, 1, True)]) == [1, 2, 3]


def test_unknown_channel_and_inactive_channel() -> None:
    with pytest.raises(ChannelUnavailable, match="no such channel"):
        load_channel("missing")
    rows.channel("off", rows.agent("a"), is_active=False)
    with pytest.raises(ChannelUnavailable, match=r"Channel 'off' \(pk=\d+\): the channel is inactive"):
        load_channel("off")
    assert load_channel("off", require_active=False).slug == "off"


def test_channel_without_starting_agent() -> None:
    channel = rows.channel("empty", None)
    with pytest.raises(SpecError, match="no starting agent") as info:
        load_channel("empty")
    assert (info.value.model, info.value.pk) == ("Channel", channel.pk)


def test_inactive_starting_agent() -> None:
    rows.channel("c", rows.agent("a", is_active=False))
    with pytest.raises(SpecError, match="starting agent is inactive"):
        load_channel("c")


def test_unknown_registered_function_names_the_tool_row() -> None:
    a = rows.agent("a")
    tool = rows.python_tool("ghost", "no_such_function")
    a.tools.add(tool)
    rows.channel("c", a)
    with pytest.raises(
        SpecError, match=rf"Tool 'ghost' \(pk={tool.pk}\): no Python tool is registered"
    ) as info:
        load_channel("c")
    assert info.value.model == "Tool" and info.value.name == "ghost"


def test_inactive_handoff_target_names_the_handoff_row() -> None:
    a, b = rows.agent("a"), rows.agent("b")
    row = rows.handoff(a, b)
    Agent.objects.filter(pk=b.pk).update(is_active=False)
    rows.channel("c", a)
    with pytest.raises(SpecError, match=rf"Handoff 'A → B' \(pk={row.pk}\): the target agent is inactive"):
        load_channel("c")


def test_duplicate_tool_names_name_the_agent_row() -> None:
    a, b = rows.agent("a"), rows.agent("b")
    a.tools.add(rows.python_tool("transfer_to_b"))
    rows.handoff(a, b)
    rows.channel("c", a)
    with pytest.raises(SpecError, match=rf"Agent 'A' \(pk={a.pk}\): duplicate tool names transfer_to_b"):
        load_channel("c")


def test_two_handoffs_with_the_same_override_clash() -> None:
    a, b, c = rows.agent("a"), rows.agent("b"), rows.agent("c")
    rows.handoff(a, b, tool_name_override="transfer")
    rows.handoff(a, c, tool_name_override="transfer")
    rows.channel("c", a)
    with pytest.raises(SpecError, match="duplicate tool names transfer"):
        load_channel("c")


def test_bad_regex_names_the_guardrail_row() -> None:
    a = rows.agent("a")
    guardrail = Guardrail.objects.create(name="broken", kind="regex", pattern="(")
    a.guardrails.add(guardrail)
    rows.channel("c", a)
    with pytest.raises(SpecError, match=rf"Guardrail 'broken' \(pk={guardrail.pk}\): bad regular expression"):
        load_channel("c")


def test_unknown_check_names_the_guardrail_row() -> None:
    a = rows.agent("a")
    a.guardrails.add(Guardrail.objects.create(name="ghost", kind="python", python_check="nope"))
    rows.channel("c", a)
    with pytest.raises(SpecError, match="Guardrail 'ghost'.*no guardrail check is registered as 'nope'"):
        load_channel("c")


def test_bad_schema_names_the_tool_row() -> None:
    a = rows.agent("a")
    a.tools.add(rows.http_tool("bad", "https://api.example.com/x", parameters_schema={"type": 12}))
    rows.channel("c", a)
    with pytest.raises(SpecError, match="Tool 'bad'.*not a valid JSON Schema"):
        load_channel("c")


def test_bad_tool_name_and_self_handoff_rows_are_refused() -> None:
    a = rows.agent("a")
    a.tools.add(rows.python_tool("bad-name"))
    rows.channel("c", a)
    with pytest.raises(SpecError, match="Tool 'bad-name'.*not a valid function name"):
        load_channel("c")


def test_bad_model_settings_name_the_channel() -> None:
    a = rows.agent("a")
    rows.channel("c", a, speed=9.0)
    with pytest.raises(SpecError, match="Channel 'c'.*bad model settings.*speed"):
        load_channel("c")


def test_engine_agents_are_plain_agent_specs() -> None:
    rows.channel("c", rows.agent("a"))
    assert isinstance(load_channel("c").starting_agent, AgentSpec)
    assert Handoff.objects.count() == 0
