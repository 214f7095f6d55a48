"""Benchmark helpers: process CPU, percentiles, stamped audio, child processes, a fake-server process."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import math
import multiprocessing
import os
import platform
import pstats
import resource
import time
import traceback
from base64 import b64encode
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any


from realtime_agents.engine.testing import FakeConnection, FakeRealtimeServer
from realtime_agents.engine.testing.protocol import new_id


# Spawned (not forked) children start clean: no parent event loop, sockets or imported state.
_CONTEXT = multiprocessing.get_context("spawn")

STAMP_BYTES = 8
# Base64 turns 3 bytes into 4 characters: overwriting the first 9 bytes (the stamp and one zero
# byte) replaces exactly the first 12 characters, so the rest of the pre-encoded chunk is reused.
_STAMP_SPAN_BYTES = 9
_STAMP_SPAN_CHARS = 12


# -- CPU and statistics ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CpuTimes:
    """CPU seconds a process spent in user and kernel mode."""

    user: float
    system: float

    @property
    def total(self) -> float:
        """User plus system seconds."""
        return self.user + self.system

    def __sub__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(user=self.user - other.user, system=self.system - other.system)


def process_cpu() -> CpuTimes:
    """CPU used so far by this process (all its threads), from getrusage."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return CpuTimes(user=usage.ru_utime, system=usage.ru_stime)


class MeasuredWindow:
    """A measured stretch of a process's life: CPU, wall time and, optionally, a cProfile dumped to a file."""

    def __init__(self, profile_path: str | None = None) -> None:
        # A CPU-time timer: on a shared machine a wall-clock profile blames whatever ran when we were preempted.
        self._profiler = cProfile.Profile(time.process_time) if profile_path else None
        self._profile_path = profile_path
        self._cpu = CpuTimes(user=0.0, system=0.0)
        self._wall = 0.0
        self.report = ""

    def open(self) -> None:
        """Start measuring."""
        self._cpu = process_cpu()
        self._wall = time.perf_counter()
        if self._profiler is not None:
            self._profiler.enable()

    def close(self) -> tuple[CpuTimes, float]:
        """Stop measuring; return (CPU used, wall seconds); `report` then holds the top profiled functions."""
        if self._profiler is not None:
            self._profiler.disable()
        cpu, wall = process_cpu() - self._cpu, time.perf_counter() - self._wall
        if self._profiler is not None and self._profile_path:
            self._profiler.dump_stats(self._profile_path)
            text = io.StringIO()
            pstats.Stats(self._profiler, stream=text).sort_stats("tottime").print_stats(30)
            self.report = text.getvalue()
        return cpu, wall


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def pid_cpu(pid: int) -> CpuTimes:
    """CPU used so far by another process (all its threads), from /proc/<pid>/stat (Linux, 10 ms ticks)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        # The command name may hold spaces: the fields we want follow its closing parenthesis.
        fields = stat.read().rsplit(")", 1)[1].split()
    return CpuTimes(user=int(fields[11]) / _CLOCK_TICKS, system=int(fields[12]) / _CLOCK_TICKS)


def pid_memory_kib(pid: int) -> dict[str, int]:
    """Peak (`VmHWM`) and current (`VmRSS`) resident memory of a process in KiB, from /proc/<pid>/status."""
    wanted = {"VmHWM", "VmRSS"}
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in wanted:
                found[key] = int(value.split()[0])
    return found


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks, as numpy's default."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q!r}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, kw_only=True)
class LatencySummary:
    """Latency percentiles in milliseconds over `count` samples (NaN when there were none)."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def from_ns(cls, samples_ns: Sequence[int]) -> LatencySummary:
        """Summarise latencies given in nanoseconds."""
        if not samples_ns:
            return cls(count=0, p50_ms=math.nan, p99_ms=math.nan, max_ms=math.nan)
        ordered = sorted(samples_ns)
        return cls(
            count=len(ordered),
            p50_ms=percentile(ordered, 50) / 1e6,
            p99_ms=percentile(ordered, 99) / 1e6,
            max_ms=ordered[-1] / 1e6,
        )


# -- stamped audio --------------------------------------------------------------------------------


def stamp_b64_audio(encoded: str, now_ns: int) -> str:
    """Base64 audio whose first 8 decoded bytes hold `now_ns` (little-endian); its length is kept."""
    if len(encoded) < _STAMP_SPAN_CHARS:
        raise ValueError(f"audio chunk too short to stamp: needs >= {_STAMP_SPAN_BYTES} bytes")
    head = now_ns.to_bytes(STAMP_BYTES, "little") + bytes(_STAMP_SPAN_BYTES - STAMP_BYTES)
    return b64encode(head).decode("ascii") + encoded[_STAMP_SPAN_CHARS:]


def read_stamp(data: bytes) -> int:
    """The `time.time_ns()` stamp a stamping server wrote into decoded audio."""
    return int.from_bytes(data[:STAMP_BYTES], "little")


@dataclass
class StampedAudioRecorder:
    """Tallies of one client variant; `audio` costs the same few operations whichever client calls it."""

    latencies_ns: list[int] = field(default_factory=list)
    audio_bytes: int = 0
    deltas: int = 0
    completed: int = 0
    errors: list[str] = field(default_factory=list)

    def audio(self, data: bytes) -> None:
        """Record one decoded, stamped audio chunk as its consumer receives it."""
        self.latencies_ns.append(time.time_ns() - read_stamp(data))
        self.audio_bytes += len(data)
        self.deltas += 1


class StampingConnection(FakeConnection):
    """A fake-server connection that stamps the send time into every audio delta and keeps no copy of them."""

    async def send(self, event: dict[str, Any]) -> None:
        """Send one server event; audio deltas get a wall-clock stamp right before serialisation."""
        if event.get("type") != "response.output_audio.delta":
            await super().send(event)
            return
        # Deltas are not kept in server_events: a long run would hold every chunk in memory.
        event.setdefault("event_id", new_id("event"))
        event["delta"] = stamp_b64_audio(event["delta"], time.time_ns())
        await self.websocket.send(json.dumps(event, separators=(",", ":")))


class StampingServer(FakeRealtimeServer):
    """`FakeRealtimeServer` whose connections stamp audio deltas (for delta-to-event latency)."""

    connection_class = StampingConnection


# -- child processes ------------------------------------------------------------------------------


def _child_main(target: Callable[..., Any], args: tuple[Any, ...], conn: Connection) -> None:
    try:
        result = target(*args)
    except Exception:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", traceback.format_exc()))
    else:
        conn.send(("ok", result))
    finally:
        conn.close()


def run_in_child(target: Callable[..., Any], *args: Any, timeout: float, name: str) -> Any:
    """Run a module-level `target(*args)` in a fresh spawned process; return its (picklable) result."""
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(target=_child_main, args=(target, args, sender), name=name, daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise TimeoutError(f"{name} gave no result within {timeout:.0f}s")
        status, payload = receiver.recv()
    except EOFError:
        process.join(5)
        raise RuntimeError(f"{name} exited (code {process.exitcode}) without a result") from None
    finally:
        receiver.close()
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)
    if status != "ok":
        raise RuntimeError(f"{name} failed:\n{payload}")
    return payload


def _server_main(
    factory: Callable[..., FakeRealtimeServer], kwargs: Mapping[str, Any], conn: Connection
) -> None:
    try:
        asyncio.run(_serve(factory, kwargs, conn))
    except Exception:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


async def _serve(
    factory: Callable[..., FakeRealtimeServer], kwargs: Mapping[str, Any], conn: Connection
) -> None:
    loop = asyncio.get_running_loop()
    readable: asyncio.Queue[None] = asyncio.Queue()
    loop.add_reader(conn.fileno(), readable.put_nowait, None)
    try:
        async with factory(**kwargs) as server:
            conn.send(("ready", server.url))
            while True:
                await readable.get()
                while conn.poll():
                    command = conn.recv()
                    if command == "stop":
                        conn.send(
                            ("stopped", {"cpu": process_cpu(), "internal_errors": server.internal_errors})
                        )
                        return
                    conn.send(("cpu", process_cpu()))
    finally:
        loop.remove_reader(conn.fileno())


class FakeServerProcess:
    """A fake Realtime server in its own process, so its CPU never counts against the client measured."""

    def __init__(
        self,
        *,
        factory: Callable[..., FakeRealtimeServer],
        kwargs: Mapping[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._factory = factory
        self._kwargs = dict(kwargs or {})
        self._timeout = timeout
        self._conn: Connection | None = None
        self._process: Any = None
        self.url = ""
        self.internal_errors: list[str] = []

    def _request(self, command: str, expect: str) -> Any:
        if self._conn is None:
            raise RuntimeError("the fake server process is not running")
        self._conn.send(command)
        if not self._conn.poll(self._timeout):
            raise TimeoutError(
                f"the fake server process did not answer {command!r} within {self._timeout:.0f}s"
            )
        status, payload = self._conn.recv()
        if status != expect:
            raise RuntimeError(f"the fake server process failed: {payload}")
        return payload

    def __enter__(self) -> FakeServerProcess:
        self._conn, child = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(
            target=_server_main,
            args=(self._factory, self._kwargs, child),
            name="bench-fake-server",
            daemon=True,
        )
        self._process.start()
        child.close()
        if not self._conn.poll(self._timeout):
            self._kill()
            raise TimeoutError(f"the fake server process did not start within {self._timeout:.0f}s")
        status, payload = self._conn.recv()
        if status != "ready":
            self._kill()
            raise RuntimeError(f"the fake server process failed to start:\n{payload}")
        self.url = payload
        return self

    def cpu(self) -> CpuTimes:
        """CPU the server process has used so far."""
        return self._request("cpu", "cpu")

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._process is not None and self._process.is_alive():
                self.internal_errors = list(self._request("stop", "stopped")["internal_errors"])
        finally:
            self._kill()

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)
        if self._conn is not None:
            self._conn.close()
            self._conn = None


async def cancel_tasks(tasks: Sequence[asyncio.Task[Any]], *, timeout: float = 10.0) -> None:
    """Cancel tasks and wait (bounded) for them to end."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)


# -- reporting ------------------------------------------------------------------------------------


def machine_notes() -> str:
    """One line about the machine: CPUs usable, model, load average, Python."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model
            )
    except OSError:
        pass
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{usable} usable CPU(s) ({model}); load average {load}; "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}"
    )


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table (right-aligned except the first column)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = (str(cell) for cell in cells)
        return "  ".join(
            [first.ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(rest, widths[1:], strict=True))]
        )

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(row) for row in rows)])
