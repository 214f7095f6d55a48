"""A simulated Twilio Media Streams peer on a virtual clock: caller frames out, our frames played."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

ULAW_MS = 8  # μ-law bytes per ms at 8 kHz
FRAME_MS = 20


def caller_frames(
    audio: bytes,
    *,
    stream_sid: str,
    call_sid: str,
    parameters: dict[str, str] | None = None,
    drop_chunks: Iterable[int] = (),
    dtmf_after_chunk: dict[int, str] | None = None,
) -> list[str]:
    """The frames Twilio sends for a call whose caller says `audio`: connected, start, media..., stop."""
    dropped = set(drop_chunks)
    dtmf = dtmf_after_chunk or {}
    seq = 0

    def frame(payload: dict[str, object]) -> str:
        nonlocal seq
        seq += 1
        return json.dumps({"sequenceNumber": str(seq), **payload})

    frames = [json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})]
    frames.append(
        frame(
            {
                "event": "start",
                "streamSid": stream_sid,
                "start": {
                    "streamSid": stream_sid,
                    "accountSid": "AC" + "0" * 32,
                    "callSid": call_sid,
                    "tracks": ["inbound"],
                    "customParameters": parameters or {},
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
        )
    )
    step = FRAME_MS * ULAW_MS
    for index, start in enumerate(range(0, len(audio), step), start=1):
        if index not in dropped:
            payload = base64.b64encode(audio[start : start + step]).decode()
            frames.append(
                frame(
                    {
                        "event": "media",
                        "streamSid": stream_sid,
                        "media": {
                            "track": "inbound",
                            "chunk": str(index),
                            "timestamp": str((index - 1) * FRAME_MS),
                            "payload": payload,
                        },
                    }
                )
            )
        if index in dtmf:
            frames.append(
                frame(
                    {
                        "event": "dtmf",
                        "streamSid": stream_sid,
                        "dtmf": {"track": "inbound_track", "digit": dtmf[index]},
                    }
                )
            )
    frames.append(
        frame(
            {
                "event": "stop",
                "streamSid": stream_sid,
                "stop": {"accountSid": "AC" + "0" * 32, "callSid": call_sid},
            }
        )
    )
    return frames


@dataclass
class SimulatedTwilio:
    """Plays the media we send in real time (virtual clock) and echoes each mark when its audio has played."""

    stream_sid: str
    now_ms: float = 0.0
    played: bytearray = field(default_factory=bytearray)
    cleared_bytes: int = 0
    _queue: list[tuple[str, bytes | str]] = field(default_factory=list)  # ("media", audio) / ("mark", name)
    _head_offset: int = 0  # bytes of the first queued media already played
    _seq: int = 0

    def receive(self, text: str) -> list[str]:
        """Take one frame from our server; returns frames Twilio sends back at once (marks after a clear)."""
        frame = json.loads(text)
        assert frame["streamSid"] == self.stream_sid, "frame addressed to another stream"
        if frame["event"] == "media":
            self._queue.append(("media", base64.b64decode(frame["media"]["payload"], validate=True)))
            return []
        if frame["event"] == "mark":
            self._queue.append(("mark", frame["mark"]["name"]))
            return self._echo_ready()
        assert frame["event"] == "clear", f"unexpected frame {frame['event']!r}"
        echoes = []
        for kind, value in self._queue:
            if kind == "mark":
                echoes.append(self._mark(str(value)))
            else:
                assert isinstance(value, bytes)
                self.cleared_bytes += len(value)
        self.cleared_bytes -= self._head_offset
        self._queue.clear()
        self._head_offset = 0
        return echoes

    def advance(self, ms: float) -> list[str]:
        """Let `ms` of virtual time pass: play queued audio, return the marks that became due."""
        budget = int(ms * ULAW_MS)
        echoes: list[str] = []
        self.now_ms += ms
        while self._queue:
            echoes += self._echo_ready()
            if not self._queue or budget <= 0:
                break
            kind, value = self._queue[0]
            assert isinstance(value, bytes)
            remaining = len(value) - self._head_offset
            take = min(remaining, budget)
            self.played += value[self._head_offset : self._head_offset + take]
            budget -= take
            self._head_offset += take
            if self._head_offset == len(value):
                self._queue.pop(0)
                self._head_offset = 0
        return echoes

    @property
    def buffered_bytes(self) -> int:
        """Audio waiting to play."""
        return sum(len(v) for k, v in self._queue if k == "media") - self._head_offset

    def _echo_ready(self) -> list[str]:
        echoes = []
        while self._queue and self._queue[0][0] == "mark":
            echoes.append(self._mark(str(self._queue.pop(0)[1])))
        return echoes

    def _mark(self, name: str) -> str:
        self._seq += 1
        return json.dumps(
            {
                "event": "mark",
                "sequenceNumber": str(self._seq),
                "streamSid": self.stream_sid,
                "mark": {"name": name},
            }
        )
