"""The router's word handling: tokens, a crude stemmer, stopwords and groups of related words.

The groups are a small built-in thesaurus of words people use for the topics assistants' tools
typically cover (weather, time, bookings, bills). Each word of a group stems to the group's head,
on both sides of the match: what the user said and the tool's name and description. So "Is it
raining?" meets a tool described as "today's weather", and "payments" in a handoff description
meets "can I pay". Heads are topical words: a shared head counts more than an ordinary word.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_WORD = re.compile(r"[A-Za-z][A-Za-z']*|\d+(?::\d\d)?")
STOPWORDS = frozenset(
    "a an the is are was be to of in on at for and or but with me my i you your it its what whats how "
    "can could would please some any this that do does get give tell like want need about from by "
    "will just now there here also up out as so if then than id im let lets".split())
# Words every handoff tool's name or description carries; they say nothing about the topic.
HANDOFF_NOISE = frozenset({"transfer", "handoff", "agent", "handle", "request", "assistant"})
RELATED_WORDS: dict[str, tuple[str, ...]] = {
    "weather": ("forecast", "temperature", "rain", "raining", "rainy", "sunny", "sun", "snow", "snowing",
                "wind", "windy", "cloudy", "warm", "hot", "cold", "umbrella", "storm", "degrees"),
    "time": ("clock", "date", "hour", "o'clock", "timezone"),
    "book": ("reserve", "reservation", "booking"),
    "bill": ("invoice", "charge", "charges", "charged", "pay", "paying", "payment", "refund", "receipt",
             "money", "card", "cost", "price", "fee"),
    "cancel": ("cancellation", "cancelled", "cancelling"),
    "menu": ("dish", "dishes", "food", "eat"),
}


def words(text: str) -> list[str]:
    """The words and digit groups of a text, in order."""
    return _WORD.findall(text)


def _plain(word: str) -> str:
    """Lower case without a possessive or apostrophes: "Today's" -> "today", "What's" -> "whats"."""
    word = word.lower()
    if word.endswith("'s") and len(word) > 4:
        word = word[:-2]
    return word.replace("'", "")


def _strip_suffix(word: str) -> str:
    if len(word) > 5 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith(("ses", "xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "is")):
        word = word[:-1]
    if len(word) > 6 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 5 and word.endswith("ed"):
        word = word[:-2]
    if len(word) > 7 and word.endswith("ment"):
        word = word[:-4]
    # "charge"/"charged", "reserve"/"reserved": drop a final e so both forms meet.
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    # "booked" -> "book", "running" -> "run": undouble a final consonant left by the suffix.
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    return word


_HEADS: dict[str, str] = {}
for _head, _related in RELATED_WORDS.items():
    for _word in (_head, *_related):
        _HEADS[_strip_suffix(_plain(_word))] = _strip_suffix(_head)
TOPIC_HEADS = frozenset(_HEADS.values())


def stem(word: str) -> str:
    """A crude stem, mapped to its group's head: "raining" -> "weather", "booked" -> "book"."""
    base = _strip_suffix(_plain(word))
    return _HEADS.get(base, base)


def content_stems(text: str, *, ignore: frozenset[str] = frozenset()) -> set[str]:
    """The stems of a text's words that are neither stopwords nor in `ignore` (plain lower-case words)."""
    return {stem(w) for w in words(text) if _plain(w) not in STOPWORDS and _plain(w) not in ignore}


# The sentence the engine puts before a handoff's own description; it says nothing about the topic.
_HANDOFF_PREAMBLE = re.compile(r"^\s*Handoff to the .*? agent to handle the request\.\s*", re.IGNORECASE)


def tool_vocabulary(tools: Iterable[Mapping[str, Any]]) -> str:
    """The agent's topics as a recognition prompt: "Current time, weather. Billing: bills and refunds."

    Tool names give their topic words; each handoff gives its agent's name and the description staff
    wrote of what that agent handles (short topic lists, the words callers use for them).
    """
    phrases: list[str] = []
    handoffs: list[str] = []
    for tool in tools:
        name = str(tool.get("name", ""))
        if name.startswith("transfer_to_"):
            agent = name[len("transfer_to_"):].replace("_", " ").strip().capitalize()
            topics = _HANDOFF_PREAMBLE.sub("", str(tool.get("description") or "")).strip().rstrip(".")
            entry = f"{agent}: {topics[:1].lower()}{topics[1:]}." if topics else f"{agent}."
            if agent and entry not in handoffs:
                handoffs.append(entry)
            continue
        kept = [w for w in name.split("_") if w and w.lower() not in STOPWORDS and w.lower() not in HANDOFF_NOISE]
        phrase = " ".join(kept).lower()
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    listed = ", ".join(phrases)
    sentences = [listed[:1].upper() + listed[1:] + "."] if listed else []
    return " ".join([*sentences, *handoffs])
