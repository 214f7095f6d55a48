"""Offline voice model benchmark: espeak-ng speech through the whole transport; WER, routing, latency, RSS.

Run: .venv/bin/python -m bench.offline            (needs scripts/install-offline.sh --tts, espeak-ng, sox)
     .venv/bin/python -m bench.offline --json out.json --voices en-us en-us+f3 --floor-db 35

The agents are the demo's (demo/realtime_tools.py and the demo command): a concierge with
current_time, get_weather and book_table (approved at once, as the staff member would) and a
handoff to billing, which hands back. Each utterance gets a fresh session (the models load once)
and is streamed in real time in 20 ms appends. Latency is end of speech (the append holding the
last sample espeak wrote) to the first answer audio, split into: VAD hang-over (to speech_stopped),
recognition (to the completed transcript), routing and tool (to the answer's first content part),
and synthesis of the first sentence (to its first audio delta).
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from demo import realtime_tools
from realtime_agents.engine import AgentSpec, Runner, function_tool, realtime_handoff
from realtime_agents.engine.offline import OfflineEngines, OfflineModel
from realtime_agents.engine.offline.asr import DEFAULT_WINDOW_PADDING_S
from realtime_agents.engine.offline.engines import TtsChoice

# Test speech is built the same way the offline tests build it.
from tests.engine.offline.recognizers import RecognizerWrapper
from tests.engine.offline.espeak import missing_offline, silence, speak

CHUNK_MS = 20
TAIL_S = 1.5
Call = tuple[str, dict[str, Any]]
GOLDEN, LAGOON = "Golden Dragon", "Blue Lagoon"
# (starting agent, what is said, the tool calls and handoffs that should follow, in order)
COMMANDS: tuple[tuple[str, str, tuple[Call, ...]], ...] = (
    ("concierge", "What's the weather like in Paris today?", (("get_weather", {"city": "Paris"}),)),
    ("concierge", "Is it raining in London right now?", (("get_weather", {"city": "London"}),)),
    ("concierge", "Tell me the forecast for New York.", (("get_weather", {"city": "New York"}),)),
    ("concierge", "How warm is it in Tokyo?", (("get_weather", {"city": "Tokyo"}),)),
    ("concierge", "What time is it in Tokyo?", (("current_time", {"timezone": "Asia/Tokyo"}),)),
    ("concierge", "Could you tell me the current time in New York?",
     (("current_time", {"timezone": "America/New_York"}),)),
    ("concierge", "What's the date today?", (("current_time", {}),)),
    ("concierge", "Book a table for two at seven at the Golden Dragon.",
     (("book_table", {"restaurant": GOLDEN, "party_size": 2, "time": "7:00"}),)),
    ("concierge", "I'd like to reserve a table at the Golden Dragon for four people at eight pm.",
     (("book_table", {"restaurant": GOLDEN, "party_size": 4, "time": "20:00"}),)),
    ("concierge", "Can you book the Blue Lagoon for six people at half past seven?",
     (("book_table", {"restaurant": LAGOON, "party_size": 6, "time": "7:30"}),)),
    ("concierge", "Please make a reservation at the Blue Lagoon for three tomorrow at seven thirty.",
     (("book_table", {"restaurant": LAGOON, "party_size": 3, "time": "tomorrow at 7:30"}),)),
    ("concierge", "Hello, what can you do?", ()),
    ("concierge", "I have a question about my bill.", (("handoff", {"to": "Billing"}),)),
    ("concierge", "I think I was charged twice, can I get a refund?", (("handoff", {"to": "Billing"}),)),
    ("concierge", "How can I pay for my room?", (("handoff", {"to": "Billing"}),)),
    ("billing", "What's the weather in Sydney?",
     (("handoff", {"to": "Concierge"}), ("get_weather", {"city": "Sydney"}))),
)
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())} | {w: str(10 * i) for i, w in enumerate(
        "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i > 1}
_CONTRACTIONS = ((r"\b(what|it|that|there|here|he|she|who|where|how)'s\b", r"\1 is"), (r"n't\b", " not"),
                 (r"'re\b", " are"), (r"'ll\b", " will"), (r"'d\b", " would"), (r"'m\b", " am"))
STAGES = ("hangover_s", "recognition_s", "routing_tool_s", "first_sentence_s")


def build_agents(calls: list[Call]) -> dict[str, AgentSpec]:
    """The demo's agents over its real tool functions; every tool call is recorded in `calls`."""

    def recorded(function: Any) -> Any:
        tool = function_tool(function, needs_approval=function is realtime_tools.book_table)
        inner = tool.on_invoke_tool

        async def invoke(context: Any, arguments: str) -> Any:
            calls.append((tool.name, json.loads(arguments or "{}")))
            return await inner(context, arguments)

        return dataclasses.replace(tool, on_invoke_tool=invoke)

    tools = [recorded(f) for f in (realtime_tools.current_time, realtime_tools.get_weather, realtime_tools.book_table)]
    # Instructions and handoff descriptions as the demo command loads them (the router ignores instructions).
    concierge = AgentSpec(name="Concierge", instructions="You are the concierge of a small hotel.", tools=tools,
                          handoff_description="General questions, weather, the time and restaurant bookings.")
    billing = AgentSpec(name="Billing", instructions="You are the hotel's billing assistant.",
                        handoff_description="Bills, payments and refunds.")
    concierge.handoffs = [realtime_handoff(billing)]
    billing.handoffs = [realtime_handoff(concierge)]
    return {"concierge": concierge, "billing": billing}


def normalise(text: str) -> list[str]:
    """Words as Whisper's normaliser compares them: lower case, no punctuation, contractions spelled out
    ("what's" = "what is"), numbers as digits ("thirty" = "30"), "8pm" = "8 pm", "7.30" = "730" = "7 30"."""
    spaced = text.lower().replace("p.m.", "pm").replace("a.m.", "am").replace("\u2019", "'")
    for pattern, replacement in _CONTRACTIONS:
        spaced = re.sub(pattern, replacement, spaced)
    spaced = re.sub(r"\b(\d{1,2})[.:]?(\d\d)\b", r"\1 \2", spaced)
    spaced = re.sub(r"(\d)([a-z])", r"\1 \2", spaced)
    words = re.findall(r"[a-z0-9']+", spaced)
    return [_NUMBER_WORDS.get(w, w) for w in words]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference length)."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[len(hyp)], len(ref)


@dataclass(frozen=True, kw_only=True)
class Result:
    """One utterance's outcome; times are seconds after the end of speech."""

    text: str
    voice: str
    heard: str
    calls: list[Call]
    errors: int
    words: int
    routed: bool
    latency_s: float | None
    espeak_tail_s: float
    stages: dict[str, float | None]
    # Every turn's readings from Whisper, best first (what the router could choose from).
    readings: list[list[str]]


class _ReadingsLog(RecognizerWrapper):
    """The recognizer, noting each turn's readings (the best and its close runners-up)."""

    def __init__(self, real: Any) -> None:
        super().__init__(real)
        self.turns: list[list[str]] = []

    def transcribe(self, pcm16_16k: bytes, **hints: Any) -> Any:
        heard = self.real.transcribe(pcm16_16k, **hints)
        self.turns.append([heard.text, *heard.alternatives])
        return heard


class _Stamps:
    """A model listener noting when each server event type first arrived."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}

    async def on_event(self, event: Any) -> None:
        if isinstance(event, dict):
            self.first.setdefault(event.get("type", ""), time.monotonic())


def last_sound_s(text: str, voice: str) -> float:
    """Seconds from the last audible 10 ms of espeak's speech to the end of its audio (espeak's own tail)."""
    import numpy as np

    clean = np.frombuffer(speak(text, voice=voice, floor_db=120.0, tail_s=0.0), dtype="<i2").astype(np.float64)
    frames = clean[: len(clean) // 240 * 240].reshape(-1, 240)
    level = float(np.sqrt(np.mean(clean[np.abs(clean) > 100] ** 2)))
    loud = np.nonzero(np.sqrt(np.mean(frames ** 2, axis=1)) > 0.02 * level)[0]  # 34 dB below the speech
    return round((len(frames) - 1 - int(loud[-1])) * 0.01, 3) if loud.size else 0.0


def _stages(stamps: dict[str, float], speech_end: float | None) -> dict[str, float | None]:
    marks = [speech_end] + [stamps.get(kind) for kind in (
        "input_audio_buffer.speech_stopped", "conversation.item.input_audio_transcription.completed",
        "response.content_part.added", "response.output_audio.delta")]
    return {stage: round(later - earlier, 3) if earlier is not None and later is not None else None
            for stage, earlier, later in zip(STAGES, marks, marks[1:])}


async def run_one(engines: OfflineEngines, start: str, text: str, voice: str, expected: tuple[Call, ...],
                  floor_db: float) -> Result:
    """Stream one utterance in real time through a fresh session (voice "typed": send the text); measure it."""
    calls: list[Call] = []
    readings = _ReadingsLog(engines.recognizer)
    model = OfflineModel(engines=dataclasses.replace(engines, recognizer=readings))
    stamps = _Stamps()
    model.add_listener(stamps)
    session = await Runner(build_agents(calls)[start], model=model).run()
    typed = voice == "typed"
    speech = b"" if typed else speak(text, voice=voice, floor_db=floor_db, tail_s=0.0)
    tail = 0.0 if typed else last_sound_s(text, voice)
    audio = b"" if typed else speech + silence(TAIL_S, floor_db=floor_db)
    step = 24 * 2 * CHUNK_MS
    heard, first_audio, speech_end = text if typed else "", None, None
    async with session:
        if typed:
            await session.send_message(text)

        async def feed() -> None:
            nonlocal speech_end
            loop = asyncio.get_running_loop()
            begin = loop.time()
            for index, offset in enumerate(range(0, len(audio), step)):
                await asyncio.sleep(max(0.0, begin + index * CHUNK_MS / 1000 - loop.time()))
                await session.send_audio(audio[offset:offset + step])
                if speech_end is None and offset + step >= len(speech):
                    speech_end = time.monotonic()

        feeder = asyncio.create_task(feed(), name="bench-offline-feed")
        try:
            async with asyncio.timeout(30):
                async for event in session:
                    if event.type == "transcript_done" and event.role == "user" and not heard:
                        heard = event.transcript
                    elif event.type == "tool_approval_required":
                        await session.approve_tool_call(event.call_id)
                    elif event.type == "handoff":
                        calls.append(("handoff", {"to": event.to_agent.name}))
                    elif event.type == "audio" and heard:
                        # Tools and handoffs ran before the answer is spoken: its first audio ends the turn.
                        first_audio = time.monotonic()
                        break
                    elif event.type == "transcript_done" and event.role == "assistant" and heard:
                        break
        except TimeoutError:
            pass
        finally:
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)
    errors, words = word_errors(text, heard)
    latency = first_audio - speech_end if first_audio is not None and speech_end is not None else None
    return Result(text=text, voice=voice, heard=heard, calls=calls, errors=errors, words=words,
                  routed=tuple(calls) == expected, latency_s=round(latency, 3) if latency is not None else None,
                  espeak_tail_s=tail, stages=_stages(stamps.first, speech_end), readings=readings.turns)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def load_engines(tts: TtsChoice, full_window: bool) -> OfflineEngines:
    """The models as OfflineEngines.load() loads them, or with Whisper's standard 30 s window."""
    return OfflineEngines.load(tts=tts, window_padding_s=None if full_window else DEFAULT_WINDOW_PADDING_S)


async def main_async(args: argparse.Namespace) -> int:
    missing = missing_offline()
    if missing:
        print(f"missing: {', '.join(missing)}; run scripts/install-offline.sh --tts and apt-get install espeak-ng sox")
        return 2
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.monotonic()
    engines = await asyncio.to_thread(load_engines, args.tts, args.full_window)
    load_s = time.monotonic() - started
    results: list[Result] = []
    for voice in [*args.voices, "typed"]:
        for start, text, expected in COMMANDS:
            result = await run_one(engines, start, text, voice, expected, args.floor_db)
            results.append(result)
            latency = f"{result.latency_s:.2f} s" if result.latency_s is not None else "none"
            parts = " ".join(f"{v:.2f}" if v is not None else "-" for v in result.stages.values())
            print(f"{voice:9} {'ok ' if result.routed else 'BAD'} {latency:>7} [{parts}] {text!r} -> "
                  f"{result.heard!r}{'' if result.routed else f' calls={result.calls} readings={result.readings}'}",
                  flush=True)
    typed = [r for r in results if r.voice == "typed"]
    results = [r for r in results if r.voice != "typed"]
    latencies = [r.latency_s for r in results if r.latency_s is not None]
    summary = {
        "utterances": len(results),
        "voices": args.voices,
        "floor_db": args.floor_db,
        "tts": engines.synthesizer.name if engines.synthesizer else "none",
        "whisper_window": "30 s" if args.full_window else "audio + 5 s",
        "model_load_s": round(load_s, 2),
        "wer": round(sum(r.errors for r in results) / max(1, sum(r.words for r in results)), 4),
        "routing_accuracy": round(sum(r.routed for r in results) / max(1, len(results)), 4),
        "routed": f"{sum(r.routed for r in results)}/{len(results)}",
        # The same commands typed: the router alone, without recognition errors.
        "routed_typed": f"{sum(r.routed for r in typed)}/{len(typed)}",
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 95), 3) if latencies else None,
        "latency_max_s": round(max(latencies), 3) if latencies else None,
        # Measured from the end of espeak's audio; its own trailing silence comes on top for a listener.
        "espeak_tail_p50_s": _median([r.espeak_tail_s for r in results]),
        "from_last_sound_p50_s": _median([r.latency_s + r.espeak_tail_s if r.latency_s is not None else None
                                          for r in results]),
        "stage_p50_s": {stage: _median([r.stages[stage] for r in results]) for stage in STAGES},
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"summary": summary, "results": [asdict(r) for r in results + typed]}, handle, indent=2)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", nargs="+", default=["en-us", "en-us+f3"], help="espeak-ng voices")
    parser.add_argument("--floor-db", type=float, default=35.0, help="noise floor below speech, in dB")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--tts", choices=["auto", "piper", "espeak"], default="auto", help="speech synthesis")
    parser.add_argument("--full-window", action="store_true", help="Whisper's standard 30 s window (slower)")
    args = parser.parse_args(argv)
    if args.floor_db <= 0:
        parser.error("--floor-db must be positive")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
