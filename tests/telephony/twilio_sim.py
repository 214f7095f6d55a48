"""A simulated Twilio Media Streams peer on a virtual clock: caller frames out, our frames played."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ULAW_MS = 8  # μ-law bytes per ms at 8 kHz
FRAME_MS = 20


ACCOUNT_SID = "AC" + "0" * 32


class CallerStream:
    """Builds the frames Twilio sends for one call, numbering them and timing the media as Twilio does."""

    def __init__(self, *, stream_sid: str, call_sid: str, parameters: dict[str, str] | None = None) -> None:
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.parameters = parameters or {}
        self.chunk = 0  # media chunks so far (sent or dropped); the next one's timestamp is chunk * 20 ms
        self._seq = 0

    def _frame(self, payload: dict[str, object]) -> str:
        self._seq += 1
        return json.dumps({"sequenceNumber": str(self._seq), **payload})

    def connected(self) -> str:
        """The first frame of every stream."""
        return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    def start(self) -> str:
        """Stream metadata with our `<Parameter>` values."""
        return self._frame(
            {
                "event": "start",
                "streamSid": self.stream_sid,
                "start": {
                    "streamSid": self.stream_sid,
                    "accountSid": ACCOUNT_SID,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": self.parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
        )

    def media(
        self, audio: bytes, *, drop_chunks: Iterable[int] = (), dtmf_after_chunk: dict[int, str] | None = None
    ) -> list[str]:
        """20 ms media frames for `audio` (chunks numbered across calls; dropped ones leave a gap)."""
        dropped = set(drop_chunks)
        dtmf = dtmf_after_chunk or {}
        frames = []
        step = FRAME_MS * ULAW_MS
        for start in range(0, len(audio), step):
            self.chunk += 1
            index = self.chunk
            if index not in dropped:
                payload = base64.b64encode(audio[start : start + step]).decode()
                frames.append(
                    self._frame(
                        {
                            "event": "media",
                            "streamSid": self.stream_sid,
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
                frames.append(self.dtmf(dtmf[index]))
        return frames

    def dtmf(self, digit: str) -> str:
        """The caller pressed a key."""
        return self._frame(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    def stop(self) -> str:
        """The call ended."""
        return self._frame(
            {
                "event": "stop",
                "streamSid": self.stream_sid,
                "stop": {"accountSid": ACCOUNT_SID, "callSid": self.call_sid},
            }
        )


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
    stream = CallerStream(stream_sid=stream_sid, call_sid=call_sid, parameters=parameters)
    return [
        stream.connected(),
        stream.start(),
        *stream.media(audio, drop_chunks=drop_chunks, dtmf_after_chunk=dtmf_after_chunk),
        stream.stop(),
    ]


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


class TwilioCallClient:
    """Twilio's side of a live call over a real WebSocket: caller frames out, our audio played.

    Our media is queued in a `SimulatedTwilio`; marks are echoed only when the test lets virtual time pass
    (`play`), or at once for audio a `clear` discarded, as Twilio does.
    """

    def __init__(
        self,
        url: str,
        *,
        signature: str | None,
        call_sid: str,
        parameters: dict[str, str],
        stream_sid: str = "MZ" + "5" * 32,
    ) -> None:
        self.url = url
        self.signature = signature
        self.stream = CallerStream(stream_sid=stream_sid, call_sid=call_sid, parameters=parameters)
        self.twilio = SimulatedTwilio(stream_sid=stream_sid)
        self.received: list[dict[str, Any]] = []  # every frame our server sent, decoded
        self.close_code: int | None = None
        self.protocol_errors: list[str] = []
        self._echoing: set[asyncio.Task[None]] = set()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._send_lock = asyncio.Lock()

    async def connect(self) -> None:
        """Open the stream (the upgrade carries `signature`); websockets' InvalidStatus when refused."""
        headers = {} if self.signature is None else {"X-Twilio-Signature": self.signature}
        self._ws = await connect(
            self.url,
            additional_headers=headers,
            open_timeout=5,
            compression=None,
            max_size=None,
            user_agent_header="Twilio.TmeWs/1.0",
        )
        self._reader = asyncio.create_task(self._read(), name="twilio-sim-reader")

    async def begin(self) -> None:
        """Connect and send `connected` and `start`, as Twilio does."""
        await self.connect()
        await self.send(self.stream.connected(), self.stream.start())

    async def send(self, *frames: str | bytes) -> None:
        """Send raw frames in order (text, or bytes as a binary frame)."""
        assert self._ws is not None
        async with self._send_lock:
            for frame in frames:
                await self._ws.send(frame)

    async def say(self, audio: bytes) -> None:
        """The caller speaks: 20 ms media frames, sent as fast as the socket takes them."""
        await self.send(*self.stream.media(audio))

    async def press(self, *digits: str) -> None:
        """The caller presses keys."""
        await self.send(*(self.stream.dtmf(digit) for digit in digits))

    async def hang_up(self) -> None:
        """The caller hangs up: Twilio sends `stop`."""
        await self.send(self.stream.stop())

    async def play(self, ms: float, step_ms: float = 20.0) -> None:
        """Let `ms` of virtual time pass in steps, echoing each mark when the audio before it has played."""
        for _ in range(int(ms // step_ms)):
            echoes = self.twilio.advance(step_ms)
            if echoes:
                await self.send(*echoes)

    async def play_all(self, limit_ms: float = 60_000) -> None:
        """Play everything queued so far (bounded)."""
        played = 0.0
        while self.twilio.buffered_bytes and played < limit_ms:
            await self.play(200)
            played += 200
        await self.send(*self.twilio.advance(0))

    async def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
    ) -> None:
        """Wait until the frames received so far satisfy `predicate` (bounded)."""
        async with asyncio.timeout(timeout):
            while not predicate(self.received):
                if self.close_code is not None:
                    raise AssertionError(f"stream closed ({self.close_code}) first; got {self.events()}")
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_media(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `count` media frames arrived."""
        await self.wait_for(lambda frames: sum(f["event"] == "media" for f in frames) >= count, timeout)

    async def wait_closed(self, timeout: float = 10.0) -> int:
        """Wait until the server closed the stream; returns the close code."""
        assert self._reader is not None
        async with asyncio.timeout(timeout):
            await asyncio.shield(self._reader)
        assert self.close_code is not None
        return self.close_code

    def events(self) -> list[str]:
        """The event names received, runs of media and mark collapsed."""
        names: list[str] = []
        for frame in self.received:
            if not names or names[-1] != frame["event"] or frame["event"] not in ("media", "mark"):
                names.append(frame["event"])
        return names

    async def _send_quietly(self, frames: list[str]) -> None:
        try:
            await self.send(*frames)
        except ConnectionClosed:
            pass  # the call ended meanwhile: Twilio's echoes go nowhere either

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                assert isinstance(message, str), "Twilio frames are text"
                self.received.append(json.loads(message))
                try:
                    echoes = self.twilio.receive(message)
                except AssertionError as exc:  # a frame Twilio would not accept: the test asserts on these
                    self.protocol_errors.append(str(exc))
                    echoes = []
                if echoes:  # a clear: Twilio returns the discarded marks at once (sent aside: no deadlock)
                    task = asyncio.create_task(self._send_quietly(echoes), name="twilio-sim-clear-echoes")
                    self._echoing.add(task)
                    task.add_done_callback(self._echoing.discard)
                self._changed.set()
        except ConnectionClosed:
            pass
        self.close_code = self._ws.close_code or 1006
        self._changed.set()

    async def close(self) -> None:
        """Close our side (Twilio's socket closes when the call is over) and stop reading."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            async with asyncio.timeout(5):
                await asyncio.wait({self._reader, *self._echoing})
