"""Tests for playback to a Twilio caller: marked chunks, echoed marks, clear and the truncation point."""

from __future__ import annotations

import json

import pytest

from realtime_agents.engine.playback import AudioLedger, PlaybackTracker, truncation_point
from realtime_agents.telephony.twilio_playback import TwilioPlayback
from realtime_agents.telephony.twilio_stream import PlaybackMark, TwilioMark, parse_twilio_frame

from .twilio_sim import ULAW_MS, SimulatedTwilio

SID = "MZ" + "3" * 32


def _deltas(audio: bytes, sizes: tuple[int, ...] = (37, 410, 1203, 96, 800)) -> list[bytes]:
    """Split audio as the model does: irregular delta sizes."""
    out, start, index = [], 0, 0
    while start < len(audio):
        size = sizes[index % len(sizes)]
        out.append(audio[start : start + size])
        start, index = start + size, index + 1
    return out


def _send(twilio: SimulatedTwilio, playback: TwilioPlayback, frames: list[str]) -> None:
    for frame in frames:
        for echo in twilio.receive(frame):
            _deliver(playback, echo)


def _deliver(playback: TwilioPlayback, echo: str) -> str:
    event = parse_twilio_frame(echo)
    assert isinstance(event, TwilioMark)
    return playback.on_mark(event.name).status


def _play(twilio: SimulatedTwilio, playback: TwilioPlayback, ms: float, step: float = 20.0) -> list[str]:
    statuses: list[str] = []
    for _ in range(int(ms // step)):
        statuses += [_deliver(playback, echo) for echo in twilio.advance(step)]
    return statuses


def test_speech_is_sent_in_marked_40ms_chunks(speech_ulaw: bytes) -> None:
    playback = TwilioPlayback(stream_sid=SID)
    frames: list[str] = []
    for delta in _deltas(speech_ulaw):
        frames += playback.audio("item_A", 0, delta)
    frames += playback.flush()
    decoded = [json.loads(f) for f in frames]
    assert [d["event"] for d in decoded] == ["media", "mark"] * (len(decoded) // 2)
    sizes = [len(parse_media(d)) for d in decoded if d["event"] == "media"]
    assert all(size == 320 for size in sizes[:-1]), "every chunk but the last is 40 ms"
    assert 0 < sizes[-1] <= 320
    assert b"".join(parse_media(d) for d in decoded if d["event"] == "media") == speech_ulaw
    ends = [PlaybackMark.decode(d["mark"]["name"]) for d in decoded if d["event"] == "mark"]
    assert [m.end_byte for m in ends if m] == [
        min(320 * i, len(speech_ulaw)) for i in range(1, len(ends) + 1)
    ]
    assert {(m.item_id, m.content_index, m.generation) for m in ends if m} == {("item_A", 0, 0)}
    assert playback.pending_marks == len(ends)
    assert playback.sent_ms("item_A") == len(speech_ulaw) / ULAW_MS


def parse_media(frame: dict[str, object]) -> bytes:
    import base64

    media = frame["media"]
    assert isinstance(media, dict)
    return base64.b64decode(media["payload"])


def test_marks_echoed_after_the_audio_duration_drive_the_tracker(speech_ulaw: bytes) -> None:
    tracker = PlaybackTracker()
    playback = TwilioPlayback(stream_sid=SID, tracker=tracker, chunk_ms=20)
    twilio = SimulatedTwilio(stream_sid=SID)
    for delta in _deltas(speech_ulaw):
        _send(twilio, playback, playback.audio("item_A", 0, delta))
    _send(twilio, playback, playback.flush())
    assert tracker.get_state().elapsed_ms == 0, "nothing has played yet"
    _play(twilio, playback, 500)
    assert tracker.get_state().current_item_id == "item_A"
    assert tracker.get_state().elapsed_ms == pytest.approx(500.0), "20 ms chunks: marks land on the clock"
    total_ms = len(speech_ulaw) / ULAW_MS
    _play(twilio, playback, total_ms + 100)
    assert bytes(twilio.played) == speech_ulaw
    assert tracker.get_state().elapsed_ms == pytest.approx(total_ms)
    assert playback.pending_marks == 0
    assert playback.played_ms("item_A") == pytest.approx(total_ms)


def test_interruption_truncates_at_what_the_caller_heard_and_clear_makes_marks_stale(
    speech_ulaw: bytes,
) -> None:
    tracker = PlaybackTracker()
    ledger = AudioLedger()
    ledger.set_format("g711_ulaw")
    playback = TwilioPlayback(stream_sid=SID, tracker=tracker, chunk_ms=40)
    twilio = SimulatedTwilio(stream_sid=SID)
    # The model generates faster than real time: all audio reaches Twilio's buffer at once.
    for delta in _deltas(speech_ulaw):
        ledger.on_audio("item_A", 0, len(delta), "resp_1", now=0.0)
        _send(twilio, playback, playback.audio("item_A", 0, delta))
    _send(twilio, playback, playback.flush())
    _play(twilio, playback, 740, step=10)
    heard_ms = len(twilio.played) / ULAW_MS
    assert heard_ms == pytest.approx(740)
    entry = ledger.current()
    assert entry is not None
    # The wall clock says far more (now=60 s): the marks must win.
    end_ms = truncation_point(entry=entry, tracker_state=tracker.get_state(), now=60.0, response_active=True)
    assert end_ms == 720, "the last 40 ms chunk fully played ends at 720 ms"
    assert heard_ms - 40 < end_ms <= heard_ms
    pending = playback.pending_marks
    statuses: list[str] = []
    for frame in playback.clear():
        statuses += [_deliver(playback, echo) for echo in twilio.receive(frame)]
    assert statuses == ["stale"] * pending, "every mark Twilio returns after clear is ignored"
    assert twilio.buffered_bytes == 0 and twilio.cleared_bytes == len(speech_ulaw) - len(twilio.played)
    assert tracker.get_state().elapsed_ms == pytest.approx(720.0), "stale marks did not move the tracker"
    assert playback.generation == 1 and playback.pending_marks == 0
    # The next answer plays in the new generation and counts from zero.
    _send(twilio, playback, playback.audio("item_B", 0, speech_ulaw[:1600]))
    assert tracker.get_state().current_item_id == "item_B" and tracker.get_state().elapsed_ms == 0
    _play(twilio, playback, 120)
    assert tracker.get_state().elapsed_ms == pytest.approx(120.0)


def test_new_item_starts_at_zero_while_the_previous_tail_plays(speech_ulaw: bytes) -> None:
    tracker = PlaybackTracker()
    playback = TwilioPlayback(stream_sid=SID, tracker=tracker)
    twilio = SimulatedTwilio(stream_sid=SID)
    _send(twilio, playback, playback.audio("item_A", 0, speech_ulaw[:3200]))
    _play(twilio, playback, 200)
    assert tracker.get_state().current_item_id == "item_A"
    # item_B's first chunk is queued behind 200 ms of item_A: an interruption now must cut B at 0.
    _send(twilio, playback, playback.audio("item_B", 0, speech_ulaw[:640]))
    assert (tracker.get_state().current_item_id, tracker.get_state().elapsed_ms) == ("item_B", 0)
    _play(twilio, playback, 200)
    assert (tracker.get_state().current_item_id, tracker.get_state().elapsed_ms) == (
        "item_B",
        0,
    ), "item_A's late marks do not pull the tracker back"
    _play(twilio, playback, 40)
    assert tracker.get_state().elapsed_ms == pytest.approx(40.0)
    assert playback.played_ms("item_A") == pytest.approx(400.0)


def test_item_change_flushes_the_partial_chunk() -> None:
    playback = TwilioPlayback(stream_sid=SID)
    assert playback.audio("a", 0, b"\x01" * 100) == []
    assert playback.buffered_ms == pytest.approx(12.5)
    frames = playback.audio("b", 0, b"\x02" * 100)
    assert len(frames) == 2 and json.loads(frames[1])["mark"]["name"] == "ra1:0:0:100:a"
    assert playback.flush()[1] == json.dumps(
        {"event": "mark", "streamSid": SID, "mark": {"name": "ra1:0:0:100:b"}}
    )
    assert playback.flush() == []


def test_foreign_forged_and_duplicate_marks_are_not_counted() -> None:
    tracker = PlaybackTracker()
    playback = TwilioPlayback(stream_sid=SID, tracker=tracker)
    playback.audio("a", 0, b"\x00" * 320)
    assert playback.on_mark("greeting").status == "foreign"
    assert playback.on_mark("ra1:0:0:99999:a").status == "foreign", "beyond what was sent"
    assert playback.on_mark("ra1:0:0:320:other").status == "foreign"
    assert tracker.get_state().elapsed_ms == 0
    outcome = playback.on_mark("ra1:0:0:320:a")
    assert (outcome.status, outcome.played_ms) == ("played", 40.0)
    assert playback.on_mark("ra1:0:0:320:a").status == "played"
    assert tracker.get_state().elapsed_ms == pytest.approx(40.0), "a repeated mark adds nothing"


def test_bad_arguments_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="chunk_ms"):
        TwilioPlayback(stream_sid=SID, chunk_ms=100)
    with pytest.raises(ValueError, match="stream_sid"):
        TwilioPlayback(stream_sid="")
    playback = TwilioPlayback(stream_sid=SID)
    with pytest.raises(ValueError, match="item_id"):
        playback.audio("", 0, b"x")
    with pytest.raises(ValueError, match="content_index"):
        playback.audio("a", -1, b"x")
    with pytest.raises(ValueError, match="bytes"):
        playback.audio("a", 0, "audio")  # type: ignore[arg-type]
