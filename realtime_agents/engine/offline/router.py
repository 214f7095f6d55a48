"""The deterministic router brain: keyword matching over tool schemas. It is NOT a language model.

It picks the tool (or handoff) whose name, description and enum values share the most words with
what the user said, fills arguments with simple rules (numbers incl. spelled-out ones, times,
enum values, capitalised names, values a description lists), and afterwards speaks the tool's
result. It does not understand language, follow instructions, or hold a conversation: when no
tool matches it says what it can help with. Configure a chat-completions endpoint for real dialogue.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .brain import BrainContext, BrainReply, FunctionCall, item_text
from .lexicon import HANDOFF_NOISE, STOPWORDS, TOPIC_HEADS, content_stems, stem, words
from .values import (DAY_WORDS, NAMED_TIMES, NUMBERS, TENS, capitalised_names, find_time, numbers, parse_time,
                     sound_alike_number, time_zone)

__all__ = ["Router", "describe", "fill_arguments", "is_handoff", "numbers", "parse_time", "speakable", "stem",
           "words"]

TIME_HINTS = frozenset({"time", "hour", "when", "at", "clock"})
ZONE_HINTS = ("timezone", "time zone", "time_zone", "iana")
NAME_PREPOSITIONS = ("in", "at", "for", "from", "to", "near", "with")
PLACE_PREPOSITIONS = frozenset({"in", "at", "near", "from"})
ARTICLES = frozenset({"the", "a", "an"})
# Words that follow "in"/"at" without being a name ("in the evening", "at half past seven").
NOT_NAMES = frozenset({*DAY_WORDS, *NAMED_TIMES, "am", "pm", "half", "quarter", "morning", "evening", "night",
                       "afternoon", "moment", "minute", "minutes", "hour", "hours", "time", "all", "least", "once",
                       "weekend", "week", "month", "year"})
MIN_SCORE = 2.0


def _known_values(*descriptions: str) -> list[str]:
    """Values a description lists ("a city: Paris, London or Tokyo"): its capitalised names."""
    return [name for text in descriptions for name in capitalised_names(text)]


class Router:
    """The deterministic brain (not a language model): see the module docstring."""

    def __init__(self, *, min_score: float = MIN_SCORE) -> None:
        self._min_score = min_score

    async def reply(self, context: BrainContext) -> BrainReply:
        """Route the newest user turn, or speak the newest tool result."""
        items = [i for i in context.items if i.get("type") in ("message", "function_call", "function_call_output")]
        if not items:
            return BrainReply(text="Hello. " + self.capabilities(context.tools))
        last = items[-1]
        if last.get("type") == "function_call_output":
            return self._after_tool(context, items, last)
        if last.get("type") == "message" and last.get("role") == "user":
            return self.route(item_text(last), context.tools)
        if last.get("type") == "message" and last.get("role") == "system":
            return BrainReply(text="Sorry, I can't help with that. " + self.capabilities(context.tools))
        return BrainReply(text=self.capabilities(context.tools))

    # -- routing --------------------------------------------------------------------------------

    def score(self, text: str, tool: Mapping[str, Any]) -> float:
        """How strongly an utterance points at a tool.

        A word shared with the tool's name counts 3, with an enum value 2, with its description 2
        for a topic word (weather, time, book, bill...) and 1 otherwise, with a parameter's name or
        description 0.5.
        """
        said = content_stems(text)
        name_words = content_stems(str(tool.get("name", "")).replace("_", " "), ignore=HANDOFF_NOISE)
        description = content_stems(str(tool.get("description", "")), ignore=HANDOFF_NOISE) - name_words
        properties = ((tool.get("parameters") or {}).get("properties") or {})
        enum_words: set[str] = set()
        param_words: set[str] = set()
        for param, prop in properties.items():
            prop = prop or {}
            for value in prop.get("enum") or ():
                enum_words |= content_stems(str(value))
            param_words |= content_stems(param.replace("_", " ") + " " + str(prop.get("description", "")))
        enum_words -= name_words | description
        param_words -= name_words | description | enum_words
        described = sum(2.0 if word in TOPIC_HEADS else 1.0 for word in said & description)
        return (3.0 * len(said & name_words) + described + 2.0 * len(said & enum_words)
                + 0.5 * len(said & param_words))

    def route(self, text: str, tools: tuple[Mapping[str, Any], ...], *, allow_handoffs: bool = True,
              guess_names: bool = True) -> BrainReply:
        """A function call for the best-matching tool, a question for a missing argument, or the help text.

        `guess_names=False` takes only names recognition wrote capitalised (see `fill_arguments`).
        """
        candidates = [t for t in tools if t.get("name") and (allow_handoffs or not is_handoff(t))]
        scored = sorted(((self.score(text, t), i, t) for i, t in enumerate(candidates)), key=lambda s: (-s[0], s[1]))
        if not text.strip() or not scored or scored[0][0] < self._min_score:
            return BrainReply(text=self.capabilities(tools))
        tool = scored[0][2]
        arguments, missing = fill_arguments(text, tool, guess_names=guess_names)
        if missing:
            what = " and ".join(m.replace("_", " ") for m in missing)
            return BrainReply(text=f"To {describe(tool)}, I need the {what}. Please say it again with the {what}.")
        return BrainReply(calls=(FunctionCall(name=tool["name"], arguments=json.dumps(arguments)),))

    def actionable_reading(self, readings: Sequence[str], tools: tuple[Mapping[str, Any], ...]) -> str | None:
        """Of recognition's readings (likeliest first), the first this router can act on, if any.

        Whisper base often ranks a near-homophone first ("half past salmon") with the right words a
        close second; preferring a reading that names a tool and all its arguments is how a command
        grammar biases recognition, with no knowledge of what was actually said. A reading whose names
        Whisper wrote capitalised beats one that needs a lower-case name guessed ("the Blue Lagoon"
        over "the blue room").
        """
        for guess_names in (False, True):
            for reading in readings:
                if self.route(reading, tools, guess_names=guess_names).calls:
                    return reading
        return None

    def capabilities(self, tools: tuple[Mapping[str, Any], ...]) -> str:
        """What the agent can do, from its tool descriptions."""
        things = [describe(t) for t in tools if t.get("name")]
        if not things:
            return "I can only chat about this agent's topics, and no tools are set up."
        listed = "; ".join(things[:-1]) + (" or " if len(things) > 1 else "") + things[-1]
        return f"I can help you {listed}."

    # -- after a tool ---------------------------------------------------------------------------

    def _after_tool(self, context: BrainContext, items: list[Mapping[str, Any]],
                    output: Mapping[str, Any]) -> BrainReply:
        call = next((i for i in reversed(items) if i.get("type") == "function_call"
                     and i.get("call_id") == output.get("call_id")), None)
        text = str(output.get("output", ""))
        if (call is not None and str(call.get("name", "")).startswith("transfer_to_")) or _is_transfer(text):
            # After a handoff the new agent acts on the request that caused it, if one of its tools fits.
            user = next((i for i in reversed(items) if i.get("type") == "message" and i.get("role") == "user"), None)
            if user is not None:
                said = item_text(user)
                own = tuple(t for t in context.tools if not is_handoff(t))
                # The reading chosen before the handoff may lack what this agent's tools need.
                readings = (said, *context.readings.get(str(user.get("id")), ()))
                said = self.actionable_reading(readings, own) or said
                if any(self.score(said, t) >= self._min_score for t in own):
                    return self.route(said, context.tools, allow_handoffs=False)
            return BrainReply(text="How can I help? " + self.capabilities(context.tools))
        return BrainReply(text=speakable(text))


def is_handoff(tool: Mapping[str, Any]) -> bool:
    """Whether a session tool is a handoff (the engine names them transfer_to_<agent>)."""
    return str(tool.get("name", "")).startswith("transfer_to_")


def _is_transfer(output: str) -> bool:
    try:
        data = json.loads(output)
    except ValueError:
        return False
    return isinstance(data, dict) and set(data) == {"assistant"}


def describe(tool: Mapping[str, Any]) -> str:
    """A short verb phrase for a tool: its description's first sentence, else its name."""
    name = str(tool.get("name", ""))
    if is_handoff(tool):
        return "talk to " + name[len("transfer_to_"):].replace("_", " ")
    # The first clause only: "Book a restaurant table; a person approves..." -> "book a restaurant table".
    first = re.split(r"(?<=[.!?;])\s", str(tool.get("description") or "").strip())[0].rstrip(".!?; ")
    if not first:
        return name.replace("_", " ")
    return first[0].lower() + first[1:]


def fill_arguments(text: str, tool: Mapping[str, Any], *,
                   guess_names: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Arguments found in the utterance for the tool's JSON schema, and the required ones not found.

    With `guess_names`, a name written in lower case counts when placed like one ("at the golden
    dragon"); Whisper writes a name it is unsure of that way, so without it such a name is missing.
    """
    schema = tool.get("parameters") or {}
    props: Mapping[str, Any] = schema.get("properties") or {}
    required = list(schema.get("required") or ())
    lowered = " " + " ".join(w.lower() for w in words(text)) + " "
    found: dict[str, Any] = {}
    clock = find_time(text)
    # Words that belong to the clock time ("half past seven") are not counts.
    used: set[int] = set(clock.positions) if clock else set()
    ordered = sorted(props, key=lambda n: not _timeish(n))
    for name in ordered:
        prop = props[name] or {}
        kind = prop.get("type")
        about = f"{name} {prop.get('description', '')}".lower()
        timeish = _timeish(name)
        if prop.get("enum"):
            for value in prop["enum"]:
                if f" {' '.join(w.lower() for w in words(str(value)))} " in lowered:
                    found[name] = value
                    break
        elif kind == "boolean":
            if re.search(r"\b(on|yes|true|enable|start)\b", lowered):
                found[name] = True
            elif re.search(r"\b(off|no|false|disable|stop)\b", lowered):
                found[name] = False
        elif kind in ("integer", "number"):
            value = _count(text, used, clock_allowed=timeish)
            if value is not None:
                found[name] = value
        elif kind == "string" or kind is None:
            if any(h in about for h in ZONE_HINTS):
                zone = time_zone(text)
                if zone is not None:
                    found[name] = zone
            elif timeish:
                if clock is not None:  # no clock heard: ask for it rather than pass a name as the time
                    found[name] = clock.value
            else:
                guessing_for = str(tool.get("name", "")) if guess_names else None
                value = _string_value(text, str(prop.get("description", "")), str(tool.get("description", "")),
                                      guessing_for)
                if value is not None:
                    found[name] = value
    return found, [name for name in required if name not in found]


def _timeish(name: str) -> bool:
    """Whether a parameter holds a clock time ("time", "start_at", "when")."""
    return bool(set(name.lower().split("_")) & TIME_HINTS)


def _count(text: str, used: set[int], *, clock_allowed: bool) -> int | None:
    """The first number not yet used (nor part of the clock time); a misheard "for free" as a last resort."""
    for value, index in numbers(text):
        if index not in used or clock_allowed:
            used.add(index)
            return value
    sound_alike = sound_alike_number(text)
    if sound_alike is not None and sound_alike[1] not in used:
        used.add(sound_alike[1])
        return sound_alike[0]
    return None


def _string_value(text: str, prop_description: str, tool_description: str,
                  tool_name: str | None) -> str | None:
    """A listed value, else a capitalised name, else (given the tool's name) a name in lower case."""
    said = text.lower()
    for known in _known_values(prop_description, tool_description):
        if re.search(rf"\b{re.escape(known.lower())}\b", said):
            return known
    names = capitalised_names(text)
    # Prefer a name after a preposition ("in Paris", "at the Golden Dragon"), the last one said.
    placed = [n for n in names if re.search(
        rf"\b(?:{'|'.join(NAME_PREPOSITIONS)})\s+(?:the\s+)?{re.escape(n)}\b", text, re.IGNORECASE)]
    chosen = placed or names
    if chosen:
        return chosen[-1]
    return _lower_case_name(text, tool_name) if tool_name is not None else None


def _lower_case_name(text: str, tool_name: str) -> str | None:
    """A name recognition wrote in lower case: after "in"/"at"/"near"/"from" ("at the golden dragon"),
    else as the object of the tool's own verb ("book the blue lagoon" for book_table).

    Words that name the tool itself ("book a table") are never the name.
    """
    tokens = [t.lower() for t in words(text)]
    own = content_stems(tool_name.replace("_", " "))
    placed = _runs_after(tokens, lambda token: token in PLACE_PREPOSITIONS, own)
    objects = _runs_after(tokens, lambda token: token.isalpha() and stem(token) in own, own)
    found = placed or objects
    return found[-1] if found else None


def _runs_after(tokens: list[str], leads: Callable[[str], bool], own: set[str]) -> list[str]:
    """Capitalised runs of up to three name-like words following a lead word and an optional article."""
    found: list[str] = []
    for index, token in enumerate(tokens[:-1]):
        if not leads(token):
            continue
        start = index + 2 if tokens[index + 1] in ARTICLES else index + 1
        run: list[str] = []
        for word in tokens[start:start + 3]:
            if (not word.isalpha() or word in STOPWORDS or word in NOT_NAMES or word in NUMBERS
                    or word in TENS or stem(word) in own):
                break
            run.append(word)
        if run:
            found.append(" ".join(w.capitalize() for w in run))
    return found


def speakable(output: str, *, limit: int = 400) -> str:
    """A tool's output to say: a message field, an error, a plain string, or "key is value" pairs."""
    try:
        data: Any = json.loads(output)
    except ValueError:
        data = output
    if isinstance(data, dict):
        for key in ("message", "text", "result", "summary", "answer", "reply"):
            if isinstance(data.get(key), str):
                data = data[key]
                break
        else:
            if isinstance(data.get("error"), str):
                return speakable("Sorry, " + data["error"].rstrip(".") + ".", limit=limit)
            data = ". ".join(f"{str(k).replace('_', ' ')} is {v}" for k, v in data.items()) + "."
    elif isinstance(data, list):
        data = ", ".join(str(v) for v in data)
    text = " ".join(str(data).split()) or "Done."
    if len(text) > limit:
        cut = text[:limit]
        text = cut[: cut.rfind(". ") + 1] if ". " in cut else cut
    return text
