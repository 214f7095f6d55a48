"""A spoken turn through the browser consumer over the offline voice model, recorded in the database."""
from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command

from realtime_agents.models import ToolRun, TranscriptItem
from tests import rows
from tests.asgi import application
from tests.consumer_helpers import ORIGIN, FrameReader, conversation_row, decode_output
from tests.engine.offline.speech import chunks, requires_offline, silence, speak
from tests.live_server import daphne_url, settle_daphne
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


@pytest.fixture
async def settled(daphne: Any) -> AsyncIterator[Any]:
    """The live Daphne; afterwards its sessions and application instances are let finish."""
    yield daphne
    await settle_daphne(daphne)


@pytest.mark.usefixtures("loaded_models")
async def test_the_demo_answers_a_spoken_question_over_daphne_with_no_api_key(settings: Any, settled: Any) -> None:
    from tests.test_consumer_live import LiveBrowser

    # As `make run` leaves it: the demo rows, no API key, the site default transport ("auto").
    settings.REALTIME_AGENTS = {"OPENAI_API_KEY": "", "DEFAULT_TRANSPORT": "auto"}
    await sync_to_async(call_command)("realtime_agents_demo", stdout=io.StringIO())
    browser = LiveBrowser(daphne_url(settled, "ws"), "demo")
    ready = await browser.open()
    try:
        greeting = await browser.frames.until(lambda f: isinstance(f, dict) and f.get("type") == "transcript.done"
                                              and f.get("role") == "assistant", timeout=60)
        question = speak("What time is it in Tokyo?") + silence(1.0)
        for chunk in chunks(question, ms=20):  # real-time pacing, as a microphone sends
            await browser.send_audio(chunk)
            await asyncio.sleep(0.02)
        user = await browser.frames.until(lambda f: isinstance(f, dict) and f.get("type") == "transcript.done"
                                          and f.get("role") == "user", timeout=60)
        heard_at = len(browser.frames.seen)
        tool = await browser.frames.until("tool.ended", timeout=60)
        answer = await browser.frames.until(lambda f: isinstance(f, dict) and f.get("type") == "transcript.done"
                                            and f.get("role") == "assistant", timeout=60)
        audio = [f for f in browser.frames.seen[heard_at:] if isinstance(f, bytes)]
        await browser.send({"type": "end"})
        await browser.frames.until_closed(timeout=10)
    finally:
        await browser.close()
    assert greeting["text"].startswith("Hello. I can help you")
    assert "tokyo" in user["text"].lower()
    assert (tool["name"], tool["status"]) == ("current_time", "ok")
    assert "Asia/Tokyo" in answer["text"]
    assert sum(len(a) for a in audio) > 24000 * 2, "at least a second of spoken answer"
    assert browser.frames.of_type("error") == []
    row = await conversation_row(ready["conversation_id"], timeout=10)
    items, runs = await recorded(row.pk)
    assert ("user", user["text"]) in items
    assert [(name, status) for name, _, status in runs] == [("current_time", "ok")]
    assert "Asia/Tokyo" in runs[0][1]
