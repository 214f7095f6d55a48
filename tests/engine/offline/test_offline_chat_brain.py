"""The chat-completions brain against a fake OpenAI-compatible endpoint on 127.0.0.1."""
from __future__ import annotations

import json
from typing import Any

import pytest

from realtime_agents.engine import Runner
from realtime_agents.engine.offline import BrainContext, BrainError, ChatCompletionsBrain, OfflineModel
from realtime_agents.engine.offline.brain import chat_messages, completions_url

from ..helpers import EventReader
from .agents import build_agents
from .chatserver import FakeChatServer
from .speech import requires_offline, silence, speak
from .test_offline_voice import say


def assistant_done(event: Any) -> bool:
    return event.type == "transcript_done" and event.role == "assistant"


@requires_offline
@pytest.mark.timeout(90)
async def test_spoken_turn_with_the_chat_brain_calls_the_tool_and_speaks_its_reply(engines) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    async with FakeChatServer() as chat:
        chat.reply_call("get_weather", {"city": "Oslo"})
        chat.reply_text("Oslo is sunny today. Enjoy your walk!")
        model = OfflineModel(engines=engines, chat_url=chat.url)
        session = await Runner(triage, model=model).run(model_config={"api_key": "local-secret"})
        async with session:
            reader = EventReader(session)
            await say(session, speak("How is the weather in Oslo?") + silence(0.8))
            answer = await reader.until(assistant_done, timeout=40)
    assert calls == [("get_weather", {"city": "Oslo"})]
    assert answer.transcript == "Oslo is sunny today. Enjoy your walk!"
    assert reader.of_type("audio")
    first, second = chat.requests
    assert chat.headers[0]["authorization"] == "Bearer local-secret"
    assert first["messages"][0] == {"role": "system", "content": "You help guests."}
    assert first["messages"][1]["role"] == "user" and "oslo" in first["messages"][1]["content"].lower()
    names = [tool["function"]["name"] for tool in first["tools"]]
    assert names == ["get_weather", "read_menu", "transfer_to_booking"]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["city"]
    call_message, tool_message = second["messages"][2], second["messages"][3]
    assert call_message["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert tool_message == {"role": "tool", "tool_call_id": call_message["tool_calls"][0]["id"],
                            "content": "It is sunny and 21 degrees in Oslo."}


@requires_offline
@pytest.mark.timeout(60)
async def test_a_failing_endpoint_falls_back_to_the_router_without_an_error_to_the_user(engines) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    async with FakeChatServer() as chat:
        chat.reply_status(503)
        chat.reply_status(503)
        model = OfflineModel(engines=engines, chat_url=chat.url + "/chat/completions")
        session = await Runner(triage, model=model).run()
        async with session:
            reader = EventReader(session)
            await session.send_message("What is the weather in Paris?")
            answer = await reader.until(assistant_done, timeout=30)
    assert len(chat.requests) == 2
    assert calls == [("get_weather", {"city": "Paris"})]
    assert answer.transcript == "It is sunny and 21 degrees in Paris."
    assert reader.of_type("error") == []


async def test_brain_errors_name_the_endpoint_and_status() -> None:
    async with FakeChatServer() as chat:
        chat.reply_status(500)
        chat.replies.append((200, {"unexpected": True}))
        brain = ChatCompletionsBrain(url=chat.url)
        context = BrainContext(instructions="", tools=(), items=())
        with pytest.raises(BrainError, match="HTTP 500"):
            await brain.reply(context)
        reply = await brain.reply(context)
        await brain.aclose()
    assert reply.text == "" and reply.calls == ()
    closed = ChatCompletionsBrain(url="http://127.0.0.1:9/v1", timeout=2)
    with pytest.raises(BrainError, match="failed"):
        await closed.reply(BrainContext(instructions="", tools=(), items=()))
    await closed.aclose()


def test_chat_urls_and_message_conversion() -> None:
    assert completions_url("http://127.0.0.1:8080/v1/") == "http://127.0.0.1:8080/v1/chat/completions"
    assert completions_url("http://h/v1/chat/completions") == "http://h/v1/chat/completions"
    with pytest.raises(ValueError, match="http"):
        completions_url("ftp://h/v1")
    items = (
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": "hi"}]},
        {"type": "function_call", "call_id": "c1", "name": "a", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "b", "arguments": '{"x": 1}'},
        {"type": "function_call_output", "call_id": "c1", "output": "A"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_audio", "transcript": "ok"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": None}]},
    )
    messages = chat_messages(BrainContext(instructions="be brief", tools=(), items=items))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert [c["id"] for c in messages[2]["tool_calls"]] == ["c1", "c2"]
    assert json.loads(messages[2]["tool_calls"][1]["function"]["arguments"]) == {"x": 1}
