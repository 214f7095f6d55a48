"""Offline voice model benchmark: espeak-ng speech through the whole transport; WER, routing, latency, RSS.

Run: .venv/bin/python -m bench.offline            (needs scripts/install-offline.sh --tts, espeak-ng, sox)
     .venv/bin/python -m bench.offline --json out.json --voices en-us en-us+f3 --floor-db 35

Each utterance gets a fresh session (the models are loaded once) and is streamed in real time in
20 ms appends. Latency is end of speech (the append holding the last spoken sample) to the first
answer audio delta, so it includes the VAD hang-over, recognition, routing, the tool and synthesis.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from realtime_agents.engine import AgentSpec, Runner, function_tool, realtime_handoff
from realtime_agents.engine.offline import OfflineEngines, OfflineModel

# Test speech is built the same way the offline tests build it.
from tests.engine.offline.speech import missing_offline, silence, speak

CHUNK_MS = 20
TAIL_S = 1.5
COMMANDS: tuple[tuple[str, tuple[tuple[str, dict[str, Any]], ...]], ...] = (
    ("What is the weather in Paris?", (("get_weather", {"city": "Paris"}),)),
    ("How is the weather in London today?", (("get_weather", {"city": "London"}),)),
    ("Will it rain in Tokyo tomorrow?", (("get_weather", {"city": "Tokyo"}),)),
    ("What is the weather like in Berlin?", (("get_weather", {"city": "Berlin"}),)),
    ("What time is it in Tokyo?", (("get_local_time", {"city": "Tokyo"}),)),
    ("Tell me the local time in Berlin.", (("get_local_time", {"city": "Berlin"}),)),
    ("Read me the menu please.", (("read_menu", {}),)),
    ("What is on the menu today?", (("read_menu", {}),)),
    ("Book a table for two at seven.", (("book_table", {"party_size": 2, "time": "7:00"}),)),
    ("I would like a reservation for four people at eight pm.", (("book_table", {"party_size": 4, "time": "20:00"}),)),
    ("Can you book a table for three at six?", (("book_table", {"party_size": 3, "time": "6:00"}),)),
    ("Please cancel my reservation.", (("cancel_reservation", {}),)),
)
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}


def build_agents(calls: list[tuple[str, dict[str, Any]]]) -> AgentSpec:
    """The benchmark's demo-like agents: a concierge with weather, time and menu, and a booking agent."""

    @function_tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city, for example Paris, London, Tokyo or Berlin."""
        calls.append(("get_weather", {"city": city}))
        return f"It is sunny and 21 degrees in {city}."

    @function_tool
    def get_local_time(city: str) -> str:
        """Tell the local clock time in a city such as Tokyo or Berlin."""
        calls.append(("get_local_time", {"city": city}))
        return f"It is nine in the evening in {city}."

    @function_tool
    def read_menu() -> str:
        """Read today's restaurant menu aloud."""
        calls.append(("read_menu", {}))
        return "Today we have tomato soup, roast chicken and apple pie."

    @function_tool
    def book_table(party_size: int, time: str) -> str:
        """Book a restaurant table for a number of people at a time."""
        calls.append(("book_table", {"party_size": party_size, "time": time}))
        return f"Your table for {party_size} at {time} is booked."

    @function_tool
    def cancel_reservation() -> str:
        """Cancel the guest's table reservation."""
        calls.append(("cancel_reservation", {}))
        return "Your reservation is cancelled."

    booking = AgentSpec(name="Booking", instructions="You book tables.", tools=[book_table, cancel_reservation],
                        handoff_description="Books and cancels restaurant tables and reservations.")
    return AgentSpec(name="Concierge", instructions="You help guests.", tools=[get_weather, get_local_time, read_menu],
                     handoffs=[realtime_handoff(booking)])


def normalise(text: str) -> list[str]:
    """Lower case, no punctuation, numbers as digits ("two" = "2"), "pm" = "p m"."""
    spaced = re.sub(r"(\d)([a-z])", r"\1 \2", text.lower().replace("p.m.", "pm").replace("a.m.", "am"))
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
    """One utterance's outcome."""

    text: str
    voice: str
    heard: str
    errors: int
    words: int
    routed: bool
    latency_s: float | None
    speech_stopped_s: float | None
    transcribed_s: float | None


async def run_one(engines: OfflineEngines, text: str, voice: str, expected: tuple[tuple[str, dict[str, Any]], ...],
                  floor_db: float) -> Result:
    """Stream one utterance in real time through a fresh session; measure what came back."""
    calls: list[tuple[str, dict[str, Any]]] = []
    model = OfflineModel(engines=engines)
    stamps = _Stamps()
    model.add_listener(stamps)
    session = await Runner(build_agents(calls), model=model).run()
    speech = speak(text, voice=voice, floor_db=floor_db, tail_s=0.0)
    audio = speech + silence(TAIL_S, floor_db=floor_db)
    step = 24 * 2 * CHUNK_MS
    heard, first_audio, speech_end = "", None, None
    async with session:
        async def feed() -> None:
            nonlocal speech_end
            loop = asyncio.get_running_loop()
            start = loop.time()
            for index, offset in enumerate(range(0, len(audio), step)):
                await asyncio.sleep(max(0.0, start + index * CHUNK_MS / 1000 - loop.time()))
                await session.send_audio(audio[offset:offset + step])
                if speech_end is None and offset + step >= len(speech):
                    speech_end = time.monotonic()

        feeder = asyncio.create_task(feed(), name="bench-offline-feed")
        try:
            async with asyncio.timeout(30):
                async for event in session:
                    if event.type == "transcript_done" and event.role == "user" and not heard:
                        heard = event.transcript
                    elif event.type == "audio" and first_audio is None and heard:
                        first_audio = time.monotonic()
                    elif event.type == "transcript_done" and event.role == "assistant" and calls:
                        break
        except TimeoutError:
            pass
        finally:
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)
    errors, words = word_errors(text, heard)
    def since_end(stamp: float | None) -> float | None:
        return stamp - speech_end if stamp is not None and speech_end is not None else None

    return Result(text=text, voice=voice, heard=heard, errors=errors, words=words,
                  routed=tuple(calls) == expected, latency_s=since_end(first_audio),
                  speech_stopped_s=since_end(stamps.first.get("input_audio_buffer.speech_stopped")),
                  transcribed_s=since_end(stamps.first.get("conversation.item.input_audio_transcription.completed")))


class _Stamps:
    """A model listener noting when each server event type first arrived."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}

    async def on_event(self, event: Any) -> None:
        if isinstance(event, dict):
            self.first.setdefault(event.get("type", ""), time.monotonic())


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


async def main_async(args: argparse.Namespace) -> int:
    missing = missing_offline()
    if missing:
        print(f"missing: {', '.join(missing)}; run scripts/install-offline.sh --tts and apt-get install espeak-ng sox")
        return 2
    started = time.monotonic()
    engines = await asyncio.to_thread(OfflineEngines.load)
    load_s = time.monotonic() - started
    results: list[Result] = []
    for voice in args.voices:
        for text, expected in COMMANDS:
            result = await run_one(engines, text, voice, expected, args.floor_db)
            results.append(result)
            latency = f"{result.latency_s:.2f} s" if result.latency_s is not None else "none"
            print(f"{voice:9} {'ok ' if result.routed else 'BAD'} {latency:>8}  {text!r} -> {result.heard!r}",
                  flush=True)
    latencies = [r.latency_s for r in results if r.latency_s is not None]
    stops = [r.speech_stopped_s for r in results if r.speech_stopped_s is not None]
    heard_at = [r.transcribed_s for r in results if r.transcribed_s is not None]
    summary = {
        "utterances": len(results),
        "voices": args.voices,
        "floor_db": args.floor_db,
        "tts": engines.synthesizer.name if engines.synthesizer else "none",
        "model_load_s": round(load_s, 2),
        "wer": round(sum(r.errors for r in results) / max(1, sum(r.words for r in results)), 4),
        "routing_accuracy": round(sum(r.routed for r in results) / max(1, len(results)), 4),
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 95), 3) if latencies else None,
        "latency_max_s": round(max(latencies), 3) if latencies else None,
        "speech_stopped_p50_s": round(statistics.median(stops), 3) if stops else None,
        "transcribed_p50_s": round(statistics.median(heard_at), 3) if heard_at else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"summary": summary, "results": [asdict(r) for r in results]}, handle, indent=2)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", nargs="+", default=["en-us", "en-us+f3"], help="espeak-ng voices")
    parser.add_argument("--floor-db", type=float, default=35.0, help="noise floor below speech, in dB")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.floor_db <= 0:
        parser.error("--floor-db must be positive")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
