"""Where assistant audio playback stands: the app's tracker, our receive ledger, and the truncate point."""
from __future__ import annotations

import builtins
import math
from dataclasses import dataclass
from typing import Any

from .audio import AudioFormat, bytes_per_ms, normalize_audio_format

__all__ = ["AudioLedger", "LedgerEntry", "PlaybackState", "PlaybackTracker", "truncation_point"]


@dataclass(frozen=True, kw_only=True)
class PlaybackState:
    """What the app has played: the item, its content index, and ms of it played so far."""

    current_item_id: str | None = None
    current_item_content_index: int | None = None
    elapsed_ms: float | None = None

    def __getitem__(self, key: str) -> Any:
        """Seed compatibility: the anchor SDK returns a dict, so `state["elapsed_ms"]` works too."""
        if key not in ("current_item_id", "current_item_content_index", "elapsed_ms"):
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Seed compatibility: dict-style `state.get("elapsed_ms")`."""
        try:
            return self[key]
        except KeyError:
            return default


_IDLE = PlaybackState()


def _check_item(item_id: Any, item_content_index: Any) -> None:
    if not isinstance(item_id, str) or not item_id:
        raise ValueError(f"item_id must be a non-empty string, got {item_id!r}")
    index = item_content_index
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"item_content_index must be a non-negative integer, got {item_content_index!r}")


class PlaybackTracker:
    """Tell the session how much assistant audio the user really heard (pass it as `playback_tracker`)."""

    def __init__(self) -> None:
        self._format: AudioFormat = "pcm16"
        self._bytes_per_ms = bytes_per_ms("pcm16")
        self._item_id: str | None = None
        self._content_index: int | None = None
        self._elapsed_ms: float | None = None

    def on_play_bytes(self, item_id: str, item_content_index: int, bytes: bytes | int) -> None:
        """Audio of an item was played: raw bytes in the session's output format, or their count."""
        if isinstance(bytes, (builtins.bytes, bytearray, memoryview)):
            count = memoryview(bytes).nbytes
        elif isinstance(bytes, int) and not isinstance(bytes, bool) and bytes >= 0:
            count = bytes
        else:
            kind = type(bytes).__name__
            raise ValueError(f"bytes must be audio bytes or a non-negative byte count, got {kind}")
        self.on_play_ms(item_id, item_content_index, count / self._bytes_per_ms)

    def on_play_ms(self, item_id: str, item_content_index: int, ms: float) -> None:
        """Ms of an item were played; a different item (or content part) starts a new count."""
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not math.isfinite(ms) or ms < 0:
            raise ValueError(f"ms must be a finite, non-negative number, got {ms!r}")
        same = item_id == self._item_id and item_content_index == self._content_index
        if same and self._elapsed_ms is not None:
            self._elapsed_ms += ms
            return
        _check_item(item_id, item_content_index)
        self._item_id = item_id
        self._content_index = item_content_index
        self._elapsed_ms = float(ms)

    def on_interrupted(self) -> None:
        """Playback stopped: nothing is playing until the next `on_play_*`."""
        self._item_id = None
        self._content_index = None
        self._elapsed_ms = None

    def set_audio_format(self, format: Any) -> None:
        """The session's output format (beta or GA spelling); None means PCM16."""
        self._format = "pcm16" if format is None else normalize_audio_format(format)
        self._bytes_per_ms = bytes_per_ms(self._format)

    @property
    def audio_format(self) -> AudioFormat:
        """The format byte counts are measured in."""
        return self._format

    def get_state(self) -> PlaybackState:
        """The item playing now and ms of it played."""
        if self._item_id is None:
            return _IDLE
        return PlaybackState(current_item_id=self._item_id, current_item_content_index=self._content_index,
                             elapsed_ms=self._elapsed_ms)


@dataclass(frozen=True, kw_only=True)
class LedgerEntry:
    """Audio received for one item: how much, for which response, and when the first chunk came."""

    item_id: str
    content_index: int
    response_id: str | None
    received_ms: float
    first_audio_at: float


class _Received:
    """Mutable per-item counter, updated in place on the audio hot path."""

    __slots__ = ("content_index", "first_audio_at", "item_id", "ms_before", "n_bytes", "response_id")

    def __init__(self, item_id: str, content_index: int, response_id: str | None, now: float) -> None:
        self.item_id = item_id
        self.content_index = content_index
        self.response_id = response_id
        self.n_bytes = 0
        self.ms_before = 0.0  # ms counted under an earlier output format
        self.first_audio_at = now


class AudioLedger:
    """What the session received from the model: assistant audio per item since the last reset."""

    def __init__(self) -> None:
        self._bytes_per_ms = bytes_per_ms("pcm16")
        self._items: dict[str, _Received] = {}
        self._current: _Received | None = None

    def set_format(self, fmt: Any) -> None:
        """The output format of audio that follows (beta or GA spelling)."""
        new = bytes_per_ms(normalize_audio_format(fmt))
        if new == self._bytes_per_ms:
            return
        for received in self._items.values():
            # Bytes so far were in the old format; keep their duration.
            received.ms_before += received.n_bytes / self._bytes_per_ms
            received.n_bytes = 0
        self._bytes_per_ms = new

    def on_audio(self, item_id: str, content_index: int, n_bytes: int, response_id: str | None,
                 now: float) -> None:
        """Count n_bytes of audio received for an item (hot path: in-place updates only)."""
        current = self._current
        if current is not None and current.item_id == item_id and current.content_index == content_index:
            if n_bytes < 0:
                raise ValueError(f"n_bytes must not be negative, got {n_bytes!r}")
            current.n_bytes += n_bytes
            return
        self._switch(item_id, content_index, n_bytes, response_id, now)

    def _switch(self, item_id: str, content_index: int, n_bytes: int, response_id: str | None,
                now: float) -> None:
        _check_item(item_id, content_index)
        if isinstance(n_bytes, bool) or not isinstance(n_bytes, int) or n_bytes < 0:
            raise ValueError(f"n_bytes must be a non-negative integer, got {n_bytes!r}")
        received = self._items.get(item_id)
        if received is None:
            received = self._items[item_id] = _Received(item_id, content_index, response_id, now)
        elif received.content_index != content_index:
            # A new audio part of the same item: truncation counts within one part.
            received.content_index, received.n_bytes, received.ms_before = content_index, 0, 0.0
            received.first_audio_at = now
        if response_id is not None:
            received.response_id = response_id
        received.n_bytes += n_bytes
        self._current = received

    def current(self) -> LedgerEntry | None:
        """The latest item that received audio since the last reset, or None."""
        received = self._current
        if received is None:
            return None
        return LedgerEntry(item_id=received.item_id, content_index=received.content_index,
                           response_id=received.response_id, received_ms=self._ms(received),
                           first_audio_at=received.first_audio_at)

    def received_ms(self, item_id: str) -> float:
        """Ms of audio received for an item since the last reset (0 when none)."""
        received = self._items.get(item_id)
        return self._ms(received) if received is not None else 0.0

    def reset(self) -> None:
        """Forget everything (after an interruption or a reconnect)."""
        self._items.clear()
        self._current = None

    def forget_response(self, response_id: str) -> None:
        """Forget the audio of one response's items."""
        for item_id in [k for k, v in self._items.items() if v.response_id == response_id]:
            del self._items[item_id]
        if self._current is not None and self._current.response_id == response_id:
            self._current = None

    def _ms(self, received: _Received) -> float:
        return received.ms_before + received.n_bytes / self._bytes_per_ms


def truncation_point(*, entry: LedgerEntry, tracker_state: PlaybackState | None, now: float,
                     response_active: bool) -> int | None:
    """Ms of entry's item the user heard, for `conversation.item.truncate`; None when no truncate is due."""
    played: float | None = None
    if tracker_state is not None and tracker_state.current_item_id == entry.item_id:
        index = tracker_state.current_item_content_index
        elapsed = tracker_state.elapsed_ms
        if (index is None or index == entry.content_index) and elapsed is not None and math.isfinite(elapsed):
            played = elapsed
    if played is None:
        # No report from the app for this item: assume it plays in real time from the first chunk.
        played = (now - entry.first_audio_at) * 1000.0
    # Apps report whole milliseconds ("7546" for 7546.4 ms of audio): played in full is within the last one.
    if math.floor(played) >= math.floor(entry.received_ms) and not response_active:
        # Playback already ended and nothing more is coming: the server's copy is what was heard.
        return None
    return math.floor(min(max(played, 0.0), entry.received_ms))
