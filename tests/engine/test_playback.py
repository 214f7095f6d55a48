"""Tests for playback tracking, the audio ledger and the truncation point."""
from __future__ import annotations

import dataclasses
import math

import pytest

from realtime_agents.engine.errors import ConfigError
from realtime_agents.engine.playback import (
    AudioLedger,
    LedgerEntry,
    PlaybackState,
    PlaybackTracker,
    truncation_point,
)

PCM_MS = 48  # bytes per ms, PCM16 mono 24 kHz
G711_MS = 8  # bytes per ms, G.711 8 kHz


# -- PlaybackTracker ------------------------------------------------------------------------------


def test_tracker_starts_idle() -> None:
    state = PlaybackTracker().get_state()
    assert state == PlaybackState(current_item_id=None, current_item_content_index=None, elapsed_ms=None)


def test_tracker_accumulates_per_item_and_resets_on_new_item() -> None:
    tracker = PlaybackTracker()
    tracker.on_play_ms("a", 0, 20)
    tracker.on_play_ms("a", 0, 30.5)
    assert tracker.get_state() == PlaybackState(current_item_id="a", current_item_content_index=0,
                                                elapsed_ms=50.5)
    tracker.on_play_ms("b", 0, 10)
    assert tracker.get_state() == PlaybackState(current_item_id="b", current_item_content_index=0,
                                                elapsed_ms=10.0)
    tracker.on_play_ms("b", 1, 5)
    assert tracker.get_state().current_item_content_index == 1
    assert tracker.get_state().elapsed_ms == 5.0


def test_tracker_interrupted_clears_state() -> None:
    tracker = PlaybackTracker()
    tracker.on_play_ms("a", 0, 100)
    tracker.on_interrupted()
    assert tracker.get_state().current_item_id is None
    assert tracker.get_state().elapsed_ms is None
    tracker.on_play_ms("a", 0, 7)
    assert tracker.get_state().elapsed_ms == 7.0, "after an interruption counting starts again"


def test_tracker_bytes_pcm16_by_default() -> None:
    tracker = PlaybackTracker()
    tracker.on_play_bytes("a", 0, b"\x00" * (PCM_MS * 20))
    tracker.on_play_bytes("a", 0, bytearray(PCM_MS * 10))
    tracker.on_play_bytes("a", 0, memoryview(b"\x00" * PCM_MS * 5))
    tracker.on_play_bytes("a", 0, PCM_MS * 5)
    assert tracker.get_state().elapsed_ms == pytest.approx(40.0)
    assert tracker.audio_format == "pcm16"


@pytest.mark.parametrize("fmt", ["g711_ulaw", "g711_alaw", "audio/pcmu", "audio/pcma",
                                 {"type": "audio/pcmu"}])
def test_tracker_bytes_g711(fmt: object) -> None:
    tracker = PlaybackTracker()
    tracker.set_audio_format(fmt)
    tracker.on_play_bytes("a", 0, b"\xff" * 160)
    assert tracker.get_state().elapsed_ms == pytest.approx(160 / G711_MS)


@pytest.mark.parametrize("fmt", ["pcm16", "audio/pcm", {"type": "audio/pcm", "rate": 24000}, None])
def test_tracker_pcm_spellings(fmt: object) -> None:
    tracker = PlaybackTracker()
    tracker.set_audio_format("g711_ulaw")
    tracker.set_audio_format(fmt)
    tracker.on_play_bytes("a", 0, 960)
    assert tracker.get_state().elapsed_ms == pytest.approx(20.0)


def test_tracker_bad_input() -> None:
    tracker = PlaybackTracker()
    with pytest.raises(ValueError, match="ms must be a finite, non-negative number"):
        tracker.on_play_ms("a", 0, -1)
    with pytest.raises(ValueError, match="ms must be a finite"):
        tracker.on_play_ms("a", 0, math.nan)
    with pytest.raises(ValueError, match="ms must be a finite"):
        tracker.on_play_ms("a", 0, True)
    with pytest.raises(ValueError, match="item_id must be a non-empty string"):
        tracker.on_play_ms("", 0, 1)
    with pytest.raises(ValueError, match="item_content_index must be a non-negative integer"):
        tracker.on_play_ms("a", -1, 1)
    with pytest.raises(ValueError, match="bytes must be audio bytes or a non-negative byte count"):
        tracker.on_play_bytes("a", 0, "not audio")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative byte count"):
        tracker.on_play_bytes("a", 0, -48)
    with pytest.raises(ConfigError, match="unknown audio format"):
        tracker.set_audio_format("mp3")
    assert tracker.get_state().current_item_id is None, "rejected calls change nothing"


def test_playback_state_is_frozen_and_dict_compatible() -> None:
    state = PlaybackState(current_item_id="a", current_item_content_index=0, elapsed_ms=12.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.elapsed_ms = 3.0  # type: ignore[misc]
    assert state["elapsed_ms"] == 12.0 and state.get("current_item_id") == "a"
    assert state.get("nope", "default") == "default"
    with pytest.raises(KeyError):
        state["nope"]


# -- AudioLedger ----------------------------------------------------------------------------------


def test_ledger_empty() -> None:
    ledger = AudioLedger()
    assert ledger.current() is None
    assert ledger.received_ms("a") == 0.0


def test_ledger_counts_per_item_and_tracks_latest() -> None:
    ledger = AudioLedger()
    ledger.on_audio("a", 0, PCM_MS * 100, "r1", 10.0)
    ledger.on_audio("a", 0, PCM_MS * 50, "r1", 10.5)
    assert ledger.current() == LedgerEntry(item_id="a", content_index=0, response_id="r1", received_ms=150.0,
                                           first_audio_at=10.0)
    ledger.on_audio("b", 0, PCM_MS * 20, "r2", 11.0)
    entry = ledger.current()
    assert entry is not None and entry.item_id == "b" and entry.response_id == "r2"
    assert entry.received_ms == 20.0 and entry.first_audio_at == 11.0
    assert ledger.received_ms("a") == 150.0
    ledger.on_audio("a", 0, PCM_MS * 10, "r1", 12.0)
    entry = ledger.current()
    assert entry is not None and entry.item_id == "a" and entry.received_ms == 160.0
    assert entry.first_audio_at == 10.0, "the first chunk's time is kept"


def test_ledger_g711_and_format_change_mid_stream() -> None:
    ledger = AudioLedger()
    ledger.set_format({"type": "audio/pcmu"})
    ledger.on_audio("a", 0, 800, None, 0.0)
    assert ledger.received_ms("a") == pytest.approx(100.0)
    ledger.set_format("audio/pcm")
    ledger.on_audio("a", 0, PCM_MS * 100, None, 0.1)
    assert ledger.received_ms("a") == pytest.approx(200.0), "earlier bytes keep their G.711 duration"
    ledger.set_format("pcm16")  # unchanged format is a no-op
    assert ledger.received_ms("a") == pytest.approx(200.0)


def test_ledger_new_content_part_counts_afresh() -> None:
    ledger = AudioLedger()
    ledger.on_audio("a", 0, PCM_MS * 100, "r", 1.0)
    ledger.on_audio("a", 1, PCM_MS * 10, "r", 2.0)
    entry = ledger.current()
    assert entry is not None
    assert (entry.content_index, entry.received_ms, entry.first_audio_at) == (1, 10.0, 2.0)


def test_ledger_reset() -> None:
    ledger = AudioLedger()
    ledger.on_audio("a", 0, PCM_MS * 100, "r1", 1.0)
    ledger.reset()
    assert ledger.current() is None
    assert ledger.received_ms("a") == 0.0
    ledger.on_audio("a", 0, PCM_MS, "r1", 5.0)
    entry = ledger.current()
    assert entry is not None and entry.received_ms == 1.0 and entry.first_audio_at == 5.0


def test_ledger_forget_response() -> None:
    ledger = AudioLedger()
    ledger.on_audio("a", 0, PCM_MS * 10, "r1", 1.0)
    ledger.on_audio("b", 0, PCM_MS * 10, "r2", 2.0)
    ledger.forget_response("r1")
    assert ledger.received_ms("a") == 0.0
    assert ledger.received_ms("b") == 10.0
    assert ledger.current() is not None and ledger.current().item_id == "b"  # type: ignore[union-attr]
    ledger.forget_response("r2")
    assert ledger.current() is None and ledger.received_ms("b") == 0.0
    ledger.forget_response("unknown")  # nothing to forget is fine


def test_ledger_bad_input() -> None:
    ledger = AudioLedger()
    with pytest.raises(ValueError, match="item_id must be a non-empty string"):
        ledger.on_audio("", 0, 10, None, 0.0)
    with pytest.raises(ValueError, match="n_bytes must be a non-negative integer"):
        ledger.on_audio("a", 0, -1, None, 0.0)
    with pytest.raises(ValueError, match="n_bytes must be a non-negative integer"):
        ledger.on_audio("a", 0, 1.5, None, 0.0)  # type: ignore[arg-type]
    ledger.on_audio("a", 0, 10, None, 0.0)
    with pytest.raises(ValueError, match="n_bytes must not be negative"):
        ledger.on_audio("a", 0, -10, None, 0.0)
    with pytest.raises(ConfigError, match="unknown audio format"):
        ledger.set_format("opus")
    assert ledger.received_ms("a") == pytest.approx(10 / PCM_MS)


def test_ledger_and_tracker_handle_100k_calls() -> None:
    ledger = AudioLedger()
    tracker = PlaybackTracker()
    for index in range(100_000):
        item_id = "a" if index < 60_000 else "b"
        ledger.on_audio(item_id, 0, 960, "r", index * 0.02)
        tracker.on_play_bytes(item_id, 0, 960)
    assert ledger.received_ms("a") == pytest.approx(60_000 * 20.0)
    assert ledger.received_ms("b") == pytest.approx(40_000 * 20.0)
    entry = ledger.current()
    assert entry is not None and entry.item_id == "b" and entry.first_audio_at == pytest.approx(60_000 * 0.02)
    assert tracker.get_state().elapsed_ms == pytest.approx(40_000 * 20.0)


# -- truncation_point -----------------------------------------------------------------------------


def entry(received_ms: float = 1000.0, first_audio_at: float = 100.0, item_id: str = "a") -> LedgerEntry:
    return LedgerEntry(item_id=item_id, content_index=0, response_id="r1", received_ms=received_ms,
                       first_audio_at=first_audio_at)


def state(item_id: str | None, elapsed_ms: float | None, index: int | None = 0) -> PlaybackState:
    return PlaybackState(current_item_id=item_id, current_item_content_index=index, elapsed_ms=elapsed_ms)


def test_tracker_wins_when_it_reports_this_item() -> None:
    # The wall clock says 900 ms, the app says it played 250.7 ms.
    point = truncation_point(entry=entry(), tracker_state=state("a", 250.7), now=100.9, response_active=True)
    assert point == 250


def test_wall_clock_when_tracker_reports_another_item_or_nothing() -> None:
    for tracker_state in (None, state("other", 10.0), state(None, None), state("a", None),
                          state("a", 50.0, 1), state("a", math.nan)):
        point = truncation_point(entry=entry(), tracker_state=tracker_state, now=100.4321,
                                 response_active=True)
        assert point == 432, tracker_state


def test_clamped_to_received() -> None:
    assert truncation_point(entry=entry(received_ms=300.9), tracker_state=state("a", 5000.0), now=0.0,
                            response_active=True) == 300
    assert truncation_point(entry=entry(received_ms=300.0), tracker_state=None, now=105.0,
                            response_active=True) == 300


def test_skip_when_finished_and_response_inactive() -> None:
    assert truncation_point(entry=entry(received_ms=300.0), tracker_state=None, now=101.0,
                            response_active=False) is None
    assert truncation_point(entry=entry(received_ms=300.0), tracker_state=state("a", 300.0), now=0.0,
                            response_active=False) is None
    # The app reports whole milliseconds: 7546 of 7546.4 ms is the whole answer, not a cut at 7546.
    assert truncation_point(entry=entry(received_ms=7546.4), tracker_state=state("a", 7546.0), now=0.0,
                            response_active=False) is None
    assert truncation_point(entry=entry(received_ms=7546.4), tracker_state=state("a", 7545.0), now=0.0,
                            response_active=False) == 7545


def test_send_when_finished_but_response_still_active() -> None:
    # The model may still be streaming audio for this item, so what was heard must be pinned.
    assert truncation_point(entry=entry(received_ms=300.0), tracker_state=state("a", 300.0), now=0.0,
                            response_active=True) == 300


def test_send_when_not_finished_and_response_inactive() -> None:
    assert truncation_point(entry=entry(received_ms=300.0), tracker_state=state("a", 120.0), now=0.0,
                            response_active=False) == 120


def test_negative_and_zero_elapsed() -> None:
    # The clock went backwards (or audio arrived "after" now): nothing was heard.
    assert truncation_point(entry=entry(), tracker_state=None, now=99.0, response_active=False) == 0
    assert truncation_point(entry=entry(), tracker_state=None, now=100.0, response_active=False) == 0
    assert truncation_point(entry=entry(), tracker_state=state("a", 0.0), now=500.0,
                            response_active=False) == 0
    assert truncation_point(entry=entry(), tracker_state=state("a", -20.0), now=500.0,
                            response_active=True) == 0


def test_no_audio_received() -> None:
    silent = entry(received_ms=0.0)
    assert truncation_point(entry=silent, tracker_state=None, now=100.0, response_active=False) is None
    assert truncation_point(entry=silent, tracker_state=None, now=100.0, response_active=True) == 0


def test_ledger_and_tracker_together() -> None:
    ledger = AudioLedger()
    tracker = PlaybackTracker()
    ledger.set_format("g711_ulaw")
    tracker.set_audio_format("audio/pcmu")
    for chunk in range(10):
        ledger.on_audio("a", 0, 160, "r1", 50.0 + chunk * 0.001)
    for _ in range(3):
        tracker.on_play_bytes("a", 0, 160)
    current = ledger.current()
    assert current is not None and current.received_ms == pytest.approx(200.0)
    # The app played 60 ms of 200 received; the wall clock (10 s) is ignored.
    assert truncation_point(entry=current, tracker_state=tracker.get_state(), now=60.0,
                            response_active=False) == 60
