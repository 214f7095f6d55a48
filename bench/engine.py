"""Engine audio-path benchmark: N real-time sessions through the engine against a bare websockets client.

Run ``python -m bench.engine --sessions 100 --seconds 20`` from the repository root. The fake server
runs in its own process; each client variant runs in a fresh process whose CPU is measured over the
streaming window only (first request sent to last response finished).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import statistics
import sys
from collections.abc import Sequence
from typing import Any

from bench.common import (
    FakeServerProcess,
    StampingServer,
    format_table,
    machine_notes,
    positive_float,
    positive_int,
    run_in_child,
)
from bench.engine_clients import (
    API_KEY,
    INSTRUCTIONS,
    VARIANTS,
    BenchConfig,
    VariantResult,
    client_main,
)
from realtime_agents.engine.config import build_session_payload, normalize_model_settings
from realtime_agents.engine.testing import ScriptedResponse


def make_server(*, response: ScriptedResponse) -> StampingServer:
    """The server process's factory: a stamping fake server answering every request with `response`."""
    return StampingServer(api_key=API_KEY, default_response=response, record_audio=False)


def _transcript(seconds: float) -> str:
    # About 15 spoken characters per second, as the fake server assumes for real speech.
    words = ("once upon a time a small robot counted every audio chunk it heard " * 1000).split()
    text, count = [], 0
    for word in words:
        if count >= seconds * 15:
            break
        text.append(word)
        count += len(word) + 1
    return " ".join(text)


def session_update_payload() -> dict[str, Any]:
    """The `session` object the engine sends for the bench agent, so the bare client sends the same."""
    return build_session_payload(normalize_model_settings(None), instructions=INSTRUCTIONS, tools=[])


def _variants(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in VARIANTS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(VARIANTS)} (comma-separated), got {text!r}")
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options; bad values exit with a clear message."""
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sessions", type=positive_int, default=100, help="concurrent sessions (default 100)"
    )
    parser.add_argument(
        "--seconds",
        type=positive_float,
        default=20.0,
        help="seconds of audio streamed to each session, in real time (default 20)",
    )
    parser.add_argument("--chunk-ms", type=positive_int, default=50, help="audio per delta (default 50)")
    parser.add_argument("--rounds", type=positive_int, default=1, help="repeat every variant (default 1)")
    parser.add_argument("--variants", type=_variants, default=VARIANTS, help="comma-separated: bare,engine")
    parser.add_argument(
        "--connect-concurrency",
        type=positive_int,
        default=20,
        help="sessions connecting at once (default 20)",
    )
    parser.add_argument(
        "--profile",
        metavar="PATH",
        default=None,
        help="cProfile the engine client's window into PATH and print its top functions "
        "(slows the engine: do not record those figures)",
    )
    parser.add_argument(
        "--max-ratio",
        type=positive_float,
        default=None,
        help="exit 1 when the engine/bare CPU ratio exceeds this (e.g. 1.5)",
    )
    args = parser.parse_args(argv)
    if args.seconds * 1000 < args.chunk_ms:
        parser.error("--seconds must cover at least one --chunk-ms chunk")
    return args


def _row(result: VariantResult) -> list[str]:
    server = f"{result.server_cpu.total:.2f}" if result.server_cpu is not None else "-"
    return [
        result.variant,
        f"{result.completed}/{result.sessions}",
        str(result.deltas),
        f"{result.audio_seconds / max(result.completed, 1):.1f}",
        f"{result.wall_seconds:.1f}",
        f"{result.cpu.user:.2f}+{result.cpu.system:.2f}",
        f"{result.cpu_per_session_minute:.3f}",
        f"{result.latency.p50_ms:.2f}",
        f"{result.latency.p99_ms:.2f}",
        f"{result.latency.max_ms:.1f}",
        server,
    ]


HEADERS = [
    "variant",
    "done",
    "deltas",
    "audio s/sess",
    "wall s",
    "CPU s usr+sys",
    "CPU s/sess-min",
    "p50 ms",
    "p99 ms",
    "max ms",
    "server CPU s",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures; returns the exit status."""
    args = parse_args(argv)
    response = ScriptedResponse(
        transcript=_transcript(args.seconds),
        audio_ms=round(args.seconds * 1000),
        pace=1.0,
        chunk_ms=args.chunk_ms,
    )
    print(
        "command:",
        shlex.join(["python", "-m", "bench.engine", *(argv if argv is not None else sys.argv[1:])]),
    )
    print("machine:", machine_notes())
    results: list[VariantResult] = []
    with FakeServerProcess(factory=make_server, kwargs={"response": response}) as server:
        config = BenchConfig(
            url=server.url,
            sessions=args.sessions,
            seconds=args.seconds,
            chunk_ms=args.chunk_ms,
            connect_concurrency=args.connect_concurrency,
            session_update=session_update_payload(),
        )
        for round_number in range(1, args.rounds + 1):
            rows = []
            # Alternate the order so neither variant always runs into the other's aftermath.
            order = args.variants if round_number % 2 else tuple(reversed(args.variants))
            for variant in order:
                profile = args.profile if variant == "engine" else None
                variant_config = dataclasses.replace(config, profile_path=profile)
                before = server.cpu()
                result = run_in_child(
                    client_main,
                    variant,
                    variant_config,
                    timeout=variant_config.window_timeout + 120 + args.sessions,
                    name=f"bench-{variant}-client",
                )
                result = dataclasses.replace(result, server_cpu=server.cpu() - before)
                results.append(result)
                rows.append(_row(result))
                for error in result.errors:
                    print(f"  {variant}: {error}", file=sys.stderr)
                if result.profile_report:
                    print(result.profile_report)
            load = " ".join(f"{value:.2f}" for value in os.getloadavg())
            print(f"\nround {round_number} of {args.rounds} (load average now {load})")
            print(format_table(HEADERS, rows))
    if server.internal_errors:
        print("fake server internal errors:", *server.internal_errors[:10], sep="\n  ", file=sys.stderr)
    return _summarise(results, args)


def _summarise(results: Sequence[VariantResult], args: argparse.Namespace) -> int:
    failed = any(r.completed < r.sessions or r.errors for r in results)
    print()
    per_variant = {v: [r.cpu_per_session_minute for r in results if r.variant == v] for v in args.variants}
    for variant, figures in per_variant.items():
        runs = [r for r in results if r.variant == variant]
        if runs:
            print(
                f"{variant}: median over {len(runs)} run(s): {statistics.median(figures):.3f} CPU s/session-minute, "
                f"p50 {statistics.median(r.latency.p50_ms for r in runs):.2f} ms, "
                f"p99 {statistics.median(r.latency.p99_ms for r in runs):.2f} ms"
            )
    if per_variant.get("bare") and per_variant.get("engine"):
        ratios = [e / b for e, b in zip(per_variant["engine"], per_variant["bare"], strict=True)]
        median = statistics.median(ratios)
        print(
            f"engine / bare CPU per session-minute: {', '.join(f'{r:.2f}x' for r in ratios)}"
            f" (median {median:.2f}x; target <= 1.5x at N=100)"
        )
        if args.max_ratio is not None and median > args.max_ratio:
            print(f"FAIL: ratio {median:.2f}x exceeds --max-ratio {args.max_ratio}", file=sys.stderr)
            return 1
    if failed:
        print("FAIL: some sessions did not stream their whole response (see errors above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
