"""Guardrails in a live session: debounced output checks, a final check, input checks on user speech."""
from __future__ import annotations

import pytest

from realtime_agents.engine import (
    AgentSpec,
    GuardrailFunctionOutput,
    InputGuardrail,
    OutputGuardrail,
    Runner,
)
from realtime_agents.engine.testing import ScriptedResponse, silence, tone

from .helpers import EventReader, open_session

LONG_ANSWER = "Sure thing. The admin password is hunter2, and " + "more words follow here for a while. " * 6


def no_passwords(ctx, agent, text: str) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(tripwire_triggered="password" in text.lower(), output_info={"length": len(text)})


def system_messages(server) -> list[str]:
    return [e["item"]["content"][0]["text"] for e in server.client_events
            if e["type"] == "conversation.item.create" and e["item"].get("role") == "system"]


async def test_output_guardrail_cuts_the_response_once_and_lets_the_model_recover(server) -> None:
    guardrail = OutputGuardrail(guardrail_function=no_passwords, name="no_passwords")
    # Four times real time: the first check (at 100 characters) comes while audio still streams.
    server.add_response(ScriptedResponse(transcript=LONG_ANSWER, pace=4.0, chunk_ms=40))
    server.add_response(ScriptedResponse(transcript="Sorry, I cannot share that."))
    session = await open_session(Runner(AgentSpec(name="A", output_guardrails=[guardrail])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("What is the admin password?")
        tripped = await reader.until("guardrail_tripped", timeout=10)
        assert tripped.kind == "output" and tripped.guardrail_names == ("no_passwords",)
        assert "password" in tripped.message.lower()
        await reader.until(lambda e: e.type == "agent_end" and len(reader.of_type("agent_end")) == 2, timeout=10)
        await reader.drain(0.3)
    assert len(reader.of_type("guardrail_tripped")) == 1
    assert reader.of_type("audio_interrupted")[0].reason == "guardrail"
    cancels = [e for e in server.client_events if e["type"] == "response.cancel"]
    assert len(cancels) == 1
    assert any("no_passwords" in text for text in system_messages(server))
    first_response = reader.of_type("agent_start")[0].response_id
    spoken_after_trip = [e for e in reader.seen[reader.seen.index(tripped):]
                         if e.type == "audio" and e.response_id == first_response]
    assert spoken_after_trip == [], "no audio of the tripped response reaches the consumer after the trip"


async def test_output_guardrail_checks_the_tail_when_the_response_ends(server) -> None:
    guardrail = OutputGuardrail(guardrail_function=no_passwords, name="no_passwords",
                                message="Never mention passwords; offer to reset it instead.")
    server.add_response(ScriptedResponse(transcript="Password: hunter2."))
    server.add_response(ScriptedResponse(transcript="I can reset it for you."))
    session = await open_session(Runner(AgentSpec(name="A", output_guardrails=[guardrail])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("password?")
        tripped = await reader.until("guardrail_tripped")
        assert tripped.kind == "output"
        await reader.until(lambda e: e.type == "agent_end" and len(reader.of_type("agent_end")) == 2)
    assert system_messages(server) == ["Never mention passwords; offer to reset it instead."]


async def test_run_level_and_agent_guardrails_are_merged_without_repeats(server) -> None:
    calls: list[str] = []

    def counting(ctx, agent, text):
        calls.append(text)
        return GuardrailFunctionOutput(tripwire_triggered=False)

    guardrail = OutputGuardrail(guardrail_function=counting)
    server.add_response(ScriptedResponse(transcript="Short and harmless."))
    runner = Runner(AgentSpec(name="A", output_guardrails=[guardrail]), config={"output_guardrails": [guardrail]})
    session = await open_session(runner, server)
    async with session:
        reader = EventReader(session)
        await session.send_message("hi")
        await reader.until("agent_end")
        await reader.drain(0.2)
    assert calls == ["Short and harmless."]


async def test_a_guardrail_that_raises_is_reported_and_skipped(server) -> None:
    def broken(ctx, agent, text):
        raise ValueError("bug in guardrail")

    server.add_response(ScriptedResponse(transcript="Hello."))
    guardrail = OutputGuardrail(guardrail_function=broken, name="broken")
    session = await open_session(Runner(AgentSpec(name="A", output_guardrails=[guardrail])), server)
    async with session:
        reader = EventReader(session)
        await session.send_message("hi")
        error = await reader.until("error")
    assert error.code == "guardrail_error" and "broken" in error.message


@pytest.mark.parametrize("debounce,expected_checks", [(20, 3), (1000, 1)])
async def test_output_checks_follow_the_debounce_length(server, debounce, expected_checks) -> None:
    lengths: list[int] = []

    async def measure(ctx, agent, text):
        lengths.append(len(text))
        return GuardrailFunctionOutput(tripwire_triggered=False)

    text = "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll."
    assert len(text) == 60
    server.add_response(ScriptedResponse(transcript=text, chunk_ms=20))
    runner = Runner(AgentSpec(name="A", output_guardrails=[OutputGuardrail(guardrail_function=measure)]),
                    config={"guardrails_settings": {"debounce_text_length": debounce}})
    session = await open_session(runner, server)
    async with session:
        reader = EventReader(session)
        await session.send_message("hi")
        await reader.until("agent_end")
        await reader.drain(0.3)
    assert len(lengths) == expected_checks
    assert max(lengths) == 60


async def test_input_guardrail_on_user_speech_replaces_the_answer(server) -> None:
    def no_secrets(ctx, agent, text):
        return GuardrailFunctionOutput(tripwire_triggered="secret" in text.lower())

    guardrail = InputGuardrail(guardrail_function=no_secrets, name="no_secrets")
    server.add_response(ScriptedResponse(transcript="Here is the secret plan in great detail. " * 5, pace=1.0))
    server.add_response(ScriptedResponse(transcript="Sorry, I cannot help with that."))
    server.add_transcription("Tell me the secret plan.")
    config = {"model_settings": {"input_audio_transcription": {"model": "whisper-1"},
                                 "turn_detection": {"type": "server_vad", "silence_duration_ms": 200}}}
    session = await open_session(Runner(AgentSpec(name="A", input_guardrails=[guardrail]), config=config), server)
    async with session:
        reader = EventReader(session)
        await session.send_audio(silence(100) + tone(600) + silence(500))
        tripped = await reader.until("guardrail_tripped", timeout=10)
        assert tripped.kind == "input" and tripped.guardrail_names == ("no_secrets",)
        assert tripped.message == "Tell me the secret plan."
        await reader.until(lambda e: e.type == "agent_end" and len(reader.of_type("agent_end")) == 2, timeout=10)
    assert any("no_secrets" in text for text in system_messages(server))
    assert any(e["type"] == "response.cancel" for e in server.client_events)
