"""Tests for the Twilio Media Streams wire format: frames in, typed events and errors out; frames out."""

from __future__ import annotations

import base64
import json

import pytest

from realtime_agents.telephony.twilio_stream import (
    MAX_FRAME_CHARS,
    ULAW_SILENCE,
    CallerAudio,
    PlaybackMark,
    TwilioConnected,
    TwilioDtmf,
    TwilioFrameError,
    TwilioMark,
    TwilioMedia,
    TwilioStart,
    TwilioStop,
    clear_frame,
    mark_frame,
    media_frame,
    parse_twilio_frame,
)

from .twilio_sim import caller_frames

SID = "MZ" + "1" * 32
CALL = "CA" + "2" * 32


def _media(payload: object = "AAAA", **media: object) -> str:
    body = {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": payload, **media}
    return json.dumps({"event": "media", "sequenceNumber": "3", "streamSid": SID, "media": body})


# -- a whole call, from real speech ---------------------------------------------------------------


def test_simulated_call_parses_into_typed_events(speech_ulaw: bytes) -> None:
    frames = caller_frames(
        speech_ulaw,
        stream_sid=SID,
        call_sid=CALL,
        parameters={"channel": "support", "caller": "+15551230000"},
        dtmf_after_chunk={10: "5", 11: "#"},
    )
    events = [parse_twilio_frame(frame) for frame in frames]
    assert not [e for e in events if isinstance(e, TwilioFrameError)]
    assert events[0] == TwilioConnected(protocol="Call", version="1.0.0")
    start = events[1]
    assert isinstance(start, TwilioStart)
    assert (start.stream_sid, start.call_sid, start.sequence_number) == (SID, CALL, 1)
    assert dict(start.custom_parameters) == {"channel": "support", "caller": "+15551230000"}
    assert (start.encoding, start.sample_rate, start.channels, start.tracks) == (
        "audio/x-mulaw",
        8000,
        1,
        ("inbound",),
    )
    media = [e for e in events if isinstance(e, TwilioMedia)]
    assert [m.chunk for m in media] == list(range(1, len(media) + 1))
    assert [m.timestamp_ms for m in media[:3]] == [0, 20, 40]
    assert b"".join(m.audio for m in media) == speech_ulaw
    assert [e.digit for e in events if isinstance(e, TwilioDtmf)] == ["5", "#"]
    assert events[-1] == TwilioStop(
        stream_sid=SID, account_sid="AC" + "0" * 32, call_sid=CALL, sequence_number=len(frames) - 1
    )


def test_caller_audio_pads_dropped_frames_with_silence(speech_ulaw: bytes) -> None:
    frames = caller_frames(speech_ulaw, stream_sid=SID, call_sid=CALL, drop_chunks=[5, 6, 7, 30])
    caller = CallerAudio()
    out = bytearray()
    for frame in frames:
        event = parse_twilio_frame(frame)
        if isinstance(event, TwilioMedia):
            out += caller.feed(event)
    assert len(out) == len(speech_ulaw), "every lost 20 ms frame is replaced by 20 ms of silence"
    assert out[4 * 160 : 7 * 160] == bytes([ULAW_SILENCE]) * 480
    assert out[: 4 * 160] == speech_ulaw[: 4 * 160]
    assert out[7 * 160 : 29 * 160] == speech_ulaw[7 * 160 : 29 * 160]
    assert (caller.gaps, caller.padded_ms) == (2, 80)


def test_caller_audio_gap_padding_is_bounded_and_outbound_track_ignored() -> None:
    caller = CallerAudio(max_gap_ms=100)
    first = TwilioMedia(stream_sid=SID, track="inbound", chunk=1, timestamp_ms=0, audio=b"\x01" * 160)
    late = TwilioMedia(stream_sid=SID, track="inbound", chunk=2, timestamp_ms=60_000, audio=b"\x02" * 160)
    echo = TwilioMedia(stream_sid=SID, track="outbound", chunk=2, timestamp_ms=20, audio=b"\x03" * 160)
    assert caller.feed(first) == b"\x01" * 160
    assert caller.feed(echo) == b""
    assert caller.feed(late) == bytes([ULAW_SILENCE]) * 800 + b"\x02" * 160
    assert caller.padded_ms == 100
    # A frame from the past (reordered) plays as it is, with no padding.
    old = TwilioMedia(stream_sid=SID, track="inbound_track", chunk=3, timestamp_ms=40, audio=b"\x04" * 160)
    assert caller.feed(old) == b"\x04" * 160
    with pytest.raises(ValueError, match="max_gap_ms"):
        CallerAudio(max_gap_ms=-1)


# -- single frames ---------------------------------------------------------------------------------


def test_numbers_may_be_strings_or_integers() -> None:
    event = parse_twilio_frame(
        json.dumps(
            {
                "event": "media",
                "sequenceNumber": 4,
                "streamSid": SID,
                "media": {
                    "track": "inbound",
                    "chunk": 2,
                    "timestamp": 20,
                    "payload": base64.b64encode(b"\xff\x7f").decode(),
                },
            }
        )
    )
    assert isinstance(event, TwilioMedia)
    assert (event.sequence_number, event.chunk, event.timestamp_ms, event.audio) == (4, 2, 20, b"\xff\x7f")
    assert "<2 bytes>" in repr(event), "media repr shows a size, never audio"


def test_mark_dtmf_and_stop_frames() -> None:
    mark = parse_twilio_frame(
        json.dumps({"event": "mark", "streamSid": SID, "sequenceNumber": "9", "mark": {"name": "greeting"}})
    )
    assert mark == TwilioMark(stream_sid=SID, name="greeting", sequence_number=9)
    dtmf = parse_twilio_frame(
        json.dumps({"event": "dtmf", "streamSid": SID, "dtmf": {"track": "inbound_track", "digit": "a"}})
    )
    assert dtmf == TwilioDtmf(stream_sid=SID, digit="A")
    stop = parse_twilio_frame(json.dumps({"event": "stop", "streamSid": SID}))
    assert stop == TwilioStop(stream_sid=SID)
    assert parse_twilio_frame(json.dumps({"event": "connected"}).encode()) == TwilioConnected(
        protocol="", version=""
    )


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object, got list"),
        (json.dumps({"streamSid": SID}), "frame.event must be a string"),
        (json.dumps({"event": "hello", "streamSid": SID}), "unknown event 'hello'"),
        (json.dumps({"event": "media", "streamSid": SID}), "frame.media is missing"),
        (json.dumps({"event": "media", "streamSid": SID, "media": []}), "frame.media must be an object"),
        (_media(payload="***not base64***"), "media.payload is not valid base64"),
        (_media(payload=12), "media.payload must be a string"),
        (_media(timestamp="-5"), "media.timestamp must be a non-negative integer"),
        (_media(timestamp=True), "media.timestamp must be a non-negative integer"),
        (json.dumps({"event": "media", "media": {"payload": "", "timestamp": "0"}}), "streamSid"),
        (json.dumps({"event": "mark", "streamSid": SID, "mark": {}}), "mark.name is missing"),
        (
            json.dumps({"event": "dtmf", "streamSid": SID, "dtmf": {"digit": "55"}}),
            "dtmf.digit must be one of",
        ),
        (
            json.dumps({"event": "dtmf", "streamSid": SID, "dtmf": {"digit": "x"}}),
            "dtmf.digit must be one of",
        ),
        (
            json.dumps(
                {
                    "event": "start",
                    "streamSid": SID,
                    "start": {
                        "callSid": CALL,
                        "mediaFormat": {"encoding": "audio/l16", "sampleRate": 16000, "channels": 1},
                    },
                }
            ),
            "unsupported media format",
        ),
        (json.dumps({"event": "start", "streamSid": SID, "start": {}}), "start.callSid is missing"),
        (
            json.dumps({"event": "start", "streamSid": SID, "start": {"callSid": CALL, "tracks": "inbound"}}),
            "start.tracks must be a list",
        ),
        (json.dumps({"event": "stop", "streamSid": SID, "stop": "x"}), "frame.stop must be an object"),
        (
            json.dumps({"event": "mark", "streamSid": SID, "sequenceNumber": "1e3", "mark": {"name": "a"}}),
            "frame.sequenceNumber must be a non-negative integer",
        ),
    ],
)
def test_malformed_frames_become_error_values(frame: str, reason: str) -> None:
    event = parse_twilio_frame(frame)
    assert isinstance(event, TwilioFrameError)
    assert reason in event.reason


def test_error_values_never_carry_audio_and_limits_hold() -> None:
    bad = parse_twilio_frame(_media(payload="QUJD", timestamp="soon"))
    assert isinstance(bad, TwilioFrameError) and bad.event == "media"
    assert bad.excerpt == "", "a media frame's excerpt would contain caller audio"
    start = parse_twilio_frame(json.dumps({"event": "start", "streamSid": SID, "start": {"callSid": 5}}))
    assert isinstance(start, TwilioFrameError) and start.excerpt == "", "start frames carry caller details"
    other = parse_twilio_frame(json.dumps({"event": "nope", "streamSid": SID}))
    assert isinstance(other, TwilioFrameError) and other.excerpt.startswith('{"event": "nope"')
    huge = parse_twilio_frame(" " * (MAX_FRAME_CHARS + 1))
    assert isinstance(huge, TwilioFrameError) and "too large" in huge.reason
    binary = parse_twilio_frame(b"\xff\xfe\x00")
    assert isinstance(binary, TwilioFrameError) and "UTF-8" in binary.reason
    deep = parse_twilio_frame("[" * 100_000 + "]" * 100_000)
    assert isinstance(deep, TwilioFrameError)
    assert isinstance(parse_twilio_frame(None), TwilioFrameError)  # type: ignore[arg-type]


# -- outgoing frames and mark names ------------------------------------------------------------------


def test_outgoing_frames_have_twilio_shape() -> None:
    assert json.loads(media_frame(SID, b"\x00\xff")) == {
        "event": "media",
        "streamSid": SID,
        "media": {"payload": "AP8="},
    }
    assert json.loads(mark_frame(SID, "m1")) == {"event": "mark", "streamSid": SID, "mark": {"name": "m1"}}
    assert json.loads(clear_frame(SID)) == {"event": "clear", "streamSid": SID}


def test_mark_names_round_trip_and_foreign_names_are_none() -> None:
    mark = PlaybackMark(item_id="item:with:colons", content_index=1, end_byte=3200, generation=7)
    assert mark.encode() == "ra1:7:1:3200:item:with:colons"
    assert PlaybackMark.decode(mark.encode()) == mark
    for name in ("greeting", "ra1:x:0:1:a", "ra1:1:0:5:", "ra2:1:0:5:a", "", "ra1:1:0:5"):
        assert PlaybackMark.decode(name) is None, name
    assert PlaybackMark.decode(123) is None  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="item_id"):
        PlaybackMark(item_id="", content_index=0, end_byte=0, generation=0)
    with pytest.raises(ValueError, match="end_byte"):
        PlaybackMark(item_id="a", content_index=0, end_byte=-1, generation=0)
