"""The router over the demo's tool schemas: related words, clock times, time zones, misheard numbers."""
from __future__ import annotations

import json

import pytest

from realtime_agents.engine.offline import Router
from realtime_agents.engine.offline.asr import repeats_itself
from realtime_agents.engine.offline.lexicon import content_stems, stem, tool_vocabulary
from realtime_agents.engine.offline.values import find_time, numbers, sound_alike_number, time_zone

# The demo's tools as the session sends them (demo/realtime_tools.py, the demo's billing handoff).
CURRENT_TIME = {"type": "function", "name": "current_time",
                "description": "Get the current date and time in a time zone.",
                "parameters": {"type": "object", "properties": {"timezone": {
                    "type": "string", "default": "UTC",
                    "description": "An IANA time zone name such as Europe/Paris; defaults to UTC."}}}}
WEATHER = {"type": "function", "name": "get_weather", "description": "Look up today's weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {
               "type": "string", "description": "The city name, e.g. Paris."}}, "required": ["city"]}}
BOOK = {"type": "function", "name": "book_table",
        "description": "Book a restaurant table; a person approves each booking first.",
        "parameters": {"type": "object", "properties": {
            "restaurant": {"type": "string", "description": "The restaurant's name."},
            "party_size": {"type": "integer", "description": "How many people, 1 to 12."},
            "time": {"type": "string", "description": 'When, e.g. "tonight at 19:30".'}},
            "required": ["restaurant", "party_size", "time"]}}
BILLING = {"type": "function", "name": "transfer_to_billing",
           "description": "Handoff to the Billing agent to handle the request. Bills, payments and refunds.",
           "parameters": {"type": "object", "properties": {}}}
DEMO = (CURRENT_TIME, WEATHER, BOOK, BILLING)


def route(text: str) -> tuple[str, dict[str, object]] | str:
    reply = Router().route(text, DEMO)
    if reply.calls:
        return reply.calls[0].name, json.loads(reply.calls[0].arguments)
    return reply.text


@pytest.mark.parametrize(("text", "expected"), [
    # Related words: rain/warm/forecast are weather; pay/charged/refund are billing; date is time.
    ("Is it raining in London right now?", ("get_weather", {"city": "London"})),
    ("How warm is it in Tokyo?", ("get_weather", {"city": "Tokyo"})),
    ("Tell me the forecast for New York.", ("get_weather", {"city": "New York"})),
    ("How can I pay for my room?", ("transfer_to_billing", {})),
    ("I think I was charged twice, can I get a refund?", ("transfer_to_billing", {})),
    ("What's the date today?", ("current_time", {})),
    # A city said for a time-zone parameter becomes its IANA zone, capitalised or not.
    ("Could you tell me the current time in New York?", ("current_time", {"timezone": "America/New_York"})),
    ("what time is it in tokyo", ("current_time", {"timezone": "Asia/Tokyo"})),
    # Clock times in the ways people say them (and Whisper writes them), a day word kept.
    ("Can you book the Blue Lagoon for six people at half past seven?",
     ("book_table", {"restaurant": "Blue Lagoon", "party_size": 6, "time": "7:30"})),
    ("Please make a reservation at the Blue Lagoon for 3 tomorrow at 7.30.",
     ("book_table", {"restaurant": "Blue Lagoon", "party_size": 3, "time": "tomorrow at 7:30"})),
    ("I'd like to reserve a table at the Golden Dragon for 4 people at 8 pm.",
     ("book_table", {"restaurant": "Golden Dragon", "party_size": 4, "time": "20:00"})),
    ("Table for two at noon at the Golden Dragon, please.",
     ("book_table", {"restaurant": "Golden Dragon", "party_size": 2, "time": "12:00"})),
    # "three" misheard as "free" after "for"; a weekday is not the restaurant.
    ("Book a table at the Blue Lagoon for free at seven thirty.",
     ("book_table", {"restaurant": "Blue Lagoon", "party_size": 3, "time": "7:30"})),
    ("Book the Golden Dragon for two on Friday at seven.",
     ("book_table", {"restaurant": "Golden Dragon", "party_size": 2, "time": "friday at 7:00"})),
])
def test_router_over_the_demo_tools(text: str, expected: tuple[str, dict[str, object]]) -> None:
    assert route(text) == expected


def test_a_name_written_in_lower_case_is_still_found() -> None:
    assert route("book a table for two at seven at the golden dragon") == (
        "book_table", {"restaurant": "Golden Dragon", "party_size": 2, "time": "7:00"})
    assert route("what's the weather in sydney") == ("get_weather", {"city": "Sydney"})
    assert route("what's the weather like in the evening") == (
        "To look up today's weather in a city, I need the city. Please say it again with the city.")
    # As the object of the tool's own verb ("book the ..."), with any article; never the tool's own words.
    assert route("Can you book the blue lagoon for six people at half past seven?") == (
        "book_table", {"restaurant": "Blue Lagoon", "party_size": 6, "time": "7:30"})
    assert route("Can you book a blue lagoon for 6 people at half past 7?") == (
        "book_table", {"restaurant": "Blue Lagoon", "party_size": 6, "time": "7:30"})
    assert route("Can you book the table for six people at half past seven?") == (
        "To book a restaurant table, I need the restaurant. Please say it again with the restaurant.")
    # Told not to guess, the router takes only capitalised names.
    reply = Router().route("book a table for two at seven at the golden dragon", DEMO, guess_names=False)
    assert reply.calls == () and "I need the restaurant" in reply.text


def test_a_time_parameter_is_asked_for_when_no_clock_time_was_heard() -> None:
    # "seven" misheard as "Shannon": the router must not pass a name as the time.
    reply = route("Book a table for two at Shannon at the Golden Dragon.")
    assert isinstance(reply, str) and "I need the time" in reply


def test_small_talk_gets_the_capabilities_not_a_tool() -> None:
    reply = route("Hello, what can you do?")
    assert isinstance(reply, str) and reply.startswith("I can help you get the current date and time")
    assert "talk to billing" in reply


def test_stems_and_related_words_meet() -> None:
    assert stem("booked") == stem("bookings") == stem("reservation") == stem("book")
    assert stem("raining") == stem("forecast") == stem("weather")
    assert content_stems("Bills, payments and refunds.") == {stem("bill")}
    assert content_stems("What's the weather like in Paris today?") == {"weather", "paris", "today"}


def test_clock_times_numbers_and_zones() -> None:
    said = {text: (found.value if (found := find_time(text)) else None) for text in (
        "at quarter to eight", "at seven forty five pm", "at 11.30 tonight", "at twenty one", "at midnight",
        "for two people", "at 25", "by 7pm")}
    assert said == {"at quarter to eight": "7:45", "at seven forty five pm": "19:45",
                    "at 11.30 tonight": "tonight at 23:30", "at twenty one": "21:00", "at midnight": "0:00",
                    "for two people": None, "at 25": None, "by 7pm": "19:00"}
    assert [v for v, _ in numbers("for two at 7 and twenty five")] == [2, 7, 25]
    assert sound_alike_number("a table for free") == (3, 3)
    assert sound_alike_number("I'd like to book") is None, "a sound-alike only counts right after 'for'"
    assert (time_zone("in Sydney"), time_zone("in UTC"), time_zone("nowhere")) == ("Australia/Sydney", "UTC", None)


def test_recognition_prompt_and_runaway_decodes() -> None:
    assert tool_vocabulary(DEMO) == "Current time, weather, book table. Billing: bills, payments and refunds."
    assert tool_vocabulary(()) == ""
    # A handoff without a description of its own gives its agent's name; a custom description is kept.
    plain = {"name": "transfer_to_front_desk", "description": "Handoff to the Front desk agent to handle the request."}
    custom = {"name": "transfer_to_spa", "description": "Massages and sauna times"}
    assert tool_vocabulary([plain, custom]) == "Front desk. Spa: massages and sauna times."
    assert repeats_itself("What time is it in London? What time is it in London?")
    assert repeats_itself("the gate to gate to gate to")
    assert not repeats_itself("Book a table for two at seven.")
