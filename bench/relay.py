"""Browser relay benchmark: a live Daphne with the demo project against a bare websockets relay.

Run ``python -m bench.relay --sessions 50 --seconds 20`` from the repository root. The fake
Realtime server (stamping send times into the audio) runs in its own process; each server variant
is a pinned subprocess; the browser-like clients run in their own process and measure added
latency (fake-server send to browser receive), chunks lost, and the server's CPU over the window.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pstats
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import (
    CpuTimes,
    FakeServerProcess,
    pid_cpu,
    format_table,
    machine_notes,
    pid_memory_kib,
    positive_float,
    positive_int,
    run_in_child,
)
from bench.relay_clients import ClientConfig, ClientResult, client_main
from bench.relay_servers import (
    DEFAULT_KINDS,
    SERVER_KINDS,
    BenchDatabase,
    RECORDING_KINDS,
    ROOT,
    ServerProcess,
    bench_database,
    make_server,
    recorded_counts,
    workdir,
)
from realtime_agents.engine.testing import ScriptedResponse

IDLE_TIMEOUT_S = 30.0
FINALISE_TIMEOUT_S = 30.0  # after the clients close: conversations are finalised and recorded


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunFigures:
    """One variant's figures: what the clients saw plus the server's memory and recording."""

    variant: str
    clients: ClientResult
    peak_rss_kib: int
    recorded: dict[str, int]
    fake_server_cpu: float  # over the whole variant run (connect, window, close)
    drained_cpu: CpuTimes  # server CPU from the window's start until it went idle after the clients closed
    drained_s: float  # seconds after the window until the server went idle

    @property
    def drained_cpu_per_session_minute(self) -> float:
        """Server CPU (window plus the backlog it drained afterwards) per minute of audio relayed."""
        audio = self.clients.audio_seconds
        return self.drained_cpu.total / (audio / 60) if audio else float("nan")


def _variants(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names or any(name not in SERVER_KINDS for name in names):
        raise argparse.ArgumentTypeError(
            f"choose from {', '.join(SERVER_KINDS)} (comma-separated), got {text!r}"
        )
    return names


def _frame_ms(text: str) -> int:
    value = int(text)
    if value != 0 and not 10 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be 0 (do not speak) or 10..1000 ms, got {text}")
    return value


def _cpu(text: str) -> int:
    value = int(text)
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if value != -1 and value not in usable:
        raise argparse.ArgumentTypeError(f"must be -1 (no pinning) or a usable CPU ({usable}), got {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options; bad values exit with a clear message."""
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=positive_int, default=50, help="concurrent sessions (default 50)")
    parser.add_argument(
        "--seconds",
        type=positive_float,
        default=20.0,
        help="seconds of answer audio per session, streamed in real time (default 20)",
    )
    parser.add_argument(
        "--variants",
        type=_variants,
        default=DEFAULT_KINDS,
        help=f"comma-separated, from {','.join(SERVER_KINDS)} (default daphne,bare)",
    )
    parser.add_argument("--rounds", type=positive_int, default=1, help="repeat every variant (default 1)")
    parser.add_argument(
        "--chunk-ms", type=positive_int, default=50, help="audio per upstream delta (default 50)"
    )
    parser.add_argument(
        "--frame-ms",
        type=_frame_ms,
        default=20,
        help="browser microphone frame, sent in real time; 0: do not speak (default 20)",
    )
    parser.add_argument(
        "--connect-concurrency",
        type=positive_int,
        default=20,
        help="sessions connecting at once (default 20)",
    )
    default_cpu = max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else -1
    parser.add_argument(
        "--server-cpu",
        type=_cpu,
        default=default_cpu,
        help="pin the relay server to this CPU, the load generators to the others; -1: no pinning "
        f"(default {default_cpu})",
    )
    parser.add_argument(
        "--profile",
        metavar="PATH",
        default=None,
        help="cProfile the ASGI server process into PATH and print its top functions (slows it: "
        "do not record those figures)",
    )
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        type=Path,
        default=None,
        help="source tree of the daphne-baseline variant (e.g. an older commit unpacked with git archive): "
        "A/B against the working tree under the same load",
    )
    args = parser.parse_args(argv)
    if ("daphne-baseline" in args.variants) != (args.baseline is not None):
        parser.error("--baseline DIR and the daphne-baseline variant go together")
    if args.baseline is not None and not (args.baseline / "project" / "asgi.py").is_file():
        parser.error(f"--baseline {args.baseline} has no project/asgi.py")
    if args.seconds * 1000 < args.chunk_ms:
        parser.error("--seconds must cover at least one --chunk-ms chunk")
    return args


def _row(figures: RunFigures, load: str) -> list[str]:
    c = figures.clients
    return [
        figures.variant,
        f"{c.ready}/{c.sessions}",
        f"{c.chunks}/{c.chunks_expected}",
        str(c.chunks_lost),
        f"{c.latency.p50_ms:.1f}",
        f"{c.latency.p99_ms:.1f}",
        f"{c.latency.max_ms:.0f}",
        f"{c.server_cpu.user:.1f}+{c.server_cpu.system:.1f}",
        f"{c.server_cpu_per_session_minute:.3f}",
        f"{figures.drained_cpu_per_session_minute:.3f}",
        f"{figures.drained_s:.0f}",
        f"{figures.peak_rss_kib / 1024:.0f}",
        f"{c.wall_seconds:.1f}",
        f"{c.client_cpu.total / c.wall_seconds * 100:.0f}%" if c.wall_seconds else "-",
        f"{figures.fake_server_cpu:.1f}",
        load,
    ]


HEADERS = [
    "variant",
    "ready",
    "chunks",
    "lost",
    "p50 ms",
    "p99 ms",
    "max ms",
    "srv CPU usr+sys",
    "CPU s/sess-min",
    "+drain s/sess-min",
    "drain s",
    "peak RSS MiB",
    "window s",
    "clients CPU",
    "fake srv CPU s",
    "load 1m",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures; returns the exit status."""
    args = parse_args(argv)
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpus = [args.server_cpu] if args.server_cpu != -1 else None
    others = [cpu for cpu in usable if cpu != args.server_cpu] if server_cpus else None
    response = ScriptedResponse(
        transcript="once upon a time a small robot counted every audio chunk it heard " * 20,
        audio_ms=round(args.seconds * 1000),
        pace=1.0,
        chunk_ms=args.chunk_ms,
    )
    print(
        "command:", shlex.join(["python", "-m", "bench.relay", *(argv if argv is not None else sys.argv[1:])])
    )
    print("machine:", machine_notes())
    print(
        f"pinning: relay server on CPU {server_cpus or 'any'}; "
        f"fake model server and clients on {others or 'any'}"
    )
    results: list[RunFigures] = []
    with workdir() as tmp, bench_database(tmp) as database:
        print("database:", database.label)
        with FakeServerProcess(
            factory=make_server, kwargs={"response": response, "cpus": others}
        ) as upstream:
            for round_number in range(1, args.rounds + 1):
                order = args.variants if round_number % 2 else tuple(reversed(args.variants))
                rows = []
                for variant in order:
                    fake_before = upstream.cpu()
                    figures = _run_variant(variant, args, upstream.url, database, tmp, server_cpus, others)
                    figures = dataclasses.replace(
                        figures, fake_server_cpu=(upstream.cpu() - fake_before).total
                    )
                    results.append(figures)
                    rows.append(_row(figures, f"{os.getloadavg()[0]:.2f}"))
                    for error in figures.clients.errors:
                        print(f"  {variant}: {error}", file=sys.stderr)
                print(
                    f"\nround {round_number} of {args.rounds}: N={args.sessions}, "
                    f"{args.seconds:g} s answers, "
                    f"{args.chunk_ms} ms chunks, speaking {args.frame_ms or 'off'} ms frames"
                )
                print(format_table(HEADERS, rows))
        if upstream.internal_errors:
            print("fake server internal errors:", *upstream.internal_errors[:10], sep="\n  ", file=sys.stderr)
    return _summarise(results, args)


def _run_variant(
    variant: str,
    args: argparse.Namespace,
    upstream_url: str,
    database: BenchDatabase,
    tmp: Path,
    server_cpus: list[int] | None,
    others: list[int] | None,
) -> RunFigures:
    profile = f"{args.profile}.{variant}" if args.profile and variant != "bare" else None
    before = recorded_counts(database) if _records(variant) else {}
    with ServerProcess(
        kind=variant,
        upstream_url=upstream_url,
        database=database,
        workdir=tmp,
        cpus=server_cpus,
        profile_path=profile,
        source_root=args.baseline.resolve() if variant == "daphne-baseline" else ROOT,
    ) as server:
        config = ClientConfig(
            url=server.url,
            origin=server.origin,
            server_pid=server.pid,
            sessions=args.sessions,
            seconds=args.seconds,
            chunk_ms=args.chunk_ms,
            frame_ms=args.frame_ms,
            connect_concurrency=args.connect_concurrency,
            cpus=tuple(others or ()),
        )
        try:
            clients = run_in_child(
                client_main,
                config,
                timeout=config.window_timeout + 120 + 2 * args.sessions,
                name=f"bench-relay-{variant}-clients",
            )
        except Exception:
            print(f"{variant} server log tail:\n{server.log_tail()}", file=sys.stderr)
            raise
        finalise_s = _wait_finalised(variant, database, before, clients.ready)
        drained_s = _wait_idle(server.pid) + (finalise_s or 0.0)
        drained = pid_cpu(server.pid) - clients.server_cpu_at_start
        peak = pid_memory_kib(server.pid).get("VmHWM", 0)
        log_tail = server.log_tail()
        if clients.errors:
            print(f"{variant} server log tail:\n{log_tail}", file=sys.stderr)
    recorded: dict[str, int] = {}
    if finalise_s is not None:
        print(f"{variant}: every conversation finalised {finalise_s:.1f} s after the clients closed")
    if _records(variant):
        after = recorded_counts(database)
        recorded = {key: after[key] - before.get(key, 0) for key in after}
        if recorded["finalised"] < clients.ready:
            print(f"{variant} server log tail:\n{log_tail}", file=sys.stderr)
    if profile:
        print(f"\ncProfile of the {variant} process (whole life), top 35 by own time:")
        pstats.Stats(profile).sort_stats("tottime").print_stats(35)
    return RunFigures(
        variant=variant,
        clients=clients,
        peak_rss_kib=peak,
        recorded=recorded,
        fake_server_cpu=0.0,
        drained_cpu=drained,
        drained_s=drained_s,
    )


def _records(variant: str) -> bool:
    """Whether the variant runs the product (which records conversations), not a bare relay."""
    return variant in RECORDING_KINDS


def _wait_idle(pid: int) -> float:
    """Seconds until the server used under 20 ms of CPU in a second (at most IDLE_TIMEOUT_S)."""
    started = time.monotonic()
    last = pid_cpu(pid).total
    while time.monotonic() - started < IDLE_TIMEOUT_S:
        time.sleep(1.0)
        now = pid_cpu(pid).total
        if now - last < 0.02:
            return time.monotonic() - started - 1.0
        last = now
    return time.monotonic() - started


def _wait_finalised(
    variant: str, database: BenchDatabase, before: dict[str, int], expected: int
) -> float | None:
    """Seconds until Daphne finalised every conversation (polled), None if not within FINALISE_TIMEOUT_S."""
    started = time.monotonic()
    if not _records(variant):
        time.sleep(1.0)
        return None
    while time.monotonic() - started < FINALISE_TIMEOUT_S:
        counts = recorded_counts(database)
        if counts["finalised"] - before.get("finalised", 0) >= expected:
            return time.monotonic() - started
        time.sleep(1.0)
    return None


def _summarise(results: Sequence[RunFigures], args: argparse.Namespace) -> int:
    print()
    failed = False
    for figures in results:
        c = figures.clients
        if figures.recorded:
            r = figures.recorded
            print(
                f"{figures.variant}: recorded {r['conversations']} conversations "
                f"({r['finalised']} finalised), "
                f"{r['items']} transcript items ({r['assistant_items']} assistant); "
                f"{c.text_frames} JSON frames and {c.frames_sent} microphone frames"
            )
            if r["finalised"] < c.ready or r["assistant_items"] < c.completed:
                print(f"FAIL: {figures.variant}: not every conversation/answer was recorded", file=sys.stderr)
                failed = True
        if c.chunks_lost or c.ready < c.sessions or c.errors:
            failed = True
    by_variant = {v: [f for f in results if f.variant == v] for v in args.variants}
    bare = by_variant.get("bare", [])
    for variant, runs in by_variant.items():
        if variant == "bare" or not runs:
            continue
        if bare:
            ratios = [
                r.clients.server_cpu_per_session_minute / b.clients.server_cpu_per_session_minute
                for r, b in zip(runs, bare, strict=True)
            ]
            drained = [
                r.drained_cpu_per_session_minute / b.drained_cpu_per_session_minute
                for r, b in zip(runs, bare, strict=True)
            ]
            print(
                f"{variant} / bare server CPU per session-minute: window",
                ", ".join(f"{x:.2f}x" for x in ratios),
                "; window + drain",
                ", ".join(f"{x:.2f}x" for x in drained),
                "(target <= 1.3x at N=50)",
            )
        for figures in runs:
            c = figures.clients
            print(
                f"{variant}: p99 {c.latency.p99_ms:.1f} ms (target < 50 ms at N=200), "
                f"chunks lost {c.chunks_lost} (target 0)"
            )
    if failed:
        print("FAIL: sessions refused, chunks lost or recording incomplete (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
