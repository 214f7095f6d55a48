"""Handoffs in a live session: the transfer, the new agent's configuration, what must survive it."""
from __future__ import annotations

import json

import pytest

from realtime_agents.engine import AgentSpec, Runner, SessionError, function_tool, realtime_handoff
from realtime_agents.engine.testing import FunctionCall, ScriptedResponse

from .helpers import EventReader, open_session


@function_tool
def lookup_invoice(number: str) -> str:
    """Look up an invoice."""
    return f"Invoice {number}: paid."


@function_tool
def current_time() -> str:
    """The time."""
    return "12:00"


def agents() -> tuple[AgentSpec, AgentSpec]:
    concierge = AgentSpec(name="Concierge", instructions="Triage.", tools=[current_time])
    billing = AgentSpec(name="Billing", instructions="You handle billing.", tools=[lookup_invoice],
                        handoff_description="Invoices and refunds.")
    concierge.handoffs.append(billing)
    billing.handoffs.append(realtime_handoff(concierge, tool_name_override="back_to_concierge"))
    return concierge, billing


def session_updates(server) -> list[dict]:
    return [e["session"] for e in server.client_events if e["type"] == "session.update"]


async def test_handoff_switches_agent_and_the_new_agent_answers(server) -> None:
    concierge, billing = agents()
    server.add_response(ScriptedResponse(transcript="Let me transfer you.",
                                         function_calls=[FunctionCall(name="transfer_to_billing", call_id="h1")]))
    server.add_response(ScriptedResponse(transcript="Billing here, how can I help?"))
    session = await open_session(Runner(concierge), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("I have a question about my invoice.")
        handoff = await reader.until("handoff")
        assert handoff.from_agent is concierge and handoff.to_agent is billing
        await reader.until(lambda e: e.type == "agent_start" and e.agent is billing)
        await reader.until(lambda e: e.type == "agent_end" and e.agent is billing)
        assert session.current_agent is billing
    first_end = reader.of_type("agent_end")[0]
    assert first_end.agent is concierge, "agent_end names the agent that started the response"
    initial, after = session_updates(server)[:2]
    assert [t["name"] for t in initial["tools"]] == ["current_time", "transfer_to_billing"]
    assert "Invoices and refunds." in initial["tools"][1]["description"]
    assert after["instructions"] == "You handle billing."
    assert [t["name"] for t in after["tools"]] == ["lookup_invoice", "back_to_concierge"]
    output = next(e["item"] for e in server.client_events
                  if e["type"] == "conversation.item.create" and e["item"].get("type") == "function_call_output")
    assert json.loads(output["output"]) == {"assistant": "Billing"}
    update_index = next(i for i, e in enumerate(server.client_events) if e["type"] == "session.update" and i > 0)
    output_index = server.client_events.index(next(e for e in server.client_events if e.get("item", {}).get("call_id") == "h1"))
    assert update_index < output_index, "the new configuration is in place before the model answers"


async def test_handoff_keeps_formats_transcription_and_turn_detection_and_never_resends_the_voice(server) -> None:
    concierge, billing = agents()
    server.add_response(ScriptedResponse(transcript="Transferring.",
                                         function_calls=[FunctionCall(name="transfer_to_billing", call_id="h1")]))
    server.add_response(ScriptedResponse(transcript="Billing."))
    config = {"model_settings": {
        "voice": "verse", "input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw",
        "input_audio_transcription": {"model": "whisper-1", "language": "en"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 400, "interrupt_response": True},
    }}
    session = await open_session(Runner(concierge, config=config), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("billing please")
        await reader.until(lambda e: e.type == "agent_end" and e.agent is billing)
    initial, after = session_updates(server)[:2]
    assert initial["audio"]["output"]["voice"] == "verse"
    assert "voice" not in after["audio"].get("output", {})
    for key in ("format", "transcription", "turn_detection"):
        assert after["audio"]["input"][key] == initial["audio"]["input"][key]
    assert after["audio"]["output"]["format"] == {"type": "audio/pcmu"}


async def test_agent_voice_is_used_before_any_audio(server) -> None:
    agent = AgentSpec(name="A", voice="marin")
    session = await open_session(Runner(agent, config={"model_settings": {"voice": "alloy"}}), server)
    async with session:
        await server.wait_for_client_event("session.update", timeout=5)
    assert session_updates(server)[0]["audio"]["output"]["voice"] == "marin"


async def test_callable_instructions_are_evaluated_on_each_transition(server) -> None:
    calls: list[str] = []

    async def instructions(ctx, agent) -> str:
        calls.append(agent.name)
        return f"You are {agent.name}; user {ctx.context['user']}."

    concierge = AgentSpec(name="Concierge", instructions=instructions)
    billing = AgentSpec(name="Billing", instructions=instructions)
    concierge.handoffs.append(billing)
    server.add_response(ScriptedResponse(function_calls=[FunctionCall(name="transfer_to_billing", call_id="h1")]))
    server.add_response(ScriptedResponse(transcript="Billing."))
    session = await Runner(concierge).run(context={"user": "ann"},
                                          model_config={"api_key": "test-key", "url": server.url})
    async with session:
        reader = EventReader(session)
        await session.send_message("billing")
        await reader.until(lambda e: e.type == "agent_end" and e.agent is billing)
    assert calls[:2] == ["Concierge", "Billing"]
    assert session_updates(server)[1]["instructions"] == "You are Billing; user ann."


async def test_update_agent_sends_the_new_configuration(server) -> None:
    concierge, billing = agents()
    session = await open_session(Runner(concierge), server)
    async with session:
        await session.update_agent(billing)
        updates = await server.wait_for_client_event("session.update", count=2, timeout=5)
    assert updates[1]["session"]["instructions"] == "You handle billing."
    assert session.current_agent is billing


async def test_duplicate_tool_and_handoff_names_are_refused(server) -> None:
    @function_tool(name_override="transfer_to_billing")
    def clash() -> str:
        """Clash."""
        return ""

    billing = AgentSpec(name="Billing")
    agent = AgentSpec(name="A", tools=[clash], handoffs=[billing])
    session = await Runner(agent).run(model_config={"api_key": "test-key", "url": server.url})
    with pytest.raises(SessionError, match="transfer_to_billing"):
        await session.enter()


async def test_disabled_handoffs_are_hidden(server) -> None:
    billing = AgentSpec(name="Billing")
    agent = AgentSpec(name="A", handoffs=[realtime_handoff(billing, is_enabled=lambda ctx, a: False)])
    session = await open_session(Runner(agent), server)
    async with session:
        await server.wait_for_client_event("session.update", timeout=5)
    assert session_updates(server)[0].get("tools", []) == []


async def test_handoff_callback_receives_validated_input(server) -> None:
    from pydantic import BaseModel

    class Reason(BaseModel):
        reason: str

    received: list[str] = []
    billing = AgentSpec(name="Billing")
    agent = AgentSpec(name="A", handoffs=[realtime_handoff(
        billing, on_handoff=lambda ctx, data: received.append(data.reason), input_type=Reason)])
    server.add_response(ScriptedResponse(function_calls=[
        FunctionCall(name="transfer_to_billing", call_id="h1", arguments={"reason": "refund"})]))
    server.add_response(ScriptedResponse(transcript="Billing."))
    session = await open_session(Runner(agent), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("refund")
        await reader.until("handoff")
    assert received == ["refund"]
