"""The two clients the engine benchmark compares, each run in its own process: the engine and bare websockets."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import connect

from bench.common import (
    CpuTimes,
    LatencySummary,
    MeasuredWindow,
    StampedAudioRecorder,
    cancel_tasks,
)
from realtime_agents.engine import AgentSpec, AudioEvent, Runner, Session

API_KEY = "bench-key"
INSTRUCTIONS = "You are the benchmark assistant. Speak at length."
USER_TEXT = "Please tell me a long story."
VARIANTS = ("bare", "engine")
SETTLE_SECONDS = 1.0  # lets session.created / session.updated be handled before the window opens
_MAX_MESSAGE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    """What one client process runs: where, how many sessions, how much audio."""

    url: str
    sessions: int
    seconds: float
    chunk_ms: int
    connect_concurrency: int
    session_update: dict[str, Any]
    profile_path: str | None = None

    @property
    def window_timeout(self) -> float:
        """Seconds the streaming window may take before unfinished sessions count as failures."""
        return self.seconds * 1.5 + 30.0


@dataclass(frozen=True, kw_only=True)
class VariantResult:
    """Figures of one client variant over its streaming window."""

    variant: str
    sessions: int
    completed: int
    deltas: int
    audio_seconds: float
    wall_seconds: float
    cpu: CpuTimes
    latency: LatencySummary
    errors: tuple[str, ...] = ()
    server_cpu: CpuTimes | None = None
    profile_report: str = ""

    @property
    def cpu_per_session_minute(self) -> float:
        """Client CPU-seconds per minute of audio streamed to one session."""
        return self.cpu.total / (self.audio_seconds / 60) if self.audio_seconds else math.nan


def _stagger(index: int, config: BenchConfig) -> float:
    # Spread the sessions' chunk phases over one chunk interval, as independent calls would be.
    return index * config.chunk_ms / 1000 / config.sessions


def _result(
    variant: str, config: BenchConfig, recorder: StampedAudioRecorder, cpu: CpuTimes, wall: float, report: str
) -> VariantResult:
    return VariantResult(
        variant=variant,
        sessions=config.sessions,
        completed=recorder.completed,
        deltas=recorder.deltas,
        audio_seconds=recorder.audio_bytes / 48_000,
        wall_seconds=wall,
        cpu=cpu,
        latency=LatencySummary.from_ns(recorder.latencies_ns),
        errors=tuple(recorder.errors[:20]),
        profile_report=report,
    )


async def _wait_all(tasks: Sequence[asyncio.Task[Any]], timeout: float, errors: list[str], what: str) -> None:
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    if pending:
        errors.append(f"{len(pending)} of {len(tasks)} sessions did not finish {what} within {timeout:.0f}s")
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            errors.append(f"{task.get_name()}: {task.exception()!r}")


# -- the engine variant -----------------------------------------------------------------------------------


async def _engine_consume(session: Session, recorder: StampedAudioRecorder) -> None:
    async for event in session:
        if type(event) is AudioEvent:
            recorder.audio(event.data)
        elif event.type == "agent_end":
            recorder.completed += 1
            return
        elif event.type == "error":
            recorder.errors.append(f"error event: {event.error.get('code')}")


async def _engine_start(session: Session, index: int, config: BenchConfig) -> None:
    await asyncio.sleep(_stagger(index, config))
    await session.send_message(USER_TEXT)


async def _engine_variant(config: BenchConfig) -> VariantResult:
    runner = Runner(AgentSpec(name="Bench", instructions=INSTRUCTIONS))
    recorder = StampedAudioRecorder()
    gate = asyncio.Semaphore(config.connect_concurrency)
    sessions: list[Session] = []
    tasks: list[asyncio.Task[Any]] = []

    async def open_one() -> None:
        async with gate:
            session = await runner.run(model_config={"url": config.url, "api_key": API_KEY})
            await session.enter()
            sessions.append(session)

    try:
        async with asyncio.timeout(60 + config.sessions * 0.5):
            await asyncio.gather(*(open_one() for _ in range(config.sessions)))
        consumers = [
            asyncio.create_task(_engine_consume(s, recorder), name=f"bench-engine-consume-{i}")
            for i, s in enumerate(sessions)
        ]
        tasks.extend(consumers)
        await asyncio.sleep(SETTLE_SECONDS)
        window = MeasuredWindow(config.profile_path)
        window.open()
        tasks.extend(
            asyncio.create_task(_engine_start(s, i, config), name=f"bench-engine-start-{i}")
            for i, s in enumerate(sessions)
        )
        await _wait_all(consumers, config.window_timeout, recorder.errors, "streaming")
        cpu, wall = window.close()
    finally:
        await cancel_tasks(tasks)
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    return _result("engine", config, recorder, cpu, wall, window.report)


# -- the bare websockets variant ----------------------------------------------------------------------------


class _BareGate:
    """Signals shared by the bare sessions, so connecting and closing stay outside the window."""

    def __init__(self, sessions: int) -> None:
        self.sessions = sessions
        self.ready = 0
        self.finished = 0
        self.all_ready = asyncio.Event()
        self.start = asyncio.Event()
        self.all_finished = asyncio.Event()
        self.release = asyncio.Event()

    def mark_ready(self) -> None:
        """One more session is connected and configured."""
        self.ready += 1
        if self.ready == self.sessions:
            self.all_ready.set()

    def mark_finished(self) -> None:
        """One more session saw its response end (or failed)."""
        self.finished += 1
        if self.finished == self.sessions:
            self.all_finished.set()


def _dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


async def _bare_session(
    index: int,
    config: BenchConfig,
    gate: _BareGate,
    connecting: asyncio.Semaphore,
    recorder: StampedAudioRecorder,
) -> None:
    ready = finished = False
    try:
        async with contextlib.AsyncExitStack() as stack:
            async with connecting:
                ws = await stack.enter_async_context(
                    connect(
                        config.url,
                        additional_headers={"Authorization": f"Bearer {API_KEY}"},
                        compression=None,
                        max_size=_MAX_MESSAGE_BYTES,
                    )
                )
                await ws.send(_dumps({"type": "session.update", "session": config.session_update}))
                async for message in ws:
                    if json.loads(message)["type"] == "session.updated":
                        break
            ready = True
            gate.mark_ready()
            await gate.start.wait()
            await asyncio.sleep(_stagger(index, config))
            item = {
                "id": f"item_bench{index:014d}",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": USER_TEXT}],
            }
            await ws.send(_dumps({"type": "conversation.item.create", "item": item}))
            request = f"bench_response_create_{index}"
            await ws.send(
                _dumps(
                    {
                        "type": "response.create",
                        "event_id": request,
                        "response": {"metadata": {"ra_request": request}},
                    }
                )
            )
            # The hot loop the engine is compared with: parse every event, decode every delta.
            async for message in ws:
                event = json.loads(message)
                kind = event["type"]
                if kind == "response.output_audio.delta":
                    recorder.audio(base64.b64decode(event["delta"]))
                elif kind == "response.done":
                    recorder.completed += 1
                    break
                elif kind == "error":
                    recorder.errors.append(f"error event: {event['error'].get('code')}")
            finished = True
            gate.mark_finished()
            await gate.release.wait()
    finally:
        # A failed session must not hold the other sessions' window open.
        if not ready:
            gate.mark_ready()
        if not finished:
            gate.mark_finished()


async def _bare_variant(config: BenchConfig) -> VariantResult:
    recorder = StampedAudioRecorder()
    gate = _BareGate(config.sessions)
    connecting = asyncio.Semaphore(config.connect_concurrency)
    tasks = [
        asyncio.create_task(_bare_session(i, config, gate, connecting, recorder), name=f"bench-bare-{i}")
        for i in range(config.sessions)
    ]
    try:
        async with asyncio.timeout(60 + config.sessions * 0.5):
            await gate.all_ready.wait()
        await asyncio.sleep(SETTLE_SECONDS)
        window = MeasuredWindow(config.profile_path)
        window.open()
        gate.start.set()
        try:
            async with asyncio.timeout(config.window_timeout):
                await gate.all_finished.wait()
        except TimeoutError:
            recorder.errors.append(
                f"{config.sessions - gate.finished} of {config.sessions} sessions did not "
                f"finish streaming within {config.window_timeout:.0f}s"
            )
        cpu, wall = window.close()
        gate.release.set()
        await _wait_all(tasks, 10, recorder.errors, "closing")
    finally:
        await cancel_tasks(tasks)
    return _result("bare", config, recorder, cpu, wall, window.report)


def client_main(variant: str, config: BenchConfig) -> VariantResult:
    """Entry point of a client process: run one variant and return its figures."""
    runners: dict[str, Any] = {"bare": _bare_variant, "engine": _engine_variant}
    coroutine: Coroutine[Any, Any, VariantResult] = runners[variant](config)
    return asyncio.run(coroutine)
