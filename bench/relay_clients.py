"""Browser-like clients of the relay benchmark, in their own process: speak in real time, receive audio."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.common import CpuTimes, LatencySummary, StampedAudioRecorder, cancel_tasks, pid_cpu, process_cpu

USER_TEXT = "Please tell me a long story."
SETTLE_SECONDS = 1.0  # lets the sessions' set-up traffic finish before the window opens
BYTES_PER_MS = 48  # PCM16 mono 24 kHz
_MAX_MESSAGE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """What the client process runs against one server variant."""

    url: str
    origin: str
    server_pid: int
    sessions: int
    seconds: float
    chunk_ms: int
    frame_ms: int  # browser microphone frames; 0: do not speak
    connect_concurrency: int
    cpus: tuple[int, ...] = ()  # pin the client process here; empty: anywhere

    @property
    def expected_bytes(self) -> int:
        """Audio bytes of one full answer."""
        return round(self.seconds * 1000) * BYTES_PER_MS

    @property
    def expected_chunks(self) -> int:
        """Binary frames of one full answer (the server sends one per upstream delta)."""
        return math.ceil(round(self.seconds * 1000) / self.chunk_ms)

    @property
    def window_timeout(self) -> float:
        """Seconds the answers may take before unfinished sessions count as losing chunks."""
        return self.seconds * 1.5 + 30.0


@dataclass(frozen=True, kw_only=True)
class ClientResult:
    """Figures of one variant over its streaming window, seen from the clients."""

    sessions: int
    ready: int
    completed: int
    chunks: int
    chunks_expected: int
    audio_seconds: float
    frames_sent: int
    wall_seconds: float
    server_cpu: CpuTimes
    latency: LatencySummary
    text_frames: int
    client_cpu: CpuTimes
    server_cpu_at_start: CpuTimes  # absolute, so the parent can add the work that lags past the window
    errors: tuple[str, ...] = ()

    @property
    def chunks_lost(self) -> int:
        """Expected audio frames that never arrived."""
        return self.chunks_expected - self.chunks

    @property
    def server_cpu_per_session_minute(self) -> float:
        """Server CPU-seconds per minute of audio relayed to one session."""
        return self.server_cpu.total / (self.audio_seconds / 60) if self.audio_seconds else math.nan


@dataclass
class _Shared:
    """State shared by the sessions of one run."""

    sessions: int
    recorder: StampedAudioRecorder = field(default_factory=StampedAudioRecorder)
    ready: int = 0
    admitted: int = 0
    finished: int = 0
    frames_sent: int = 0
    text_frames: int = 0
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)
    start: asyncio.Event = field(default_factory=asyncio.Event)
    all_finished: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def mark_ready(self) -> None:
        """One more session is admitted (or failed to be)."""
        self.ready += 1
        if self.ready >= self.sessions:
            self.all_ready.set()

    def mark_finished(self) -> None:
        """One more session received its whole answer (or gave up)."""
        self.finished += 1
        if self.finished >= self.sessions:
            self.all_finished.set()


async def _speak(ws: ClientConnection, config: ClientConfig, shared: _Shared) -> None:
    # Silence, so the model's VAD never hears the user interrupt its own answer; paced on an
    # absolute schedule so a late wake-up does not slow the stream down.
    frame = bytes(config.frame_ms * BYTES_PER_MS)
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = 0
    while True:
        await ws.send(frame)
        sent += 1
        shared.frames_sent += 1
        await asyncio.sleep(max(0.0, started + sent * config.frame_ms / 1000 - loop.time()))


async def _receive(ws: ClientConnection, config: ClientConfig, shared: _Shared) -> bool:
    recorder, expected, received = shared.recorder, config.expected_bytes, 0
    async for message in ws:
        if type(message) is bytes:
            recorder.audio(message)
            received += len(message)
            if received >= expected:
                return True
            continue
        shared.text_frames += 1
        frame = json.loads(message)
        kind = frame.get("type")
        if kind == "error":
            recorder.errors.append(f"error frame: {frame.get('code')}")
        elif kind == "turn.end":
            return received >= expected
        elif kind == "session.end":
            recorder.errors.append(f"session ended early: {frame.get('reason')}")
            return False
    return False


async def _wait_ready(ws: ClientConnection) -> None:
    async for message in ws:
        if isinstance(message, str):
            frame = json.loads(message)
            if frame.get("type") == "ready":
                return
            raise RuntimeError(f"expected ready, got {frame.get('type')!r}")
    raise RuntimeError("closed before ready")


async def _session(index: int, config: ClientConfig, shared: _Shared, connecting: asyncio.Semaphore) -> None:
    ready = finished = False
    speaker: asyncio.Task[None] | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            async with connecting:
                ws = await stack.enter_async_context(
                    connect(
                        config.url,
                        origin=config.origin,
                        compression=None,  # type: ignore[arg-type]
                        max_size=_MAX_MESSAGE_BYTES,
                        open_timeout=60,
                    )
                )
                async with asyncio.timeout(60):
                    await _wait_ready(ws)
            ready = True
            shared.admitted += 1
            shared.mark_ready()
            await shared.start.wait()
            # Spread the sessions over one chunk interval, as independent calls would be.
            await asyncio.sleep(index * config.chunk_ms / 1000 / config.sessions)
            if config.frame_ms:
                speaker = asyncio.create_task(_speak(ws, config, shared), name=f"bench-relay-speak-{index}")
            await ws.send(json.dumps({"type": "text", "text": USER_TEXT}))
            if await _receive(ws, config, shared):
                shared.recorder.completed += 1
            finished = True
            shared.mark_finished()
            if speaker is not None:
                await cancel_tasks([speaker])
            await shared.release.wait()
    finally:
        if speaker is not None:
            await cancel_tasks([speaker])
        if not ready:
            shared.mark_ready()
        if not finished:
            shared.mark_finished()


async def _run(config: ClientConfig) -> ClientResult:
    shared = _Shared(sessions=config.sessions)
    connecting = asyncio.Semaphore(config.connect_concurrency)
    tasks = [
        asyncio.create_task(_session(i, config, shared, connecting), name=f"bench-relay-session-{i}")
        for i in range(config.sessions)
    ]
    try:
        async with asyncio.timeout(60 + config.sessions):
            await shared.all_ready.wait()
        await asyncio.sleep(SETTLE_SECONDS)
        cpu_before, wall_before = pid_cpu(config.server_pid), time.perf_counter()
        client_before = process_cpu()
        shared.start.set()
        try:
            async with asyncio.timeout(config.window_timeout):
                await shared.all_finished.wait()
        except TimeoutError:
            shared.recorder.errors.append(
                f"{config.sessions - shared.finished} sessions did not finish "
                f"within {config.window_timeout:.0f}s"
            )
        server_cpu, wall = pid_cpu(config.server_pid) - cpu_before, time.perf_counter() - wall_before
        client_cpu = process_cpu() - client_before
        shared.release.set()
        await _collect(tasks, shared.recorder.errors)
    finally:
        await cancel_tasks(tasks)
    recorder = shared.recorder
    return ClientResult(
        sessions=config.sessions,
        ready=shared.admitted,
        completed=recorder.completed,
        chunks=recorder.deltas,
        chunks_expected=config.expected_chunks * config.sessions,
        audio_seconds=recorder.audio_bytes / 48_000,
        frames_sent=shared.frames_sent,
        wall_seconds=wall,
        server_cpu=server_cpu,
        latency=LatencySummary.from_ns(recorder.latencies_ns),
        text_frames=shared.text_frames,
        client_cpu=client_cpu,
        server_cpu_at_start=cpu_before,
        errors=tuple(dict.fromkeys(recorder.errors))[:20],
    )


async def _collect(tasks: Sequence[asyncio.Task[Any]], errors: list[str]) -> None:
    done, pending = await asyncio.wait(tasks, timeout=15)
    if pending:
        errors.append(f"{len(pending)} sessions did not close within 15s")
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            errors.append(f"{type(task.exception()).__name__}: {task.exception()}"[:200])


def client_main(config: ClientConfig) -> ClientResult:
    """Entry point of the client process: run every session against one server and return the figures."""
    if config.cpus:
        os.sched_setaffinity(0, set(config.cpus))
    return asyncio.run(_run(config))
