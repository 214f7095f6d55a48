"""The voice widget in headless Chromium, talking to a live Daphne and the scripted model."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.async_api", reason="needs playwright (pip install -r requirements-dev.txt)")

from playwright.async_api import expect  # noqa: E402

from realtime_agents.engine.testing import FakeRealtimeServer, FunctionCall, ScriptedResponse  # noqa: E402
from realtime_agents.models import TranscriptItem  # noqa: E402
from tests import rows  # noqa: E402
from tests.browser.conftest import SPOKEN  # noqa: E402
from tests.browser.driver import WidgetDriver  # noqa: E402
from tests.consumer_helpers import (  # noqa: E402
    make_channel,
    upstream_events,
    upstream_input_audio,
    wait_all_finalised,
)
from tests.live_server import daphne_url  # noqa: E402
from tests.rows import close_db_threads  # noqa: E402,F401  (fixture)
from tests.test_consumer import make_tool, sync  # noqa: E402

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_threads"),
]

TRANSCRIBE = "gpt-4o-mini-transcribe"
FRAME_BYTES = 40 * 48  # the widget's 40 ms microphone frames, PCM16 at 24 kHz


def screenshot_folder(tmp_path: Path) -> Path:
    """docs/images when WIDGET_SCREENSHOTS names a folder (the README's pictures), else a temporary one."""
    folder = Path(os.environ.get("WIDGET_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def speech_started(upstream: FakeRealtimeServer) -> bool:
    """Whether the scripted model's voice activity detector heard speech."""
    return any(event.get("type") == "input_audio_buffer.speech_started"
               for connection in upstream.all_connections for event in connection.server_events)


async def test_spoken_turn_shows_both_transcripts_and_plays_the_answer(
    widget: WidgetDriver, upstream: FakeRealtimeServer, tmp_path: Path,
) -> None:
    await make_channel("voice", agent_fields={"name": "Concierge"}, turn_detection="server_vad",
                       vad_silence_duration_ms=500, transcription_model=TRANSCRIBE)
    answer = "We open at nine tomorrow morning, and the kitchen serves until ten."
    upstream.add_transcription(SPOKEN)
    upstream.add_response(ScriptedResponse(transcript=answer, chunk_ms=40))
    shots = screenshot_folder(tmp_path)
    await widget.open("voice")
    await widget.panel.screenshot(path=shots / "widget-idle.png")
    await widget.start()
    await expect(widget.part(".agent")).to_have_text("Concierge")
    # The fake microphone's speech reaches the model's voice activity detector as real 24 kHz PCM16.
    await widget.until(lambda: speech_started(upstream), what="the model heard no speech")
    await widget.panel.screenshot(path=shots / "widget-listening.png")
    await expect(widget.messages("user")).to_have_text([f"You: {SPOKEN}"], timeout=15_000)
    await widget.wait_state("speaking")
    await expect(widget.messages("assistant")).to_have_text([f"Concierge: {answer}"])
    await widget.page.mouse.move(0, 0)  # no hover highlight in the picture
    await widget.panel.screenshot(path=shots / "widget-speaking.png")
    for name in ("idle", "listening", "speaking"):
        assert (shots / f"widget-{name}.png").stat().st_size > 5_000
    # Every microphone frame is 40 ms; the model gets their bytes in order (frames arriving together
    # may be joined into one append).
    audio = widget.sent_audio()
    assert audio and {len(frame) for frame in audio} == {FRAME_BYTES}
    sent = b"".join(audio)
    await widget.until(lambda: len(upstream_input_audio(upstream)) >= len(sent), what="audio did not arrive")
    assert upstream_input_audio(upstream).startswith(sent)
    # The answer plays in real time: the reported position advances to the item's full length.
    item_id = (await widget.until(lambda: widget.received_json("audio.item"), what="no audio.item"))[0]["item_id"]
    audio_ms = ScriptedResponse(transcript=answer).effective_audio_ms()
    await widget.until(lambda: any(f["ms"] >= audio_ms - 1 for f in widget.sent_json("playback")), timeout=15,
                       what="playback never reached the end of the answer")
    positions = [f["ms"] for f in widget.sent_json("playback")]
    assert {f["item_id"] for f in widget.sent_json("playback")} == {item_id}
    assert positions == sorted(positions) and len(positions) >= audio_ms // 250
    assert positions[-1] <= audio_ms
    await widget.wait_state("listening")
    # Mute stops the microphone at once; unmuting resumes it.
    mute = widget.part(".mute")
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await expect(mute).to_have_text("Unmute")
    await widget.wait_state("muted")
    muted_at = len(widget.sent_audio())
    await asyncio.sleep(0.4)
    assert len(widget.sent_audio()) == muted_at
    await mute.click()
    await widget.wait_state("listening")
    await widget.until(lambda: len(widget.sent_audio()) > muted_at + 3, what="no audio after unmuting")


async def test_interrupting_stops_playback_and_truncates_where_it_stopped(
    widget: WidgetDriver, upstream: FakeRealtimeServer,
) -> None:
    await make_channel("barge", turn_detection="none")
    long_answer = "A long answer that goes on. " * 8
    upstream.add_response(ScriptedResponse(transcript=long_answer, pace=1.0, chunk_ms=40))
    await widget.open("barge")
    await widget.start()
    await widget.type_message("Tell me everything")
    await widget.wait_state("speaking")
    await widget.until(lambda: any(f["ms"] >= 400 for f in widget.sent_json("playback")), what="no playback")
    await widget.part(".stop").click()
    truncate = (await upstream.wait_for_client_event("conversation.item.truncate"))[0]
    # Playwright reports sent frames asynchronously: the server may act on one before we see it.
    await widget.until(lambda: widget.sent_json("interrupt"), what="no interrupt frame sent")
    sent = widget.sent_json()
    interrupt_at = next(i for i, frame in enumerate(sent) if frame["type"] == "interrupt")
    last = [frame for frame in sent[:interrupt_at] if frame["type"] == "playback"][-1]
    # The model forgets exactly what the user did not hear.
    assert (truncate["item_id"], truncate["audio_end_ms"]) == (last["item_id"], last["ms"])
    assert last["ms"] >= 400
    await widget.wait_state("holdToTalk")
    await expect(widget.part(".stop")).to_be_hidden()
    interrupted = await widget.until(lambda: widget.received_json("audio.interrupted"))
    assert interrupted[0]["audio_end_ms"] == last["ms"]
    bubble = widget.part(f'.msg.assistant[data-item="{last["item_id"]}"]')
    await expect(bubble).to_have_class(re.compile("interrupted"))
    # Playback stopped at once: no later position of that item, although its audio kept streaming.
    await asyncio.sleep(0.5)
    later = [frame for frame in widget.sent_json()[interrupt_at:] if frame["type"] == "playback"]
    assert later == []
    await widget.part(".end").click()
    await widget.wait_state("ended")
    await wait_all_finalised()  # the recorder writes in the background; closing flushes it
    row = await sync(lambda: TranscriptItem.objects.get(item_id=last["item_id"]))
    assert (row.status, row.audio_ms) == ("truncated", last["ms"])


async def test_speaking_over_the_answer_stops_it_at_once(
    widget: WidgetDriver, upstream: FakeRealtimeServer,
) -> None:
    # The greeting plays when the call opens; the fake microphone starts talking a second later.
    await make_channel("talk-over", turn_detection="server_vad", vad_silence_duration_ms=500,
                       transcription_model=TRANSCRIBE, greeting="Welcome the guest at length.")
    upstream.add_response(ScriptedResponse(transcript="Welcome to our lovely restaurant. " * 6, pace=1.0),
                          ScriptedResponse(transcript="Nine o'clock."))
    upstream.add_transcription(SPOKEN)
    await widget.open("talk-over")
    await widget.start(until=("speaking",))
    interrupted = (await widget.until(lambda: widget.received_json("audio.interrupted"), timeout=15))[0]
    assert interrupted["reason"] == "speech"
    truncate = (await upstream.wait_for_client_event("conversation.item.truncate"))[0]
    item_id = truncate["item_id"]

    def positions_sent() -> list[int]:
        return [frame["ms"] for frame in widget.sent_json("playback") if frame["item_id"] == item_id]

    # Playwright reports sent frames asynchronously: wait (bounded) for the one the server acted on.
    await widget.until(lambda: truncate["audio_end_ms"] in positions_sent(), what="truncated at a position never sent")
    positions = positions_sent()
    # The model keeps what was played, as the page reported it; the page plays nothing of it after that.
    assert truncate["audio_end_ms"] in positions and 0 < truncate["audio_end_ms"] < 3_000
    assert interrupted["audio_end_ms"] == truncate["audio_end_ms"]
    await widget.wait_state("listening", "thinking")
    reported = len(positions)
    await expect(widget.messages("user")).to_have_text([f"You: {SPOKEN}"])
    assert len([f for f in widget.sent_json("playback") if f["item_id"] == item_id]) == reported
    await expect(widget.messages("assistant").last).to_have_text("Talk Over Agent: Nine o'clock.")


async def test_push_to_talk_streams_only_while_held_and_commits_on_release(
    widget: WidgetDriver, upstream: FakeRealtimeServer,
) -> None:
    await make_channel("walkie", turn_detection="none", transcription_model=TRANSCRIBE)
    upstream.add_transcription("Book a table for two")
    upstream.add_response(ScriptedResponse(transcript="Done, see you at eight."))
    await widget.open("walkie")
    await widget.start(until=("holdToTalk",))
    await asyncio.sleep(0.3)
    assert widget.sent_audio() == []
    await widget.part(".talk").focus()
    await widget.page.keyboard.down("Space")
    await widget.wait_state("listening")
    await widget.until(lambda: len(widget.sent_audio()) >= 40, what="no audio while the space bar was held")
    await widget.page.keyboard.up("Space")
    await upstream.wait_for_client_event("input_audio_buffer.commit")
    kinds = [event["type"] for event in upstream.client_events]
    last_append = max(i for i, kind in enumerate(kinds) if kind == "input_audio_buffer.append")
    assert kinds.index("input_audio_buffer.commit") > last_append
    await expect(widget.messages("user")).to_have_text(["You: Book a table for two"])
    await expect(widget.messages("assistant")).to_have_text(["Walkie Agent: Done, see you at eight."])
    held = len(widget.sent_audio())
    # Frames that arrive together may go up as one append (docs/protocol.md, "Audio path"): compare bytes.
    assert upstream_input_audio(upstream) == b"".join(widget.sent_audio())
    await asyncio.sleep(0.3)
    assert len(widget.sent_audio()) == held
    # A slip of the finger (a click, not a hold) commits nothing and says how to talk.
    await widget.wait_state("holdToTalk")
    await widget.part(".talk").click()
    await expect(widget.part(".alert-text")).to_contain_text("Keep holding the talk button")
    assert len(upstream_events(upstream, "input_audio_buffer.commit")) == 1


async def test_typed_messages_and_tool_approval_prompts(
    widget: WidgetDriver, upstream: FakeRealtimeServer,
) -> None:
    tool = await make_tool("guarded_echo", needs_approval=True)
    await make_channel("approve", tools=[tool], turn_detection="none", show_tool_arguments=True)
    call = {"name": "guarded_echo", "arguments": {"text": "table for two"}}
    upstream.add_response(
        ScriptedResponse(function_calls=[FunctionCall(**call, call_id="c1")]),
        ScriptedResponse(transcript="Booked."),
        ScriptedResponse(function_calls=[FunctionCall(**call, call_id="c2")]),
        ScriptedResponse(transcript="Then I will not."),
    )
    await widget.open("approve")
    await widget.start()
    await widget.type_message("Book a table")
    first = widget.part('.approval[data-call="c1"]')
    await expect(first).to_contain_text("The assistant wants to use guarded_echo.")
    await expect(first.locator(".args")).to_contain_text('"text": "table for two"')
    await widget.wait_state("approval")
    await first.get_by_role("button", name="Allow").click()
    await expect(widget.part('.tool[data-call="c1"]')).to_have_text("Used guarded_echo")
    await expect(widget.messages("assistant")).to_have_text(["Approve Agent: Booked."])
    await widget.type_message("Another one")
    second = widget.part('.approval[data-call="c2"]')
    await second.get_by_role("button", name="Deny").click()
    await expect(widget.part('.tool[data-call="c2"]')).to_have_text("guarded_echo was declined")
    await expect(widget.messages("assistant").last).to_have_text("Approve Agent: Then I will not.")
    await expect(widget.messages("user")).to_have_text(["You: Book a table", "You: Another one"])
    decisions = [(frame["call_id"], frame["approve"]) for frame in widget.sent_json("approval")]
    assert decisions == [("c1", True), ("c2", False)]
    typed = [event["item"]["content"] for event in upstream_events(upstream, "conversation.item.create")
             if event["item"]["type"] == "message"]
    assert typed == [[{"type": "input_text", "text": text}] for text in ("Book a table", "Another one")]


async def test_a_handoff_shows_the_new_agent(widget: WidgetDriver, upstream: FakeRealtimeServer) -> None:
    def build() -> None:
        front = rows.agent("front")
        rows.handoff(front, rows.agent("billing"))
        rows.channel("handoff", front, turn_detection="none")

    await sync(build)
    upstream.add_response(ScriptedResponse(function_calls=[FunctionCall(name="transfer_to_billing")]),
                          ScriptedResponse(transcript="Billing here."))
    await widget.open("handoff")
    await widget.start()
    await expect(widget.part(".agent")).to_have_text("Front")
    await widget.type_message("Billing please")
    await expect(widget.part(".agent")).to_have_text("Billing")
    await expect(widget.part(".notice")).to_have_text(["Billing takes over from Front."])
    await expect(widget.messages("assistant")).to_have_text(["Billing: Billing here."])


async def test_a_guardrail_withdraws_the_answer_being_spoken(
    widget: WidgetDriver, upstream: FakeRealtimeServer,
) -> None:
    guard = await sync(lambda: rows.phrases_guardrail("no-refunds", debounce_text_length=5))
    channel = await make_channel("guarded", turn_detection="none")
    await sync(lambda: channel.starting_agent.guardrails.add(guard))
    upstream.add_response(
        ScriptedResponse(transcript="Sure, a refund guaranteed for everyone who asks today.", pace=1.0),
        ScriptedResponse(transcript="Sorry, I cannot promise that."),
    )
    await widget.open("guarded")
    await widget.start()
    await widget.type_message("Refund?")
    withdrawn = widget.part(".msg.assistant.withdrawn .final")
    await expect(withdrawn).to_have_text("This answer was withdrawn.")
    corrected = "Guarded Agent: Sorry, I cannot promise that."
    await expect(widget.messages("assistant").last).to_have_text(corrected)
    tripped = (await widget.until(lambda: widget.received_json("guardrail.tripped")))[0]
    await expect(widget.part(f'.msg.assistant[data-item="{tripped["item_id"]}"]')).to_have_class(
        re.compile("withdrawn"))


async def test_keyboard_only_on_a_phone_sized_screen(
    chromium: Any, daphne: Any, upstream: FakeRealtimeServer,
) -> None:
    await make_channel("phone-size", turn_detection="none")
    upstream.add_response(ScriptedResponse(transcript="Hello from a small screen."))
    context = await chromium.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, permissions=["microphone"]
    )
    widget = await WidgetDriver.create(context, daphne_url(daphne))
    try:
        await widget.open("phone-size")
        assert await widget.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        box = await widget.panel.bounding_box()
        assert box is not None and box["width"] <= 360
        focused = "document.querySelector('realtime-agent-widget').shadowRoot.activeElement"
        for _ in range(6):
            await widget.page.keyboard.press("Tab")
            if await widget.page.evaluate(f"{focused}?.classList.contains('start')"):
                break
        assert await widget.page.evaluate(f"getComputedStyle({focused}).outlineStyle") == "solid"
        await widget.page.keyboard.press("Enter")
        await widget.wait_state("holdToTalk")
        assert await widget.page.evaluate(f"{focused}.className") == "talk primary"
        for _ in range(6):
            await widget.page.keyboard.press("Shift+Tab")
            if await widget.page.evaluate(f"{focused}?.name === 'message'"):
                break
        await widget.page.keyboard.type("Hi")
        await widget.page.keyboard.press("Enter")
        reply = "Phone Size Agent: Hello from a small screen."
        await expect(widget.messages("assistant")).to_have_text([reply])
        # Escape silences the agent, as the Stop button does.
        await widget.wait_state("speaking")
        await widget.page.keyboard.press("Escape")
        await upstream.wait_for_client_event("conversation.item.truncate")
        await widget.wait_state("holdToTalk")
        for name in ("Hold to talk", "End", "Send"):
            await expect(widget.page.get_by_role("button", name=name, exact=True)).to_be_visible()
        transcript = widget.page.get_by_role("log", name="Transcript")
        await expect(transcript).to_have_attribute("aria-live", "polite")
        await expect(widget.page.get_by_role("textbox", name="Type a message")).to_be_enabled()
        assert await widget.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        await widget.page.get_by_role("button", name="End", exact=True).focus()
        await widget.page.keyboard.press("Enter")
        await widget.wait_state("ended")
        assert await widget.page.evaluate(f"{focused}.classList.contains('start')")
        assert widget.errors == []
    finally:
        await widget.close()
