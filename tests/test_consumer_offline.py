"""A spoken turn through the browser consumer over the offline voice model, recorded in the database."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from realtime_agents.models import ToolRun, TranscriptItem
from tests import rows
from tests.asgi import application
from tests.consumer_helpers import ORIGIN, FrameReader, conversation_row, decode_output
from tests.engine.offline.speech import chunks, requires_offline, silence, speak
from tests.rows import close_db_threads  # noqa: F401  (fixture)

pytestmark = [
    requires_offline,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_threads"),
]


@sync_to_async
def offline_channel() -> None:
    weather = rows.python_tool("get_weather", function="get_weather",
                               description="Look up today's weather in a city, for example Paris or London.")
    start = rows.agent("concierge", instructions="You help visitors.")
    start.tools.add(weather)
    rows.channel("voice", start, transport="offline")


@sync_to_async
def recorded(conversation_id: int) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    items = [(i.role, i.text) for i in TranscriptItem.objects.filter(conversation_id=conversation_id).order_by("sequence")]
    runs = [(r.tool_name, r.arguments, r.status) for r in ToolRun.objects.filter(conversation_id=conversation_id)]
    return items, runs


@pytest.fixture
async def loaded_models() -> None:
    """Load the offline models before the socket opens, as a warmed-up server would have them.

    Loading takes seconds of CPU on 2 cores; done inside the first connection it starves the event
    loop, and channels-redis' blocking read times out under it.
    """
    from realtime_agents.engine.offline import shared_engines

    await asyncio.to_thread(shared_engines, "auto")


@pytest.mark.usefixtures("loaded_models")
async def test_a_spoken_question_over_the_offline_model_is_answered_and_recorded(settings: Any) -> None:
    settings.REALTIME_AGENTS = {"DEFAULT_TRANSPORT": "offline", "OFFLINE_TTS": "auto"}
    await offline_channel()
    communicator = WebsocketCommunicator(application, "/ws/realtime/voice/",
                                         headers=[(b"origin", ORIGIN.encode()), (b"user-agent", b"pytest")])
    communicator.scope["client"] = ("127.0.0.1", 40000)
    frames = FrameReader(lambda timeout: _receive(communicator, timeout))
    connected, _ = await communicator.connect(timeout=60)
    assert connected
    ready = await frames.next(timeout=30)
    assert isinstance(ready, dict) and ready["type"] == "ready", ready
    question = speak("what is the weather in Paris") + silence(1.0)
    for chunk in chunks(question, ms=100):
        await communicator.send_to(bytes_data=chunk)
        await asyncio.sleep(0.02)
    user = await frames.until(lambda f: isinstance(f, dict) and f.get("type") == "transcript.done"
                              and f.get("role") == "user", timeout=60)
    assert "paris" in user["text"].lower()
    tool = await frames.until("tool.ended", timeout=60)
    assert tool["name"] == "get_weather" and tool["status"] == "ok"
    answer = await frames.until(lambda f: isinstance(f, dict) and f.get("type") == "transcript.done"
                                and f.get("role") == "assistant", timeout=60)
    assert "paris" in answer["text"].lower()
    await frames.until("turn.end", timeout=60)
    await communicator.send_to(text_data='{"type": "end"}')
    await frames.until_closed(timeout=10)
    row = await conversation_row(ready["conversation_id"], timeout=10)
    items, runs = await recorded(row.pk)
    assert ("user", user["text"]) in items
    assert any(role == "assistant" and "paris" in text.lower() for role, text in items)
    assert [(name, status) for name, _, status in runs] == [("get_weather", "ok")]
    assert "paris" in runs[0][1].lower()
    assert row.end_reason == "client_ended"


async def _receive(communicator: WebsocketCommunicator, timeout: float) -> Any:
    return decode_output(await communicator.receive_output(timeout))
