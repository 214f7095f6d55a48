"""Argument values the router reads from an utterance: numbers, clock times, names and time zones.

Fixed rules, no language model: numbers in digits or words ("twenty five"), a number word that
recognition heard as its sound-alike after "for" ("a table for free" = for three), clock times
after "at"/"by"/"around" ("seven thirty", "half past seven", "7.30", "8 pm", "noon"), a day word
kept in front ("tomorrow at 7:30"), capitalised names ("New York"), and IANA time zones found by
their city ("Tokyo" = Asia/Tokyo).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .lexicon import words

NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i > 1}
# What recognition writes for a number word it mishears; only read right after "for" ("a table for free").
SOUND_ALIKES = {"free": 3, "tree": 3, "to": 2, "too": 2, "won": 1, "ate": 8, "fore": 4}
TIME_TRIGGERS = ("at", "by", "around")
DAY_WORDS = ("today", "tonight", "tomorrow", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
             "sunday")
EVENING_WORDS = ("pm", "tonight", "evening")
NAMED_TIMES = {"noon": (12, 0), "midday": (12, 0), "midnight": (0, 0)}
MONTHS = frozenset("January February March April May June July August September October November December".split())
ZONE_REGIONS = frozenset("Africa America Antarctica Asia Atlantic Australia Europe Indian Pacific".split())


@dataclass(frozen=True, kw_only=True)
class ClockTime:
    """A clock time found in an utterance: the value to pass ("tomorrow at 19:30") and its word positions."""

    value: str
    positions: frozenset[int]


def _tokens(text: str) -> list[str]:
    # "7.30" and "p.m." lose their dots: "730", "pm".
    return [t.lower() for t in words(text.replace(".", ""))]


def _number_at(tokens: list[str], index: int) -> tuple[int, int] | None:
    """(value, words used) of the number starting at `index` ("forty five" uses 2), or None."""
    token = tokens[index]
    if token.isdigit():
        return int(token), 1
    if token in TENS:
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if 0 < NUMBERS.get(following, 0) < 10:
            return TENS[token] + NUMBERS[following], 2
        return TENS[token], 1
    if token in NUMBERS:
        return NUMBERS[token], 1
    return None


def numbers(text: str) -> list[tuple[int, int]]:
    """(value, word index) of each number, digits or spelled out ("twenty five" = 25)."""
    tokens = _tokens(text)
    found: list[tuple[int, int]] = []
    index = 0
    while index < len(tokens):
        if ":" in tokens[index]:
            found.append((int(tokens[index].split(":")[0]), index))
            index += 1
            continue
        number = _number_at(tokens, index)
        if number is None:
            index += 1
            continue
        found.append((number[0], index))
        index += number[1]
    return found


def sound_alike_number(text: str) -> tuple[int, int] | None:
    """(value, word index) of a misheard number word right after "for" ("for free" = 3), if any."""
    tokens = _tokens(text)
    for index in range(1, len(tokens)):
        if tokens[index - 1] == "for" and tokens[index] in SOUND_ALIKES:
            return SOUND_ALIKES[tokens[index]], index
    return None


def _clock_at(tokens: list[str], index: int) -> tuple[int, int, int] | None:
    """(hour, minute, words used) of a clock time starting at `index`, or None."""
    token = tokens[index]
    if token in NAMED_TIMES:
        return (*NAMED_TIMES[token], 1)
    if token in ("half", "quarter") and index + 2 < len(tokens) and tokens[index + 1] in ("past", "to"):
        hour = _number_at(tokens, index + 2)
        if hour is None or not 1 <= hour[0] <= 12:
            return None
        minutes = 30 if token == "half" else 15
        if tokens[index + 1] == "to":
            return (hour[0] - 1) % 24, 60 - minutes, 2 + hour[1]
        return hour[0], minutes, 2 + hour[1]
    # "7:30", or "730", which is what "7.30" became.
    written = re.fullmatch(r"(\d{1,2}):(\d\d)", token) or re.fullmatch(r"(\d{1,2})(\d\d)", token)
    if written:
        hour, minute = int(written.group(1)), int(written.group(2))
        return (hour, minute, 1) if hour <= 23 and minute < 60 else None
    hour_word = _number_at(tokens, index)
    if hour_word is None or not 0 <= hour_word[0] <= 23:
        return None
    if hour_word[1] == 2:  # "twenty one"
        return hour_word[0], 0, 2
    after = index + 1
    if after < len(tokens) and tokens[after] in ("oclock", "o'clock"):
        return hour_word[0], 0, 2
    minute_word = _number_at(tokens, after) if after < len(tokens) and not tokens[after].isdigit() else None
    if minute_word is not None and 10 <= minute_word[0] < 60:
        return hour_word[0], minute_word[0], 1 + minute_word[1]
    return hour_word[0], 0, 1


def find_time(text: str) -> ClockTime | None:
    """The clock time said after "at"/"by"/"around" (or written "7pm", "7:30"), 24 h when pm/evening is said."""
    tokens = _tokens(text)
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        written = re.fullmatch(r"\d{1,2}(:\d\d)?(am|pm)|\d{1,2}:\d\d", token) is not None
        if not (index > 0 and tokens[index - 1] in TIME_TRIGGERS or written or token in NAMED_TIMES
                or following in ("am", "pm")):
            continue
        clock = _clock_at(tokens, index)
        if clock is None:
            continue
        hour, minute, used = clock
        end = index + used
        meridiem = token[-2:] if token.endswith(("am", "pm")) else ""
        if not meridiem and end < len(tokens) and tokens[end] in ("am", "pm"):
            meridiem, used = tokens[end], used + 1
        elif not meridiem and tokens[end:end + 2] == ["p", "m"]:
            meridiem, used = "pm", used + 2
        if (meridiem == "pm" or any(w in tokens for w in EVENING_WORDS)) and 1 <= hour < 12:
            hour += 12
        elif meridiem == "am" and hour == 12:
            hour = 0
        day = next((w for w in DAY_WORDS if w in tokens), None)
        value = f"{hour}:{minute:02d}"
        return ClockTime(value=f"{day} at {value}" if day else value,
                         positions=frozenset(range(index, index + used)))
    return None


def parse_time(text: str) -> str | None:
    """The clock time of an utterance as "H:MM" (with a day word in front when one is said), or None."""
    found = find_time(text)
    return found.value if found else None


def capitalised_names(text: str) -> list[str]:
    """Capitalised words and runs of them ("New York"), skipping a sentence's first word, "I", days and months."""
    names: list[str] = []
    for match in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)", text.strip()):
        name = match.group(1)
        if name.lower() not in DAY_WORDS and name not in MONTHS:
            names.append(name)
    return names


@functools.cache
def _zones_by_city() -> dict[str, str]:
    """IANA zones by their lower-case city ("new york" -> America/New_York), from the system's zone data."""
    try:
        import zoneinfo

        available = zoneinfo.available_timezones()
    except Exception:  # noqa: BLE001 - no zone data: time zones are simply not recognised
        return {}
    zones: dict[str, str] = {}
    for zone in sorted(available):
        region, _, city = zone.partition("/")
        if region in ZONE_REGIONS and city and "/" not in city:
            zones.setdefault(city.replace("_", " ").lower(), zone)
    return zones


def time_zone(text: str) -> str | None:
    """The IANA zone of a city named in the text ("in New York" -> America/New_York), or UTC/GMT when said."""
    tokens = _tokens(text)
    zones = _zones_by_city()
    for size in (3, 2, 1):
        for index in range(len(tokens) - size + 1):
            zone = zones.get(" ".join(tokens[index:index + size]))
            if zone is not None:
                return zone
    return "UTC" if any(t in ("utc", "gmt") for t in tokens) else None
