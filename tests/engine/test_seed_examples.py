"""The anchor SDK's quickstart and guide examples, run unchanged but for the import path, against the fake server.

Each test reproduces one example's code as the seed documents write it (openai-agents-python
`docs/realtime/quickstart.md` and `docs/realtime/guide.md`, plus issue #3's seed snippet), with
`from agents.realtime import ...` / `from agents import ...` / `from agents.guardrail import ...`
replaced by `from realtime_agents.engine import ...`. Where an example leaves a branch to the
reader (`pass`, `...`), the test fills in only that branch to record what arrived. The fake server
scripts the model's side so every branch the example has is really exercised.

Examples that call `runner.run()` without a URL reach the engine's default endpoint; the
`default_endpoint` fixture points that endpoint at the fake server and sets `OPENAI_API_KEY`, as
a user's environment would, so the example text itself stays unchanged.
"""
from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from realtime_agents.engine.testing import FakeRealtimeServer, FunctionCall, ScriptedResponse, silence, tone

from .helpers import API_KEY

EXAMPLE_TIMEOUT_S = 10.0
MAX_EVENTS = 2_000
# A 1x1 transparent PNG as a data URL, standing in for the guide's `image_data_url`.
PNG_1X1 = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@pytest.fixture
def default_endpoint(server: FakeRealtimeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the engine's default endpoint (normally api.openai.com) at the fake server, with the key in the env."""
    url = server.url_for()
    monkeypatch.setenv("OPENAI_REALTIME_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    yield url


def session_updates(server: FakeRealtimeServer) -> list[dict[str, Any]]:
    """The `session` objects of every session.update the server received."""
    return [event["session"] for event in server.client_events if event["type"] == "session.update"]


def client_types(server: FakeRealtimeServer) -> list[str]:
    """Types of every client event, in order."""
    return [event["type"] for event in server.client_events]


def tool_outputs(server: FakeRealtimeServer) -> dict[str, str]:
    """Every function_call_output the server received, by call id."""
    found: dict[str, str] = {}
    for event in server.client_events:
        item = event.get("item") or {}
        if event["type"] == "conversation.item.create" and item.get("type") == "function_call_output":
            assert item["call_id"] not in found, "a tool output was sent twice"
            found[item["call_id"]] = item["output"]
    return found


async def collect_until_turns(session: Any, turns: int) -> list[Any]:
    """Read events until `turns` agent_end events arrived (bounded in count and time)."""
    seen: list[Any] = []
    ends = 0
    async with asyncio.timeout(EXAMPLE_TIMEOUT_S):
        async for event in session:
            seen.append(event)
            assert len(seen) < MAX_EVENTS, "runaway event stream"
            if event.type == "agent_end":
                ends += 1
                if ends == turns:
                    break
    return seen


# -- quickstart -------------------------------------------------------------------------------------


async def test_quickstart_text_message_and_events_loop(server: FakeRealtimeServer, default_endpoint: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    server.add_response(ScriptedResponse(transcript="Hello! Nice to meet you.", audio_ms=400))
    played: list[bytes] = []

    # ---- quickstart.md, steps 1-4 (import path changed) ----
    from realtime_agents.engine import RealtimeAgent, RealtimeRunner

    agent = RealtimeAgent(
        name="Assistant",
        instructions="You are a helpful voice assistant. Keep responses short and conversational.",
    )

    runner = RealtimeRunner(
        starting_agent=agent,
        config={
            "model_settings": {
                "model_name": "gpt-realtime-2",
                "audio": {
                    "input": {
                        "format": "pcm16",
                        "transcription": {"model": "gpt-4o-mini-transcribe"},
                        "turn_detection": {
                            "type": "semantic_vad",
                            "interrupt_response": True,
                        },
                    },
                    "output": {
                        "format": "pcm16",
                        "voice": "ash",
                    },
                },
            }
        },
    )

    async def main() -> None:
        session = await runner.run()

        async with session:
            await session.send_message("Say hello in one short sentence.")

            async for event in session:
                if event.type == "audio":
                    # Forward or play event.audio.data.
                    played.append(event.audio.data)
                elif event.type == "history_added":
                    print(event.item)
                elif event.type == "agent_end":
                    # One assistant turn finished.
                    break
                elif event.type == "error":
                    print(f"Error: {event.error}")
    # ---- end of example ----

    await asyncio.wait_for(main(), EXAMPLE_TIMEOUT_S)

    printed = capsys.readouterr().out
    assert sum(len(chunk) for chunk in played) == 400 * 48, "400 ms of 24 kHz PCM16 reached the audio branch"
    assert "Say hello in one short sentence." in printed and "role='assistant'" in printed
    assert "Error:" not in printed
    connection = server.all_connections[0]
    assert connection.query["model"] == "gpt-realtime-2"
    assert connection.headers["authorization"] == f"Bearer {API_KEY}"
    sent = session_updates(server)[0]
    assert sent["type"] == "realtime" and sent["model"] == "gpt-realtime-2"
    assert sent["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert sent["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert sent["audio"]["input"]["turn_detection"] == {"type": "semantic_vad", "interrupt_response": True}
    assert sent["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "ash"}
    assert sent["instructions"].startswith("You are a helpful voice assistant.")


async def test_issue_seed_example_with_flat_beta_settings(server: FakeRealtimeServer) -> None:
    server.add_response(ScriptedResponse(transcript="I am doing well, thanks for asking!"))
    transcript: list[str] = []

    # ---- issue #3's seed example (import path changed; url points at the fake server) ----
    from realtime_agents.engine import RealtimeAgent, RealtimeRunner

    agent = RealtimeAgent(name="Assistant", instructions="You are a friendly assistant.")
    runner = RealtimeRunner(
        starting_agent=agent,
        config={"model_settings": {
            "model_name": "gpt-realtime", "voice": "alloy", "modalities": ["text", "audio"],
            "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad", "threshold": 0.5,
                               "prefix_padding_ms": 300, "silence_duration_ms": 200},
        }},
    )
    session = await runner.run(model_config={"api_key": API_KEY, "url": server.url_for()})
    async with session:
        await session.send_message("Hello! How are you today?")
        async with asyncio.timeout(EXAMPLE_TIMEOUT_S):
            async for event in session:
                # The seed's `...`: keep the assistant's words, stop after its turn.
                if event.type == "transcript_delta" and event.role == "assistant":
                    transcript.append(event.delta)
                elif event.type == "agent_end":
                    break
    # ---- end of example ----

    assert "".join(transcript) == "I am doing well, thanks for asking!"
    assert server.all_connections[0].query["model"] == "gpt-realtime"
    sent = session_updates(server)[0]
    # Seed/beta spellings in, GA shape on the wire only.
    assert sent["output_modalities"] == ["audio"]
    assert sent["audio"]["input"]["transcription"] == {"model": "whisper-1"}
    assert sent["audio"]["input"]["turn_detection"] == {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200}
    assert sent["audio"]["output"]["voice"] == "alloy"
    for beta_key in ("modalities", "voice", "input_audio_transcription", "turn_detection", "input_audio_format"):
        assert beta_key not in sent, f"beta key {beta_key!r} leaked onto the GA wire"


# -- guide: inputs ----------------------------------------------------------------------------------


async def test_guide_structured_message_with_an_image(server: FakeRealtimeServer, default_endpoint: str) -> None:
    server.add_response(ScriptedResponse(transcript="We talked about nothing yet."))
    server.add_response(ScriptedResponse(transcript="A tiny transparent square."))
    image_data_url = PNG_1X1
    from realtime_agents.engine import RealtimeAgent, RealtimeRunner

    runner = RealtimeRunner(starting_agent=RealtimeAgent(name="Assistant", instructions="Describe images."))
    session = await runner.run()
    async with session:
        # ---- guide.md, "Text and structured user messages" (import path changed) ----
        from realtime_agents.engine import RealtimeUserInputMessage

        await session.send_message("Summarize what we discussed so far.")

        message: RealtimeUserInputMessage = {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Describe this image."},
                {"type": "input_image", "image_url": image_data_url, "detail": "high"},
            ],
        }
        await session.send_message(message)
        # ---- end of example ----
        events = await collect_until_turns(session, 2)

    created = [e["item"] for e in server.client_events if e["type"] == "conversation.item.create"]
    assert created[1]["content"] == [
        {"type": "input_text", "text": "Describe this image."},
        {"type": "input_image", "image_url": PNG_1X1, "detail": "high"},
    ]
    user_items = [item for item in session.history if item.type == "message" and item.role == "user"]
    assert [part.type for part in user_items[1].content] == ["input_text", "input_image"]
    assert user_items[1].content[1].detail == "high"
    assert [e.type for e in events].count("agent_end") == 2
    # The second message waited for the first answer instead of being refused.
    assert not any(e.type == "error" for e in events)


async def test_guide_audio_input_with_server_turn_detection(server: FakeRealtimeServer,
                                                           default_endpoint: str) -> None:
    server.add_transcription("What is the weather like?")
    server.add_response(ScriptedResponse(transcript="It is sunny."))
    audio_bytes = silence(200) + tone(600) + silence(800)
    from realtime_agents.engine import RealtimeAgent, RealtimeRunner

    runner = RealtimeRunner(starting_agent=RealtimeAgent(name="Assistant", instructions="Answer briefly."))
    session = await runner.run()
    async with session:
        # ---- guide.md, "Audio input" ----
        await session.send_audio(audio_bytes)
        # ---- end of example ----
        events = await collect_until_turns(session, 1)

    types = [e.type for e in events]
    assert "speech_started" in types and "speech_stopped" in types
    user_done = [e for e in events if e.type == "transcript_done" and e.role == "user"]
    assert [e.transcript for e in user_done] == ["What is the weather like?"]
    appended = b"".join(base64.b64decode(e["audio"]) for e in server.client_events
                        if e["type"] == "input_audio_buffer.append")
    assert appended == audio_bytes
    assert "response.create" not in client_types(server), "server VAD, not the client, started the answer"
    user = next(i for i in session.history if i.type == "message" and i.role == "user")
    assert user.text == "What is the weather like?"
    assert session.history[-1].text == "It is sunny."


async def test_guide_audio_input_with_manual_commit(server: FakeRealtimeServer, default_endpoint: str) -> None:
    server.add_transcription("Book a table for two.")
    audio_bytes = tone(300)
    from realtime_agents.engine import RealtimeAgent, RealtimeRunner

    # Server-side turn detection disabled: the app marks the turn boundary.
    runner = RealtimeRunner(
        starting_agent=RealtimeAgent(name="Assistant", instructions="Answer briefly."),
        config={"model_settings": {"audio": {"input": {"turn_detection": None}}}},
    )
    session = await runner.run()
    async with session:
        # ---- guide.md, "Audio input": the high-level turn boundary ----
        await session.send_audio(audio_bytes, commit=True)
        # ---- end of example ----
        await server.wait_for_client_event("input_audio_buffer.commit")
        async with asyncio.timeout(EXAMPLE_TIMEOUT_S):
            for _ in range(MAX_EVENTS):
                event = await anext(aiter(session))
                if event.type == "transcript_done" and event.role == "user":
                    break

    assert session_updates(server)[0]["audio"]["input"]["turn_detection"] is None
    assert event.transcript == "Book a table for two."
    assert client_types(server).count("input_audio_buffer.commit") == 1
    # As in the anchor SDK, send_audio never asks for a response itself.
    assert "response.create" not in client_types(server)
    connection = server.all_connections[0]
    assert connection.input_audio_ms == 300


# -- guide: tools, approvals, handoffs, guardrails --------------------------------------------------


async def test_guide_function_tool(server: FakeRealtimeServer, default_endpoint: str) -> None:
    server.add_response(ScriptedResponse(
        function_calls=[FunctionCall(name="get_weather", arguments={"city": "Paris"}, call_id="call_weather")]))
    server.add_response(ScriptedResponse(transcript="It is sunny and 72 degrees in Paris."))

    # ---- guide.md, "Function tools" (import paths changed) ----
    from realtime_agents.engine import RealtimeAgent, function_tool

    @function_tool
    def get_weather(city: str) -> str:
        """Get current weather for a city."""
        return f"The weather in {city} is sunny, 72F."

    agent = RealtimeAgent(
        name="Assistant",
        instructions="You can answer weather questions.",
        tools=[get_weather],
    )
    # ---- end of example ----

    from realtime_agents.engine import RealtimeRunner

    session = await RealtimeRunner(starting_agent=agent).run()
    async with session:
        await session.send_message("What's the weather in Paris?")
        events = await collect_until_turns(session, 2)

    assert session_updates(server)[0]["tools"] == [{
        "type": "function", "name": "get_weather", "description": "Get current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                       "additionalProperties": False},
    }]
    ends = [e for e in events if e.type == "tool_end"]
    assert [(e.tool_name, e.output, e.status) for e in ends] == [
        ("get_weather", "The weather in Paris is sunny, 72F.", "ok")]
    assert tool_outputs(server) == {"call_weather": "The weather in Paris is sunny, 72F."}
    assert session.history[-1].text == "It is sunny and 72 degrees in Paris."


async def test_guide_tool_approval_loop(server: FakeRealtimeServer, default_endpoint: str) -> None:
    server.add_response(ScriptedResponse(
        function_calls=[FunctionCall(name="delete_file", arguments={"path": "notes.txt"}, call_id="call_delete")]))
    server.add_response(ScriptedResponse(transcript="Done, notes.txt is gone."))
    deleted: list[str] = []
    from realtime_agents.engine import RealtimeAgent, RealtimeRunner, function_tool

    @function_tool(needs_approval=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        deleted.append(path)
        return f"Deleted {path}."

    runner = RealtimeRunner(starting_agent=RealtimeAgent(name="Assistant", tools=[delete_file]))
    session = await runner.run()
    seen: list[Any] = []
    async with session:
        await session.send_message("Delete notes.txt please.")
        async with asyncio.timeout(EXAMPLE_TIMEOUT_S):
            # ---- guide.md, "Tool approvals" ----
            async for event in session:
                if event.type == "tool_approval_required":
                    await session.approve_tool_call(event.call_id)
                # ---- end of example; the test stops after the answer that follows the tool ----
                seen.append(event)
                assert len(seen) < MAX_EVENTS
                if event.type == "agent_end" and [e.type for e in seen].count("agent_end") == 2:
                    break

    types = [e.type for e in seen]
    assert types.index("tool_approval_required") < types.index("tool_start"), "nothing ran before approval"
    assert deleted == ["notes.txt"]
    end = next(e for e in seen if e.type == "tool_end")
    assert end.approval == "approved" and end.output == "Deleted notes.txt."
    assert tool_outputs(server) == {"call_delete": "Deleted notes.txt."}


async def test_guide_handoff_to_billing(server: FakeRealtimeServer, default_endpoint: str) -> None:
    server.add_response(ScriptedResponse(
        function_calls=[FunctionCall(name="transfer_to_billing_support", call_id="call_handoff")]))
    server.add_response(ScriptedResponse(transcript="Billing here. Which invoice is it about?"))

    # ---- guide.md, "Handoffs" (import path changed) ----
    from realtime_agents.engine import RealtimeAgent, realtime_handoff

    billing_agent = RealtimeAgent(
        name="Billing Support",
        instructions="You specialize in billing issues.",
    )

    main_agent = RealtimeAgent(
        name="Customer Service",
        instructions="Triage the request and hand off when needed.",
        handoffs=[realtime_handoff(billing_agent, tool_description="Transfer to billing support")],
    )
    # ---- end of example ----

    from realtime_agents.engine import RealtimeRunner

    session = await RealtimeRunner(starting_agent=main_agent).run()
    async with session:
        await session.send_message("I was charged twice.")
        events = await collect_until_turns(session, 2)

    first, second = session_updates(server)[:2]
    assert first["instructions"] == "Triage the request and hand off when needed."
    assert first["tools"] == [{"type": "function", "name": "transfer_to_billing_support",
                               "description": "Transfer to billing support",
                               "parameters": {"type": "object", "properties": {}, "additionalProperties": False}}]
    assert second["instructions"] == "You specialize in billing issues." and second["tools"] == []
    handoff = next(e for e in events if e.type == "handoff")
    assert handoff.from_agent is main_agent and handoff.to_agent is billing_agent
    starts = [e for e in events if e.type == "agent_start"]
    assert [s.agent.name for s in starts] == ["Customer Service", "Billing Support"]
    assert session.current_agent is billing_agent
    assert json.loads(tool_outputs(server)["call_handoff"]) == {"assistant": "Billing Support"}
    answer = session.history[-1]
    assert answer.text == "Billing here. Which invoice is it about?" and answer.agent_name == "Billing Support"


async def test_guide_output_guardrail_trips(server: FakeRealtimeServer, default_endpoint: str) -> None:
    leak = "Sure, let me read it out for you. Your account password is hunter2, and " + "more words follow. " * 6
    # Four times real time: the debounced check at 100 characters comes while audio still streams.
    server.add_response(ScriptedResponse(transcript=leak, pace=4.0, chunk_ms=40))
    server.add_response(ScriptedResponse(transcript="Sorry, I cannot share that. I can reset it for you."))

    # ---- guide.md, "Guardrails" (import paths changed) ----
    from realtime_agents.engine import GuardrailFunctionOutput, OutputGuardrail, RealtimeAgent

    def sensitive_data_check(context, agent, output):
        return GuardrailFunctionOutput(
            tripwire_triggered="password" in output,
            output_info=None,
        )

    agent = RealtimeAgent(
        name="Assistant",
        instructions="...",
        output_guardrails=[OutputGuardrail(guardrail_function=sensitive_data_check)],
    )
    # ---- end of example ----

    from realtime_agents.engine import RealtimeRunner

    session = await RealtimeRunner(starting_agent=agent).run()
    async with session:
        await session.send_message("What is my password?")
        events = await collect_until_turns(session, 2)

    tripped = [e for e in events if e.type == "guardrail_tripped"]
    assert len(tripped) == 1 and tripped[0].guardrail_names == ("sensitive_data_check",)
    assert "password" in tripped[0].message
    # The guide's promise: the response is interrupted and cancelled, the player told to stop.
    assert [e.reason for e in events if e.type == "audio_interrupted"] == ["guardrail"]
    assert client_types(server).count("response.cancel") == 1
    follow_ups = [e["item"] for e in server.client_events if e["type"] == "conversation.item.create"
                  and e["item"].get("role") == "system"]
    assert len(follow_ups) == 1 and "sensitive_data_check" in follow_ups[0]["content"][0]["text"]
    assert session.history[-1].text == "Sorry, I cannot share that. I can reset it for you."


# -- guide: low-level access and custom endpoints ---------------------------------------------------


async def test_guide_model_add_listener(server: FakeRealtimeServer, default_endpoint: str) -> None:
    server.add_response(ScriptedResponse(transcript="Hi.", audio_ms=200))
    from realtime_agents.engine import RealtimeAgent, RealtimeRunner

    received: list[Any] = []

    class RawRecorder:
        async def on_event(self, event: Any) -> None:
            received.append(event)

    session = await RealtimeRunner(starting_agent=RealtimeAgent(name="Assistant")).run()
    # ---- guide.md, "Low-level access": custom listeners via session.model ----
    session.model.add_listener(RawRecorder())
    # ---- end of example ----
    async with session:
        await session.send_message("Hi")
        await collect_until_turns(session, 1)

    raw_types = [event.get("type") for event in received if isinstance(event, dict)]
    assert raw_types[0] == "session.created"
    assert "response.output_audio.delta" in raw_types and raw_types[-1] == "response.done"
    sent_types = [event["type"] for event in server.all_connections[0].server_events]
    assert raw_types == sent_types, "the listener saw every server event, in order"


@pytest.mark.parametrize("auth", ["api-key", "bearer-token"])
async def test_guide_azure_endpoint_with_explicit_headers(server: FakeRealtimeServer, auth: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server.add_response(ScriptedResponse(transcript="Hello from Azure."))
    token = API_KEY
    from realtime_agents.engine import RealtimeAgent, RealtimeRunner

    runner = RealtimeRunner(starting_agent=RealtimeAgent(name="Assistant"))
    # The Azure host replaced by the fake server; path and query as in the guide.
    azure_url = f"ws://127.0.0.1:{server.port}/openai/v1/realtime?model=my-deployment"
    if auth == "api-key":
        # ---- guide.md, Azure with an API key ----
        session = await runner.run(
            model_config={
                "url": azure_url,
                "headers": {"api-key": API_KEY},
            }
        )
    else:
        # ---- guide.md, Azure with a bearer token ----
        session = await runner.run(
            model_config={
                "url": azure_url,
                "headers": {"authorization": f"Bearer {token}"},
            }
        )
    async with session:
        await session.send_message("Hello")
        await collect_until_turns(session, 1)

    connection = server.all_connections[0]
    assert connection.path == "/openai/v1/realtime" and connection.query == {"model": "my-deployment"}
    if auth == "api-key":
        assert connection.headers["api-key"] == API_KEY and "authorization" not in connection.headers
    else:
        assert connection.headers["authorization"] == f"Bearer {API_KEY}" and "api-key" not in connection.headers
    assert "model" not in session_updates(server)[0], "the deployment in the URL picks the model"
    assert session.history[-1].text == "Hello from Azure."


async def test_guide_sip_attach_by_call_id(server: FakeRealtimeServer, default_endpoint: str) -> None:
    from realtime_agents.engine import RealtimeAgent

    agent = RealtimeAgent(name="Receptionist", instructions="Greet the caller.")
    call_id_from_webhook = "rtc_test_call_1"
    server.add_response(ScriptedResponse(transcript="Thanks for calling!"))
    events: list[Any] = []

    # ---- guide.md, "SIP and telephony" (import paths changed) ----
    from realtime_agents.engine import RealtimeRunner
    from realtime_agents.engine.openai_realtime import OpenAIRealtimeSIPModel

    runner = RealtimeRunner(starting_agent=agent, model=OpenAIRealtimeSIPModel())

    async with await runner.run(
        model_config={
            "call_id": call_id_from_webhook,
        }
    ) as session:
        # The caller speaks: the fake server answers on the attached call.
        connection = await server.wait_for_connection()
        await server.wait_for_client_event("session.update")
        connection.start_response({})
        async with asyncio.timeout(EXAMPLE_TIMEOUT_S):
            async for event in session:
                events.append(event)
                if event.type == "agent_end" or len(events) >= MAX_EVENTS:
                    break
    # ---- end of example ----

    assert connection.query == {"call_id": call_id_from_webhook}, "attach by call id, no model in the URL"
    sent = session_updates(server)[0]
    assert "format" not in sent.get("audio", {}).get("input", {}), "no audio formats on an attached call"
    assert "format" not in sent.get("audio", {}).get("output", {})
    assert [e.type for e in events].count("agent_end") == 1
    assert session.history[-1].text == "Thanks for calling!"
