"""Twilio calls end to end: a live Daphne, a simulated Twilio over real sockets, the fake model upstream."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from typing import Any
from xml.etree.ElementTree import fromstring

import pytest
from asgiref.sync import sync_to_async
from websockets.exceptions import InvalidStatus

from realtime_agents.engine.testing import FakeRealtimeServer, FunctionCall, ScriptedResponse, silence
from realtime_agents.models import Conversation, ToolRun, TranscriptItem
from realtime_agents.telephony import twilio_call, twilio_consumer
from realtime_agents.telephony.signatures import twilio_signature
from realtime_agents.telephony.twilio_views import BUSY, FAILED
from tests.consumer_helpers import (
    fake_openai_upstream,
    make_channel,
    upstream_audio,
    upstream_events,
    wait_upstream_closed,
)
from tests.live_server import daphne_url, settle_daphne
from tests.rows import close_db_threads  # noqa: F401  (fixture)

from .twilio_sim import TwilioCallClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_threads")]

TOKEN = "twilio-live-token"
CALLER = "+15550001111"
CALL_SID = "CA" + "a" * 32
TRAILING_SILENCE = silence(800, format_type="audio/pcmu")  # lets the model's VAD end the caller's turn


@pytest.fixture
async def model(settings: Any, daphne: Any) -> AsyncIterator[FakeRealtimeServer]:
    """The fake Realtime server as the site's OpenAI endpoint; Twilio configured for the live Daphne."""
    async with fake_openai_upstream(
        settings, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_PUBLIC_BASE_URL=daphne_url(daphne)
    ) as fake:
        yield fake


@pytest.fixture(autouse=True)
async def settle(daphne: Any) -> AsyncIterator[None]:
    """After each test, let Daphne finish its calls and application instances."""
    yield
    await settle_daphne(daphne)


def _post(url: str, form: dict[str, str], signature: str) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
        headers={"X-Twilio-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def twilio_post(url: str, form: dict[str, str]) -> tuple[int, str]:
    """POST a form to the live server, signed as Twilio signs it."""
    return await asyncio.to_thread(_post, url, form, twilio_signature(TOKEN, url, form))


async def incoming_call(daphne: Any, slug: str, call_sid: str = CALL_SID) -> TwilioCallClient:
    """Twilio's voice webhook request, then a stream client set up from the TwiML it got back."""
    form = {"CallSid": call_sid, "From": CALLER, "To": "+15550002222", "AccountSid": "AC" + "0" * 32}
    status, body = await twilio_post(f"{daphne_url(daphne)}/realtime/twilio/{slug}/voice/", form)
    assert status == 200, body
    connect = fromstring(body).find("Connect")
    assert connect is not None
    stream = connect.find("Stream")
    assert stream is not None
    url = stream.attrib["url"]
    parameters = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    # The upgrade is signed over the ws(s) URL with no parameters.
    call = TwilioCallClient(
        url, signature=twilio_signature(TOKEN, url), call_sid=call_sid, parameters=parameters
    )
    call.action_url = connect.attrib["action"]  # type: ignore[attr-defined]
    return call


async def after_stream(call: TwilioCallClient) -> list[tuple[str, str | None]]:
    """Twilio's request to the `<Connect action>` URL once the stream closed; the TwiML's verbs."""
    form = {
        "CallSid": call.stream.call_sid,
        "StreamSid": call.stream.stream_sid,
        "AccountSid": "AC" + "0" * 32,
    }
    status, body = await twilio_post(call.action_url, form)  # type: ignore[attr-defined]
    assert status == 200, body
    return [(child.tag, child.text) for child in fromstring(body)]


async def all_audio_queued(call: TwilioCallClient, model: FakeRealtimeServer) -> None:
    """Wait until the model finished answering and Twilio holds every byte of its audio."""
    await model.wait_until_idle()
    total = len(b"".join(upstream_audio(model)))
    twilio = call.twilio
    await call.wait_for(lambda _: len(twilio.played) + twilio.buffered_bytes + twilio.cleared_bytes >= total)


async def finished(call_sid: str = CALL_SID) -> tuple[Conversation, list[tuple[str, str, str, float]]]:
    """The call's finalised conversation and its transcript (role, text, status, audio ms)."""

    def load() -> tuple[Conversation, list[tuple[str, str, str, float]]] | None:
        row = Conversation.objects.filter(call_id=call_sid).first()
        if row is None or not row.end_reason:
            return None
        items = TranscriptItem.objects.filter(conversation=row).order_by("sequence")
        return row, [(i.role, i.text, i.status, i.audio_ms) for i in items]

    async with asyncio.timeout(10):  # generous: other suites may share the machine
        while (found := await sync_to_async(load)()) is None:
            await asyncio.sleep(0.02)
    return found


async def next_answer(call: TwilioCallClient, model: FakeRealtimeServer, *, after: int) -> None:
    """Wait until the next answer (server VAD starts it) is queued at Twilio: media beyond `after` frames."""
    await call.wait_for(lambda frames: sum(f["event"] == "media" for f in frames) > after)
    await all_audio_queued(call, model)


def media_count(call: TwilioCallClient) -> int:
    return sum(f["event"] == "media" for f in call.received)


def appended_audio(model: FakeRealtimeServer) -> bytes:
    return b"".join(base64.b64decode(e["audio"]) for e in upstream_events(model, "input_audio_buffer.append"))


# -- a call ----------------------------------------------------------------------------------


async def test_a_full_call_is_recorded(model: FakeRealtimeServer, daphne: Any, speech_ulaw: bytes) -> None:
    channel = await make_channel(
        "support", kind="twilio", greeting="Welcome the caller.", transcription_model="gpt-4o-mini-transcribe"
    )
    model.add_response(
        ScriptedResponse(transcript="Hello, thank you for calling."),
        ScriptedResponse(transcript="Your order ships tomorrow."),
    )
    model.add_transcription("Where is my order?")
    call = await incoming_call(daphne, "support")
    await call.begin()
    await next_answer(call, model, after=0)
    await call.play_all()
    before = media_count(call)
    await call.say(speech_ulaw + TRAILING_SILENCE)
    await next_answer(call, model, after=before)
    await call.play_all()
    await call.hang_up()
    await call.wait_closed()
    await wait_upstream_closed(model, 5.0)
    row, transcript = await finished()
    assert (row.channel_id, row.call_id, row.caller_number, row.end_reason) == (
        channel.pk,
        CALL_SID,
        CALLER,
        "caller_hung_up",
    )
    assert (row.user_agent, row.ip_hash) == ("Twilio Media Streams", "")
    assert [(role, text, status) for role, text, status, _ in transcript] == [
        ("assistant", "Hello, thank you for calling.", "completed"),
        ("user", "Where is my order?", "completed"),
        ("assistant", "Your order ships tomorrow.", "completed"),
    ]
    # μ-law both ways, untouched: Twilio played the model's bytes, the model heard the caller's.
    session = upstream_events(model, "session.update")[0]["session"]["audio"]
    assert session["input"]["format"]["type"] == session["output"]["format"]["type"] == "audio/pcmu"
    model_audio = b"".join(upstream_audio(model))
    assert call.twilio.played == model_audio
    assert appended_audio(model) == speech_ulaw + TRAILING_SILENCE
    assert row.output_audio_seconds == pytest.approx(len(model_audio) / 8000, abs=0.002)
    # Every media frame is followed by its mark; chunks are at most 40 ms.
    ours = [f for f in call.received if f["event"] in ("media", "mark")]
    assert [f["event"] for f in ours] == ["media", "mark"] * (len(ours) // 2)
    assert max(len(base64.b64decode(f["media"]["payload"])) for f in ours if f["event"] == "media") == 320
    assert call.protocol_errors == []
    await call.close()


async def test_an_interruption_clears_twilio_and_truncates_at_what_the_caller_heard(
    model: FakeRealtimeServer, daphne: Any, speech_ulaw: bytes
) -> None:
    await make_channel("barge", kind="twilio", greeting="Tell a long story.")
    model.add_response(
        ScriptedResponse(transcript="Once upon a time there was a long story.", audio_ms=3000),
        ScriptedResponse(transcript="Sure, go ahead."),
    )
    call = await incoming_call(daphne, "barge")
    await call.begin()
    await next_answer(call, model, after=0)
    await call.play(1000)  # the caller heard one second (25 marks echoed), then talks over the agent
    before = media_count(call)
    await call.say(speech_ulaw + TRAILING_SILENCE)
    truncate = (await model.wait_for_client_event("conversation.item.truncate"))[0]
    assert truncate["audio_end_ms"] == 1000
    await call.wait_for(lambda frames: any(f["event"] == "clear" for f in frames))
    assert call.twilio.cleared_bytes == 3000 * 8 - 1000 * 8
    # Marks Twilio returns for the cleared audio are stale: the next answer plays and is counted normally.
    await next_answer(call, model, after=before)
    await call.play_all()
    await call.hang_up()
    await call.wait_closed()
    _, transcript = await finished()
    assert [(role, status) for role, _, status, _ in transcript] == [
        ("assistant", "truncated"),
        ("user", "completed"),
        ("assistant", "completed"),
    ]
    assert transcript[0][3] == 1000
    assert len(upstream_events(model, "conversation.item.truncate")) == 1
    assert call.protocol_errors == []
    await call.close()


async def test_keys_the_caller_presses_reach_the_model(
    model: FakeRealtimeServer, daphne: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_channel("keys", kind="twilio")
    monkeypatch.setattr(twilio_call, "DTMF_GAP_S", 0.05)
    call = await incoming_call(daphne, "keys")
    await call.begin()
    await model.wait_for_client_event("session.update")
    await call.press("1", "2", "#")  # "#" sends at once
    await call.press("5")  # a lone key goes after a short pause
    created = await model.wait_for_client_event("conversation.item.create", count=2)
    texts = [e["item"]["content"][0]["text"] for e in created]
    assert texts == ["[The caller pressed 1 2 # on the keypad]", "[The caller pressed 5 on the keypad]"]
    await model.wait_for_client_event("response.create", count=2)
    await call.hang_up()
    await call.wait_closed()
    _, transcript = await finished()
    assert [text for role, text, _, _ in transcript if role == "user"] == texts
    await call.close()


async def test_the_agent_ends_the_call_after_its_goodbye_is_heard(
    model: FakeRealtimeServer, daphne: Any
) -> None:
    await make_channel("bye", kind="twilio", greeting="Say goodbye.")
    model.add_response(
        ScriptedResponse(
            transcript="Goodbye, have a nice day!",
            function_calls=[FunctionCall(name="end_call", call_id="bye1")],
        )
    )
    call = await incoming_call(daphne, "bye")
    await call.begin()
    update = (await model.wait_for_client_event("session.update"))[0]
    tools = [t["name"] for t in update["session"]["tools"]]
    assert tools == ["end_call"]  # no transfer tool: the channel lists no numbers
    outputs = await model.wait_for_client_event("conversation.item.create")
    assert outputs[0]["item"] == {
        "type": "function_call_output",
        "call_id": "bye1",
        "output": "The call is ending.",
    }
    await all_audio_queued(call, model)
    # The line stays open while Twilio still holds the goodbye.
    assert call.close_code is None and call.twilio.buffered_bytes > 0
    await call.play_all()
    await call.wait_closed()
    assert call.twilio.played == b"".join(upstream_audio(model))
    assert await after_stream(call) == [("Hangup", None)]
    row, _ = await finished()
    assert row.end_reason == "agent_ended_call"
    runs = await sync_to_async(
        lambda: list(ToolRun.objects.filter(conversation=row).values_list("tool_name", "status"))
    )()
    assert runs == [("end_call", "ok")]
    await call.close()


async def test_the_agent_transfers_the_call_to_a_listed_number(
    model: FakeRealtimeServer, daphne: Any
) -> None:
    await make_channel("desk", kind="twilio", greeting="Transfer.", transfer_numbers="+442079460958")
    model.add_response(
        ScriptedResponse(
            transcript="I am transferring you now.",
            function_calls=[FunctionCall(name="transfer_call", arguments={"number": "+442079460958"})],
        )
    )
    call = await incoming_call(daphne, "desk")
    await call.begin()
    await model.wait_for_client_event("conversation.item.create")
    await all_audio_queued(call, model)
    await call.play_all()
    await call.wait_closed()
    assert await after_stream(call) == [("Dial", "+442079460958")]
    row, _ = await finished()
    assert row.end_reason == "transferred"
    await call.close()


async def test_the_caller_hangs_up_mid_answer(model: FakeRealtimeServer, daphne: Any) -> None:
    await make_channel("gone", kind="twilio", greeting="Talk.")
    model.add_response(
        ScriptedResponse(transcript="This answer is long and the caller will not wait.", audio_ms=5000)
    )
    call = await incoming_call(daphne, "gone")
    await call.begin()
    await next_answer(call, model, after=0)
    await call.play(500)
    await call.hang_up()
    await call.wait_closed()
    await wait_upstream_closed(model, 5.0)
    row, transcript = await finished()
    assert row.end_reason == "caller_hung_up"
    # The recording keeps what the caller heard up to the last echoed mark (12 chunks of 40 ms within
    # the 500 ms played), not the 5 s the model generated.
    assert [(role, status, ms) for role, _, status, ms in transcript] == [("assistant", "interrupted", 480)]
    await call.close()


# -- refusals and bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    [
        "missing",
        "garbage",
        "other_token",
        "https_url",
        "other_slug",
        "unknown_channel",
        "web_channel",
        "inactive_channel",
    ],
)
async def test_unsigned_or_misdirected_streams_are_refused(
    model: FakeRealtimeServer, daphne: Any, how: str
) -> None:
    await make_channel("line", kind="twilio")
    await make_channel("site")  # a web channel
    await make_channel("off", kind="twilio", is_active=False)
    slug = {"unknown_channel": "nope", "web_channel": "site", "inactive_channel": "off"}.get(how, "line")
    url = f"{daphne_url(daphne, 'ws')}/ws/realtime/twilio/{slug}/"
    signature: str | None = {
        "missing": None,
        "garbage": "bm90IGEgc2lnbmF0dXJl",
        "other_token": twilio_signature("another-account", url),
        "https_url": twilio_signature(TOKEN, url.replace("ws://", "http://")),
        "other_slug": twilio_signature(TOKEN, url.replace("/line/", "/other/")),
    }.get(how, twilio_signature(TOKEN, url))
    call = TwilioCallClient(url, signature=signature, call_sid=CALL_SID, parameters={})
    with pytest.raises(InvalidStatus) as refused:
        await call.connect()
    assert refused.value.response.status_code == 403
    assert await sync_to_async(Conversation.objects.count)() == 0
    assert model.all_connections == []


async def test_malformed_frames_are_ignored_and_the_call_goes_on(
    model: FakeRealtimeServer, daphne: Any
) -> None:
    await make_channel("noisy", kind="twilio")
    call = await incoming_call(daphne, "noisy")
    await call.connect()
    sid = call.stream.stream_sid
    await call.send("not json", call.stream.connected())  # before start: ignored
    await call.send(call.stream.start())
    await model.wait_for_client_event("session.update")
    await call.send(
        "not json",
        "[1, 2]",
        b"\xff\xfe binary",
        json.dumps({"event": "media", "streamSid": sid}),
        json.dumps({"event": "media", "streamSid": sid, "media": {"timestamp": "0", "payload": "%%%"}}),
        json.dumps(
            {"event": "media", "streamSid": "MZother", "media": {"timestamp": "0", "payload": "AAAA"}}
        ),
        json.dumps({"event": "party", "streamSid": sid}),
        json.dumps({"event": "dtmf", "streamSid": sid, "dtmf": {"digit": "x"}}),
        json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "someone-elses-mark"}}),
        json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "ra1:0:0:999999:item_forged"}}),
        call.stream.start(),
    )
    await call.press("#")
    created = await model.wait_for_client_event("conversation.item.create")
    assert created[0]["item"]["content"][0]["text"] == "[The caller pressed # on the keypad]"
    assert appended_audio(model) == b""
    await call.hang_up()
    await call.wait_closed()
    row, _ = await finished()
    assert row.end_reason == "caller_hung_up"
    await call.close()


async def test_a_flood_of_bad_frames_closes_the_call(model: FakeRealtimeServer, daphne: Any) -> None:
    await make_channel("flood", kind="twilio")
    call = await incoming_call(daphne, "flood")
    await call.begin()
    await model.wait_for_client_event("session.update")
    await call.send(*["{}"] * twilio_call.MAX_STRIKES)
    await call.wait_closed()
    row, _ = await finished()
    assert row.end_reason == "protocol_violation"
    assert await after_stream(call) == [("Say", FAILED), ("Hangup", None)]
    await call.close()


async def test_a_stream_without_start_is_closed(
    model: FakeRealtimeServer, daphne: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_channel("silent", kind="twilio")
    monkeypatch.setattr(twilio_consumer, "START_TIMEOUT_S", 0.2)
    call = await incoming_call(daphne, "silent")
    await call.connect()
    await call.send(call.stream.connected())
    await call.wait_closed()
    assert await sync_to_async(Conversation.objects.count)() == 0
    assert model.all_connections == []
    await call.close()


async def test_a_call_over_the_channel_limit_hears_busy(model: FakeRealtimeServer, daphne: Any) -> None:
    await make_channel("small", kind="twilio", max_concurrent_sessions=1)
    first = await incoming_call(daphne, "small")
    await first.begin()
    await model.wait_for_client_event("session.update")
    second = await incoming_call(daphne, "small", call_sid="CA" + "b" * 32)
    await second.begin()
    await second.wait_closed()
    assert await after_stream(second) == [("Say", BUSY), ("Hangup", None)]
    assert len(model.all_connections) == 1
    await first.hang_up()
    await first.wait_closed()
    await finished()
    await first.close()
    await second.close()


async def test_an_unreachable_model_ends_the_call_with_an_apology(
    model: FakeRealtimeServer, daphne: Any, settings: Any
) -> None:
    await make_channel("down", kind="twilio")
    settings.REALTIME_AGENTS = {**settings.REALTIME_AGENTS, "OPENAI_API_KEY": "wrong-key"}
    call = await incoming_call(daphne, "down")
    await call.begin()
    await call.wait_closed()
    assert await after_stream(call) == [("Say", FAILED), ("Hangup", None)]
    row, _ = await finished()
    assert row.end_reason == "upstream_error"
    await call.close()
