"""Whisper's runner-up readings, and the router preferring one it can act on."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from realtime_agents.engine.offline import OfflineEngines, Router
from realtime_agents.engine.offline.asr import Transcript, _plain_words, repeats_itself
from realtime_agents.engine.offline.brain import BrainContext, BrainReply, item_text
from realtime_agents.engine.offline.recognition import recognise_turn
from realtime_agents.engine.offline.state import default_session
from realtime_agents.engine.offline.tts import resample

from ..helpers import EventReader
from .agents import build_agents
from .recognizers import RecognizerWrapper
from .speech import requires_offline, silence, speak
from .test_offline_router import BOOK, DEMO
from .test_offline_voice import dicts, offline_session, say

SECOND_OF_AUDIO = b"\0" * 32000
SALMON = "Can you book the Blue Lagoon for six people at half past salmon?"
SEVEN = "Can you book the Blue Lagoon for six people at half past seven?"


def test_the_router_prefers_the_first_reading_it_can_act_on() -> None:
    router = Router()
    # No clock time in the best reading: the booking cannot be made, the runner-up can.
    assert router.actionable_reading((SALMON, SEVEN), DEMO) == SEVEN
    assert router.actionable_reading((SEVEN, SALMON), DEMO) == SEVEN
    assert router.actionable_reading(("Hello, what can you do?", "Hello, what can you do"), DEMO) is None
    assert router.actionable_reading((), DEMO) is None
    # A name Whisper wrote capitalised beats one guessed from lower case, whatever the order.
    guessed, named = SEVEN.replace("Blue Lagoon", "blue room"), SEVEN
    assert router.actionable_reading((guessed, named), DEMO) == named
    assert router.actionable_reading((guessed, SALMON), DEMO) == guessed


@requires_offline
def test_whisper_offers_distinct_runner_up_readings(engines: Any) -> None:
    speech = resample(speak("Book a table for two at seven at the Golden Dragon.", tail_s=0.5), 24000, 16000)
    heard = engines.recognizer.transcribe(speech)
    assert "golden dragon" in heard.text.lower()
    # "two"/"2" and "seven"/"7" give readings that differ in words, not only in case or punctuation.
    assert heard.alternatives, "Whisper's beam held no other reading"
    plain = [_plain_words(reading) for reading in (heard.text, *heard.alternatives)]
    assert len(set(plain)) == len(plain)
    assert not any(repeats_itself(reading) for reading in heard.alternatives)


class MisheardFirst(RecognizerWrapper):
    """The real recognizer, except that a misheard reading is put first and the real one second."""

    def __init__(self, real: Any, misheard: str) -> None:
        super().__init__(real)
        self.misheard = misheard

    def transcribe(self, pcm16_16k: bytes, **hints: Any) -> Any:
        heard = self.real.transcribe(pcm16_16k, **hints)
        return dataclasses.replace(heard, text=self.misheard, alternatives=(heard.text,))


class Listener:
    """A stand-in language model: it says what it heard and calls nothing."""

    async def reply(self, context: BrainContext) -> BrainReply:
        users = [item_text(i) for i in context.items if i.get("type") == "message" and i.get("role") == "user"]
        return BrainReply(text=f"You said: {users[-1]}")


@requires_offline
@pytest.mark.timeout(90)
@pytest.mark.parametrize("brain", ["router", "language model"])
async def test_the_router_acts_on_a_runner_up_and_a_language_model_gets_the_best_reading(
    engines: Any, recorder: Any, raw_events: list[Any], brain: str,
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    triage, _ = build_agents(calls)
    misheard = "What is the winner in Paris?"
    doctored = OfflineEngines(vad=engines.vad, recognizer=MisheardFirst(engines.recognizer, misheard),
                              synthesizer=engines.synthesizer)
    options: dict[str, Any] = {} if brain == "router" else {"brain": Listener()}
    session = await offline_session(doctored, recorder, triage, **options)
    async with session:
        reader = EventReader(session)
        await say(session, speak("What is the weather in Paris?") + silence(0.8))
        heard = await reader.until(lambda e: e.type == "transcript_done" and e.role == "user", timeout=30)
        answer = await reader.until(lambda e: e.type == "transcript_done" and e.role == "assistant", timeout=30)
    completed = dicts(raw_events, "conversation.item.input_audio_transcription.completed")
    assert [d["transcript"] for d in completed] == [heard.transcript]
    if brain == "router":
        # The best reading names no tool; the runner-up does, and is what the record shows was said.
        assert "weather" in heard.transcript.lower()
        assert calls == [("get_weather", {"city": "Paris"})]
        assert answer.transcript == "It is sunny and 21 degrees in Paris."
    else:
        assert heard.transcript == misheard
        assert calls == []
        assert answer.transcript == f"You said: {misheard}"


class ScriptedReadings:
    """A recognizer whose reading of each rendering of the turn is given; it notes which it was asked for.

    Renderings: "short" (the first decode), "slower" and "faster" (the tempo looks, told apart by
    their length) and "full" (the 30 s window). A reading of None makes that decode fail.
    """

    def __init__(self, short: str, full: str | None = "", *, slower: str | None = "", faster: str | None = "",
                 window_padding_s: float | None = 5.0) -> None:
        self.readings = {"short": short, "slower": slower, "faster": faster, "full": full}
        self.window_padding_s = window_padding_s
        self.looks: list[str] = []

    def transcribe(self, pcm16_16k: bytes, *, full_window: bool = False, **hints: Any) -> Transcript:
        samples = len(pcm16_16k) // 2
        look = ("full" if full_window else "short" if samples == len(SECOND_OF_AUDIO) // 2
                else "slower" if samples > len(SECOND_OF_AUDIO) // 2 else "faster")
        self.looks.append(look)
        reading = self.readings[look]
        if reading is None:
            raise RuntimeError("decoder crashed")
        return Transcript(text=reading, seconds=samples / 16000)


def demo_session() -> dict[str, Any]:
    session = default_session("offline")
    session["tools"] = [dict(tool) for tool in DEMO]
    return session


async def heard_by_router(recognizer: ScriptedReadings) -> str:
    return (await recognise_turn(recognizer, demo_session(), Router(), SECOND_OF_AUDIO)).text


LOOKS_IN_ORDER = ["short", "slower", "faster", "full"]


async def test_a_second_look_over_the_full_window_only_when_the_router_can_act_on_nothing() -> None:
    misheard, right = "What's my whammer in Sydney?", "What's the weather in Sydney?"
    second_look = ScriptedReadings(misheard, right)
    assert await heard_by_router(second_look) == right
    # The slower rendering offered nothing to act on, so the faster one was not needed.
    assert second_look.looks == ["short", "slower", "full"]
    assert (await recognise_turn(ScriptedReadings(misheard, right), demo_session(), Router(), SECOND_OF_AUDIO)
            ).readings == (misheard, right)
    # Nothing can be acted on (small talk): the first decode's best reading stands.
    small_talk = ScriptedReadings("Hello, what can you do?", "Hello what can you do",
                                  slower="Hello, what can you do", faster="Hello, what can you do?")
    assert await heard_by_router(small_talk) == "Hello, what can you do?"
    assert small_talk.looks == ["short", "slower", "full"]
    # Understood the first time: no second decode.
    understood = ScriptedReadings(right, misheard)
    assert await heard_by_router(understood) == right
    assert understood.looks == ["short"]
    # A language model listening: one decode only. Already decoding over the full window: no full look.
    listener = ScriptedReadings(misheard, right)
    assert (await recognise_turn(listener, demo_session(), Listener(), SECOND_OF_AUDIO)).text == misheard
    assert listener.looks == ["short"]
    full_only = ScriptedReadings(misheard, right, window_padding_s=None)
    assert await heard_by_router(full_only) == misheard
    assert full_only.looks == ["short", "slower"]
    # Every later look failing loses nothing: the first reading stands, and the turn goes on.
    crashing = ScriptedReadings(misheard, None, slower=None, faster=None)
    heard = await recognise_turn(crashing, demo_session(), Router(), SECOND_OF_AUDIO)
    assert (heard.text, heard.readings) == (misheard, (misheard,))
    assert crashing.looks == ["short", "slower", "full"]


async def test_slower_and_faster_renderings_count_only_when_they_agree() -> None:
    shannon = "Book a table for two at Shannon at the Golden Dragon."
    seven, seven_digits = ("Book a table for two at seven at the Golden Dragon.",
                           "Book a table for 2 at 7 at the Golden Dragon.")
    # Both renderings lead to the same booking (in different words): acted on, no full-window look.
    agreeing = ScriptedReadings(shannon, "", slower=seven, faster=seven_digits)
    assert await heard_by_router(agreeing) == seven
    assert agreeing.looks == ["short", "slower", "faster"]
    # Only one rendering can be acted on ("Bill, what can you do?" from a distorted "Hello"): not enough.
    alone = ScriptedReadings("Hello, what can you do?", "", slower="Bill, what can you do?",
                             faster="Hello, what can you do?")
    assert await heard_by_router(alone) == "Hello, what can you do?"
    assert alone.looks == LOOKS_IN_ORDER
    # They disagree (seven against eight): the full window decides.
    eight = "Book a table for two at eight at the Golden Dragon."
    disagreeing = ScriptedReadings(shannon, seven, slower=seven, faster=eight)
    assert await heard_by_router(disagreeing) == seven
    assert disagreeing.looks == LOOKS_IN_ORDER
    turn = await recognise_turn(ScriptedReadings(shannon, seven, slower=seven, faster=eight), demo_session(),
                                Router(), SECOND_OF_AUDIO)
    # A rendering's readings join the turn's only when the renderings agreed.
    assert turn.readings == (shannon, seven)
    agreed = ScriptedReadings(shannon, "", slower=seven, faster=seven_digits)
    assert (await recognise_turn(agreed, demo_session(), Router(), SECOND_OF_AUDIO)).readings == (shannon, seven)


def test_stretching_keeps_the_rate_and_changes_the_length() -> None:
    from realtime_agents.engine.offline.recognition import TEMPO_FACTORS, stretch

    slower, faster = (stretch(SECOND_OF_AUDIO, factor) for factor in TEMPO_FACTORS)
    assert len(slower) == 2 * 17280 and len(faster) == 2 * 14815
    assert stretch(b"", 1.08) == b""


@requires_offline
def test_the_full_window_can_be_asked_for(engines: Any) -> None:
    speech = resample(speak("What is the weather in Paris?", tail_s=0.5), 24000, 16000)
    heard = engines.recognizer.transcribe(speech, full_window=True)
    assert "paris" in heard.text.lower()
    assert heard.alternatives == (), "the standard decode keeps only its best reading"


async def test_after_a_handoff_the_new_agent_reconsiders_the_turn_s_other_readings() -> None:
    salmon, seven = ("Book a table at the Golden Dragon for six people at half past salmon.",
                     "Book a table at the Golden Dragon for six people at half past seven.")
    items = (
        {"type": "message", "role": "user", "id": "item_1", "content": [{"type": "input_audio", "transcript": salmon}]},
        {"type": "function_call", "call_id": "call_1", "name": "transfer_to_booking", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"assistant": "Booking"}'},
    )
    booking_tools = (BOOK,)
    router = Router()
    reconsidered = await router.reply(BrainContext(instructions="", tools=booking_tools, items=items,
                                                   readings={"item_1": (salmon, seven)}))
    assert [(c.name, json.loads(c.arguments)) for c in reconsidered.calls] == [
        ("book_table", {"restaurant": "Golden Dragon", "party_size": 6, "time": "7:30"})]
    # Without other readings the booking agent asks for the time it did not hear.
    alone = await router.reply(BrainContext(instructions="", tools=booking_tools, items=items))
    assert alone.calls == () and "time" in alone.text
