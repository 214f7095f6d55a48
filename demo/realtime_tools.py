"""The demo's Python tools: the current time, a weather lookup and a table booking."""

from __future__ import annotations

import datetime
import secrets
import zoneinfo
from typing import Any

import realtime_agents

# A small built-in table, so the demo needs no weather service (and no network).
WEATHER: dict[str, dict[str, Any]] = {
    "paris": {"city": "Paris", "condition": "light rain", "temperature_c": 14, "wind_kmh": 18},
    "london": {"city": "London", "condition": "overcast", "temperature_c": 12, "wind_kmh": 22},
    "new york": {"city": "New York", "condition": "sunny", "temperature_c": 21, "wind_kmh": 10},
    "tokyo": {"city": "Tokyo", "condition": "humid, partly cloudy", "temperature_c": 26, "wind_kmh": 8},
    "sydney": {"city": "Sydney", "condition": "clear", "temperature_c": 19, "wind_kmh": 15},
    "berlin": {"city": "Berlin", "condition": "cloudy", "temperature_c": 11, "wind_kmh": 20},
}


@realtime_agents.tool
def current_time(timezone: str = "UTC") -> dict[str, str]:
    """Get the current date and time in a time zone.

    Args:
        timezone: An IANA time zone name such as Europe/Paris; defaults to UTC.
    """
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return {"error": f"unknown time zone {timezone!r}; use a name such as Europe/Paris"}
    now = datetime.datetime.now(zone)
    time, date = now.strftime("%H:%M"), now.strftime("%A %d %B %Y")
    summary = f"It is {time} on {date} in {timezone}."
    return {"timezone": timezone, "time": time, "date": date, "summary": summary}


@realtime_agents.tool
def get_weather(city: str) -> dict[str, Any]:
    """Look up today's weather in a city.

    Args:
        city: The city name, e.g. Paris.
    """
    entry = WEATHER.get(" ".join(city.lower().split()))
    if entry is None:
        known = ", ".join(value["city"] for value in WEATHER.values())
        return {"error": f"no weather for {city!r}; the demo knows {known}"}
    # A sentence for a voice with no language model (the offline router speaks `summary`).
    summary = (f"In {entry['city']} today: {entry['condition']}, {entry['temperature_c']} degrees, "
               f"wind {entry['wind_kmh']} kilometres an hour.")
    return {**entry, "summary": summary}


@realtime_agents.tool(needs_approval=True)
def book_table(restaurant: str, party_size: int, time: str) -> dict[str, Any]:
    """Book a restaurant table; a person approves each booking first.

    Args:
        restaurant: The restaurant's name.
        party_size: How many people, 1 to 12.
        time: When, e.g. "tonight at 19:30".
    """
    if not 1 <= party_size <= 12:
        return {"error": "party size must be between 1 and 12"}
    reference = secrets.token_hex(3).upper()
    return {
        "confirmed": True,
        "restaurant": restaurant,
        "party_size": party_size,
        "time": time,
        "reference": reference,
        "summary": f"Booked: {restaurant}, {party_size} people, {time}. Your reference is {reference}.",
    }
