"""Browser protocol as plain data: frame parsing, audio checks, rate limiting, playback, outgoing frames."""

from __future__ import annotations

import json

import pytest

from realtime_agents.browser_frames import OutboundFrames, engine_error_frame
from realtime_agents.browser_protocol import (
    MAX_AUDIO_FRAME_BYTES,
    MAX_TEXT_FRAME_BYTES,
    ApprovalCommand,
    AudioRateLimiter,
    CommitCommand,
    EndCommand,
    InterruptCommand,
    PlaybackCommand,
    ProtocolError,
    TextCommand,
    check_audio_frame,
    parse_text_frame,
    report_playback,
)
from realtime_agents.engine import (
    AgentEndEvent,
    AgentSpec,
    AudioEvent,
    AudioInterruptedEvent,
    ErrorEvent,
    GuardrailTrippedEvent,
    HandoffEvent,
    PlaybackTracker,
    SpeechStartedEvent,
    ToolApprovalRequiredEvent,
    ToolEndEvent,
    ToolStartEvent,
    TranscriptDeltaEvent,
    TranscriptDoneEvent,
    UsageEvent,
    function_tool,
)


@function_tool
def lookup(city: str) -> str:
    """Look a city up."""
    return city


AGENT = AgentSpec(name="Front desk", instructions="Help.")
OTHER = AgentSpec(name="Billing", instructions="Bill.")


# -- incoming text frames --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type":"text","text":"hi"}', TextCommand(text="hi")),
        ('{"type":"interrupt"}', InterruptCommand()),
        (
            '{"type":"playback","item_id":"it_1","ms":120}',
            PlaybackCommand(item_id="it_1", content_index=0, ms=120.0),
        ),
        (
            '{"type":"playback","item_id":"it_1","content_index":1,"ms":2.5}',
            PlaybackCommand(item_id="it_1", content_index=1, ms=2.5),
        ),
        ('{"type":"approval","call_id":"c1","approve":true}', ApprovalCommand(call_id="c1", approve=True)),
        (
            '{"type":"approval","call_id":"c1","approve":false,"always":true}',
            ApprovalCommand(call_id="c1", approve=False, always=True),
        ),
        ('{"type":"commit"}', CommitCommand()),
        ('{"type":"end"}', EndCommand()),
    ],
)
def test_valid_frames_become_commands(text: str, expected: object) -> None:
    assert parse_text_frame(text) == expected


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("hello", "invalid_json", "JSON objects"),
        ("", "invalid_json", "JSON objects"),
        ("[1,2]", "invalid_json", "JSON objects"),
        ('"text"', "invalid_json", "JSON objects"),
        ("{}", "invalid_message", "string 'type'"),
        ('{"type":5}', "invalid_message", "string 'type'"),
        ('{"type":"dance"}', "unknown_type", "unknown frame type 'dance'"),
        ('{"type":"session.update"}', "unknown_type", "expected one of"),
        ('{"type":"text"}', "invalid_message", "needs the field 'text'"),
        ('{"type":"text","text":42}', "invalid_message", "'text' must be a non-empty string"),
        ('{"type":"text","text":"   "}', "invalid_message", "non-empty"),
        ('{"type":"text","text":"hi","voice":"x"}', "invalid_message", "has no field 'voice'"),
        ('{"type":"interrupt","now":true}', "invalid_message", "has no field 'now'"),
        ('{"type":"playback","item_id":"i","ms":"12"}', "invalid_message", "'ms' must be"),
        ('{"type":"playback","item_id":"i","ms":-1}', "invalid_message", "'ms' must be"),
        ('{"type":"playback","item_id":"i","ms":true}', "invalid_message", "'ms' must be"),
        ('{"type":"playback","item_id":"i","ms":1e400}', "invalid_message", "'ms' must be"),
        ('{"type":"playback","item_id":"","ms":1}', "invalid_message", "'item_id' must be"),
        ('{"type":"playback","item_id":7,"ms":1}', "invalid_message", "'item_id' must be"),
        ('{"type":"playback","item_id":"i","ms":1,"content_index":-1}', "invalid_message", "'content_index'"),
        (
            '{"type":"playback","item_id":"i","ms":1,"content_index":1.5}',
            "invalid_message",
            "'content_index'",
        ),
        ('{"type":"playback","ms":1}', "invalid_message", "needs the field 'item_id'"),
        (
            '{"type":"approval","call_id":"c","approve":"yes"}',
            "invalid_message",
            "'approve' must be true or false",
        ),
        ('{"type":"approval","call_id":"c","approve":true,"always":1}', "invalid_message", "'always'"),
        ('{"type":"approval","approve":true}', "invalid_message", "needs the field 'call_id'"),
        (
            '{"type":"approval","call_id":"' + "c" * 129 + '","approve":true}',
            "invalid_message",
            "at most 128",
        ),
    ],
)
def test_bad_frames_are_refused_with_a_clear_error(text: str, code: str, fragment: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_text_frame(text)
    assert caught.value.code == code
    assert fragment in caught.value.message


def test_oversized_text_frames_are_refused_before_parsing() -> None:
    frame = json.dumps({"type": "text", "text": "x" * MAX_TEXT_FRAME_BYTES})
    with pytest.raises(ProtocolError) as caught:
        parse_text_frame(frame)
    assert caught.value.code == "frame_too_large"
    # Multi-byte characters count in bytes, not characters.
    wide = json.dumps({"type": "text", "text": "é" * (MAX_TEXT_FRAME_BYTES // 2)}, ensure_ascii=False)
    assert len(wide) < MAX_TEXT_FRAME_BYTES
    with pytest.raises(ProtocolError, match="limited to 65536 bytes"):
        parse_text_frame(wide)
    assert parse_text_frame(json.dumps({"type": "text", "text": "x" * 60_000})) == TextCommand(
        text="x" * 60_000
    )


# -- incoming audio --------------------------------------------------------------------------


def test_audio_frames_must_be_even_non_empty_and_at_most_one_second() -> None:
    check_audio_frame(b"\x00\x01" * 480)
    check_audio_frame(b"\x00" * MAX_AUDIO_FRAME_BYTES)
    for data, code in [
        (b"", "invalid_audio"),
        (b"\x00" * 3, "invalid_audio"),
        (b"\x00" * (MAX_AUDIO_FRAME_BYTES + 2), "frame_too_large"),
    ]:
        with pytest.raises(ProtocolError) as caught:
            check_audio_frame(data)
        assert caught.value.code == code
    assert MAX_AUDIO_FRAME_BYTES == 48_000


def test_rate_limiter_allows_real_time_and_a_burst_but_not_a_flood() -> None:
    limiter = AudioRateLimiter(burst_ms=1000, rate=1.5, now=0.0)
    chunk = 4800  # 100 ms
    now = 0.0
    # Real time for 10 s: never refused.
    for _ in range(100):
        now += 0.1
        assert limiter.allow(chunk, now)
    # The bucket is full bar the chunk just taken: 900 ms more may arrive at once, not 1000.
    assert all(limiter.allow(chunk, now) for _ in range(9))
    assert not limiter.allow(chunk, now)
    # After 0.1 s, 150 ms of credit came back: one more chunk fits, a second does not.
    assert limiter.allow(chunk, now + 0.1)
    assert not limiter.allow(chunk, now + 0.1)


def test_rate_limiter_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="positive"):
        AudioRateLimiter(burst_ms=0)


def test_playback_positions_become_tracker_increments() -> None:
    tracker = PlaybackTracker()
    report_playback(tracker, PlaybackCommand(item_id="a", content_index=0, ms=100))
    report_playback(tracker, PlaybackCommand(item_id="a", content_index=0, ms=250))
    assert tracker.get_state().elapsed_ms == 250
    # An older report arriving late changes nothing.
    report_playback(tracker, PlaybackCommand(item_id="a", content_index=0, ms=200))
    assert tracker.get_state().elapsed_ms == 250
    report_playback(tracker, PlaybackCommand(item_id="b", content_index=0, ms=40))
    state = tracker.get_state()
    assert (state.current_item_id, state.elapsed_ms) == ("b", 40)
    tracker.on_interrupted()
    report_playback(tracker, PlaybackCommand(item_id="b", content_index=0, ms=90))
    assert tracker.get_state().elapsed_ms == 90


# -- outgoing frames -------------------------------------------------------------------------


def _frames(outbound: OutboundFrames, event: object) -> list[dict[str, object]]:
    return [json.loads(frame) for frame in outbound.frames(event)]


def test_audio_item_is_announced_only_when_it_changes() -> None:
    outbound = OutboundFrames(show_tool_arguments=False)
    first = outbound.audio_header(AudioEvent(data=b"\0\0", item_id="i1"))
    assert json.loads(first or "") == {"type": "audio.item", "item_id": "i1", "content_index": 0}
    assert outbound.audio_header(AudioEvent(data=b"\0\0", item_id="i1")) is None
    assert outbound.audio_header(AudioEvent(data=b"\0\0", item_id="i1")) is None
    assert json.loads(outbound.audio_header(AudioEvent(data=b"", item_id="i2")) or "")["item_id"] == "i2"
    assert (
        json.loads(outbound.audio_header(AudioEvent(data=b"", item_id="i2", content_index=1)) or "")[
            "content_index"
        ]
        == 1
    )
    # After an interruption the next audio is announced again, even for the same item.
    interrupted = _frames(outbound, AudioInterruptedEvent(item_id="i2", content_index=1, audio_end_ms=30))
    assert interrupted == [
        {
            "type": "audio.interrupted",
            "item_id": "i2",
            "content_index": 1,
            "audio_end_ms": 30,
            "reason": "speech",
        }
    ]
    assert outbound.audio_header(AudioEvent(data=b"", item_id="i2", content_index=1)) is not None


def test_session_events_map_to_frames() -> None:
    outbound = OutboundFrames(show_tool_arguments=False)
    assert _frames(outbound, TranscriptDeltaEvent(role="assistant", item_id="i", delta="He")) == [
        {"type": "transcript.delta", "role": "assistant", "item_id": "i", "text": "He"}
    ]
    assert _frames(outbound, TranscriptDoneEvent(role="user", item_id="u", transcript="Hello")) == [
        {"type": "transcript.done", "role": "user", "item_id": "u", "text": "Hello"}
    ]
    assert _frames(outbound, HandoffEvent(from_agent=AGENT, to_agent=OTHER)) == [
        {"type": "agent.changed", "agent": "Billing", "previous": "Front desk"}
    ]
    assert _frames(outbound, AgentEndEvent(agent=AGENT, response_id="r", status="completed")) == [
        {"type": "turn.end", "agent": "Front desk", "status": "completed"}
    ]
    assert _frames(
        outbound, GuardrailTrippedEvent(guardrail_results=(), message="secret text", item_id="i")
    ) == [{"type": "guardrail.tripped", "kind": "output", "item_id": "i"}]
    for silent in (SpeechStartedEvent(), UsageEvent(response_id="r", usage={"total_tokens": 3})):
        assert outbound.frames(silent) == []


def test_tool_arguments_only_when_the_channel_shows_them() -> None:
    args = '{"city":"Paris"}'
    events = [
        ToolStartEvent(agent=AGENT, tool=lookup, call_id="c1", arguments=args),
        ToolEndEvent(
            agent=AGENT,
            tool=lookup,
            tool_name="lookup",
            call_id="c1",
            arguments=args,
            output="secret",
            status="ok",
        ),
        ToolApprovalRequiredEvent(agent=AGENT, tool=lookup, call_id="c1", arguments=args),
    ]
    hidden = [
        frame for event in events for frame in _frames(OutboundFrames(show_tool_arguments=False), event)
    ]
    assert hidden == [
        {"type": "tool.started", "call_id": "c1", "name": "lookup"},
        {"type": "tool.ended", "call_id": "c1", "name": "lookup", "status": "ok"},
        {"type": "approval.required", "call_id": "c1", "name": "lookup"},
    ]
    shown = [frame for event in events for frame in _frames(OutboundFrames(show_tool_arguments=True), event)]
    assert [frame["arguments"] for frame in shown] == [{"city": "Paris"}] * 3
    # The tool's output never reaches the browser.
    assert "secret" not in json.dumps(shown)


def test_engine_errors_never_leak_their_messages() -> None:
    leaky = ErrorEvent(error={"code": "tool_error", "message": "tool x raised KeyError: sk-live-1234"})
    assert json.loads(engine_error_frame(leaky)) == {
        "type": "error",
        "code": "tool_error",
        "message": "A tool failed.",
    }
    upstream = ErrorEvent(error={"code": "invalid_api_key", "message": "Incorrect API key provided: sk-abc"})
    frame = json.loads(engine_error_frame(upstream))
    assert (
        frame["code"] == "model_error"
        and "invalid_api_key" in frame["message"]
        and "sk-" not in frame["message"]
    )
    odd = json.loads(engine_error_frame(ErrorEvent(error={"code": "<script>", "message": "x"})))
    assert "<script>" not in odd["message"]
    assert json.loads(engine_error_frame(ErrorEvent(error={})))["code"] == "model_error"
