"""Playback to a Twilio caller: model audio into marked chunks, echoed marks into the playback tracker."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from ..engine.playback import PlaybackTracker
from .twilio_stream import PlaybackMark, clear_frame, mark_frame, media_frame

__all__ = ["MarkOutcome", "TwilioPlayback"]

logger = logging.getLogger("realtime_agents.telephony.twilio_playback")

_ULAW_BYTES_PER_MS = 8


@dataclass(frozen=True, kw_only=True)
class MarkOutcome:
    """What an echoed mark told us: played (counted), stale (before a clear) or foreign (not ours)."""

    status: Literal["played", "stale", "foreign"]
    mark: PlaybackMark | None = None
    played_ms: float = 0.0


class TwilioPlayback:
    """Send model audio as media + mark frames and turn Twilio's echoed marks into tracker reports."""

    def __init__(
        self, *, stream_sid: str, tracker: PlaybackTracker | None = None, chunk_ms: int = 40
    ) -> None:
        if not isinstance(stream_sid, str) or not stream_sid:
            raise ValueError(f"stream_sid must be a non-empty string, got {stream_sid!r}")
        if isinstance(chunk_ms, bool) or not isinstance(chunk_ms, int) or not 20 <= chunk_ms <= 40:
            raise ValueError(f"chunk_ms must be an integer from 20 to 40, got {chunk_ms!r}")
        self._stream_sid = stream_sid
        self._tracker = tracker
        if tracker is not None:
            # Mark offsets count μ-law bytes; make the tracker read them as such.
            tracker.set_audio_format("g711_ulaw")
        self._chunk_bytes = chunk_ms * _ULAW_BYTES_PER_MS
        self._generation = 0
        self._buffer = bytearray()
        self._key: tuple[str, int] | None = None  # item and content part the buffer belongs to
        self._sent: dict[tuple[str, int], int] = {}  # bytes sent per item part, this generation
        self._played: dict[tuple[str, int], int] = {}  # bytes echoed as played, this generation
        self._latest: tuple[str, int] | None = None
        self._pending = 0

    @property
    def stream_sid(self) -> str:
        """The stream every frame is addressed to."""
        return self._stream_sid

    @property
    def generation(self) -> int:
        """Bumped by every `clear`; marks of an older generation are ignored."""
        return self._generation

    @property
    def pending_marks(self) -> int:
        """Marks sent in this generation and not echoed yet (0 = the caller heard everything sent)."""
        return self._pending

    @property
    def buffered_ms(self) -> float:
        """Audio held back until a full chunk (or `flush`)."""
        return len(self._buffer) / _ULAW_BYTES_PER_MS

    def sent_ms(self, item_id: str, content_index: int = 0) -> float:
        """Ms of an item part sent to Twilio in this generation."""
        return self._sent.get((item_id, content_index), 0) / _ULAW_BYTES_PER_MS

    def played_ms(self, item_id: str, content_index: int = 0) -> float:
        """Ms of an item part Twilio reported as played in this generation."""
        return self._played.get((item_id, content_index), 0) / _ULAW_BYTES_PER_MS

    def audio(self, item_id: str, content_index: int, data: bytes) -> list[str]:
        """Frames for a chunk of model μ-law audio: full chunks now, the remainder held back."""
        if not isinstance(item_id, str) or not item_id:
            raise ValueError(f"item_id must be a non-empty string, got {item_id!r}")
        if isinstance(content_index, bool) or not isinstance(content_index, int) or content_index < 0:
            raise ValueError(f"content_index must be a non-negative integer, got {content_index!r}")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValueError(f"data must be μ-law bytes, got {type(data).__name__}")
        key = (item_id, content_index)
        frames = self.flush() if key != self._key else []
        self._key = key
        self._buffer += data
        while len(self._buffer) >= self._chunk_bytes:
            frames += self._emit(bytes(self._buffer[: self._chunk_bytes]))
            del self._buffer[: self._chunk_bytes]
        return frames

    def flush(self) -> list[str]:
        """Frames for audio held back (call at the end of an item's audio, or when output pauses)."""
        if not self._buffer or self._key is None:
            return []
        chunk = bytes(self._buffer)
        self._buffer.clear()
        return self._emit(chunk)

    def _emit(self, chunk: bytes) -> list[str]:
        assert self._key is not None
        key = self._key
        end = self._sent.get(key, 0) + len(chunk)
        self._sent[key] = end
        if key != self._latest:
            self._latest = key
            if self._tracker is not None:
                # Nothing of this item has played yet: an interruption now must truncate it at 0, not
                # at a wall-clock guess, even while the previous item's tail is still playing.
                self._tracker.on_play_bytes(key[0], key[1], 0)
        mark = PlaybackMark(item_id=key[0], content_index=key[1], end_byte=end, generation=self._generation)
        self._pending += 1
        return [media_frame(self._stream_sid, chunk), mark_frame(self._stream_sid, mark.encode())]

    def clear(self) -> list[str]:
        """Frames that stop playback now; marks sent before this are stale from here on."""
        self._generation += 1
        self._buffer.clear()
        self._key = None
        self._sent.clear()
        self._played.clear()
        self._latest = None
        self._pending = 0
        return [clear_frame(self._stream_sid)]

    def on_mark(self, name: str) -> MarkOutcome:
        """Count an echoed mark: report the played audio to the tracker if it belongs to this generation."""
        mark = PlaybackMark.decode(name)
        if mark is None:
            return MarkOutcome(status="foreign")
        if mark.generation != self._generation:
            return MarkOutcome(status="stale", mark=mark)
        key = (mark.item_id, mark.content_index)
        before = self._played.get(key, 0)
        if mark.end_byte > self._sent.get(key, 0):
            # Not a mark we sent in this generation (forged or from another stream): do not count it.
            logger.warning("ignoring mark beyond the audio sent for item %s", mark.item_id)
            return MarkOutcome(status="foreign", mark=mark)
        self._pending = max(self._pending - 1, 0)
        if mark.end_byte <= before:
            return MarkOutcome(status="played", mark=mark, played_ms=before / _ULAW_BYTES_PER_MS)
        self._played[key] = mark.end_byte
        tracker = self._tracker
        if tracker is not None and key == self._latest:
            state = tracker.get_state()
            counted = state.current_item_id == key[0] and state.current_item_content_index == key[1]
            # The tracker counts per item: add the new bytes, or restart it at our total for this item.
            tracker.on_play_bytes(key[0], key[1], mark.end_byte - before if counted else mark.end_byte)
        return MarkOutcome(status="played", mark=mark, played_ms=mark.end_byte / _ULAW_BYTES_PER_MS)
