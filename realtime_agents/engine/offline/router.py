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
from collections.abc import Mapping
from typing import Any

from .brain import BrainContext, BrainReply, FunctionCall, item_text

_WORD = re.compile(r"[A-Za-z][A-Za-z']*|\d+(?::\d\d)?")
STOPWORDS = frozenset(
    "a an the is are was be to of in on at for and or but with me my i you your it its what whats how "
    "can could would please some any this that do does get give tell like want need about from by "
    "will just now there here also up out as so if then than id im let lets".split())
HANDOFF_NOISE = frozenset({"transfer", "handoff", "agent", "handle", "request", "assistant"})
SYNONYMS = {"reserve": "book", "reservation": "book", "booking": "book", "forecast": "weather",
            "temperature": "weather", "rain": "weather", "sunny": "weather"}
NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i > 1}
TIME_HINTS = ("time", "hour", "when", "at")
MIN_SCORE = 2.0


def stem(word: str) -> str:
    """A crude stem so "booking"/"books"/"booked" meet "book"."""
    word = word.lower().strip("'")
    word = SYNONYMS.get(word, word)
    if len(word) > 5 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith(("ses", "xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif len(word) > 6 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 5 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return SYNONYMS.get(word, word)


def words(text: str) -> list[str]:
    """The words and digit groups of a text, in order."""
    return _WORD.findall(text)


def numbers(text: str) -> list[tuple[int, int]]:
    """(value, word index) of each number, digits or spelled out ("twenty five" = 25)."""
    found: list[tuple[int, int]] = []
    tokens = [t.lower() for t in words(text)]
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.isdigit():
            found.append((int(token), index))
        elif ":" in token:
            found.append((int(token.split(":")[0]), index))
        elif token in TENS:
            value = TENS[token]
            if index + 1 < len(tokens) and tokens[index + 1] in NUMBERS and 0 < NUMBERS[tokens[index + 1]] < 10:
                value += NUMBERS[tokens[index + 1]]
                found.append((value, index))
                index += 1
            else:
                found.append((value, index))
        elif token in NUMBERS:
            found.append((NUMBERS[token], index))
        index += 1
    return found


def parse_time(text: str) -> str | None:
    """A clock time said after "at" (or written "7pm", "7:30"), as "H:MM" (24 h when am/pm is given)."""
    tokens = [t.lower() for t in words(text.replace(".", ""))]
    for value, index in numbers(text):
        before = tokens[index - 1] if index > 0 else ""
        raw = tokens[index] if index < len(tokens) else ""
        after = tokens[index + 1] if index + 1 < len(tokens) else ""
        glued = re.match(r"^(\d{1,2})(am|pm)$", raw)
        meridiem = glued.group(2) if glued else (after if after in ("am", "pm") else "")
        if before != "at" and not meridiem and ":" not in raw:
            continue
        if not 0 <= value <= 23:
            continue
        minutes = raw.split(":")[1] if ":" in raw else "00"
        hour = value + 12 if meridiem == "pm" and value < 12 else (0 if meridiem == "am" and value == 12 else value)
        return f"{hour}:{minutes}"
    return None


def _capitalised_names(text: str) -> list[str]:
    """Capitalised words and runs of them ("New York"), skipping a sentence's first word and "I"."""
    names: list[str] = []
    for match in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)", text.strip()):
        name = match.group(1)
        if name not in ("I", "I'm", "I'd"):
            names.append(name)
    return names


def _known_values(*descriptions: str) -> list[str]:
    """Values a description lists ("a city: Paris, London or Tokyo"): its capitalised names."""
    return [name for text in descriptions for name in _capitalised_names(text)]


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
        """How strongly an utterance points at a tool: shared name words count 3, description words 1."""
        said = {stem(w) for w in words(text)} - STOPWORDS
        name_words = {stem(w) for w in str(tool.get("name", "")).split("_")} - STOPWORDS - HANDOFF_NOISE
        description = {stem(w) for w in words(str(tool.get("description", "")))} - STOPWORDS - HANDOFF_NOISE
        enum_words: set[str] = set()
        for prop in ((tool.get("parameters") or {}).get("properties") or {}).values():
            for value in prop.get("enum") or ():
                enum_words |= {stem(w) for w in words(str(value))}
        return (3.0 * len(said & name_words) + 1.0 * len(said & (description - name_words))
                + 2.0 * len(said & (enum_words - name_words - description)))

    def route(self, text: str, tools: tuple[Mapping[str, Any], ...], *, allow_handoffs: bool = True) -> BrainReply:
        """A function call for the best-matching tool, a question for a missing argument, or the help text."""
        candidates = [t for t in tools if t.get("name") and (allow_handoffs or not is_handoff(t))]
        scored = sorted(((self.score(text, t), i, t) for i, t in enumerate(candidates)), key=lambda s: (-s[0], s[1]))
        if not text.strip() or not scored or scored[0][0] < self._min_score:
            return BrainReply(text=self.capabilities(tools))
        tool = scored[0][2]
        arguments, missing = fill_arguments(text, tool)
        if missing:
            what = " and ".join(m.replace("_", " ") for m in missing)
            return BrainReply(text=f"To {describe(tool)}, I need the {what}. Please say it again with the {what}.")
        return BrainReply(calls=(FunctionCall(name=tool["name"], arguments=json.dumps(arguments)),))

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
                if any(self.score(said, t) >= self._min_score for t in context.tools if not is_handoff(t)):
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
    first = re.split(r"(?<=[.!?])\s", str(tool.get("description") or "").strip())[0].rstrip(".!? ")
    if not first:
        return name.replace("_", " ")
    return first[0].lower() + first[1:]


def fill_arguments(text: str, tool: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Arguments found in the utterance for the tool's JSON schema, and the required ones not found."""
    schema = tool.get("parameters") or {}
    props: Mapping[str, Any] = schema.get("properties") or {}
    required = list(schema.get("required") or ())
    lowered = " " + " ".join(w.lower() for w in words(text)) + " "
    found: dict[str, Any] = {}
    nums = numbers(text)
    time_value = parse_time(text)
    used: set[int] = set()
    ordered = sorted(props, key=lambda n: not any(h in n.lower() for h in TIME_HINTS))
    for name in ordered:
        prop = props[name] or {}
        kind = prop.get("type")
        timeish = any(h in name.lower() for h in TIME_HINTS)
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
            for value, index in nums:
                if index in used:
                    continue
                if timeish or time_value is None or not _is_time_position(text, index):
                    found[name] = value
                    used.add(index)
                    break
        elif kind == "string" or kind is None:
            if timeish and time_value is not None:
                found[name] = time_value
                continue
            value = _string_value(text, str(prop.get("description", "")), str(tool.get("description", "")))
            if value is not None:
                found[name] = value
    return found, [name for name in required if name not in found]


def _is_time_position(text: str, index: int) -> bool:
    tokens = [t.lower() for t in words(text)]
    return index > 0 and tokens[index - 1] == "at"


def _string_value(text: str, prop_description: str, tool_description: str) -> str | None:
    said = text.lower()
    for known in _known_values(prop_description, tool_description):
        if re.search(rf"\b{re.escape(known.lower())}\b", said):
            return known
    names = _capitalised_names(text)
    return names[-1] if names else None


def speakable(output: str, *, limit: int = 400) -> str:
    """A tool's output as something to say: a message field, a plain string, or "key is value" pairs."""
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
            data = ". ".join(f"{str(k).replace('_', ' ')} is {v}" for k, v in data.items()) + "."
    elif isinstance(data, list):
        data = ", ".join(str(v) for v in data)
    text = " ".join(str(data).split()) or "Done."
    if len(text) > limit:
        cut = text[:limit]
        text = cut[: cut.rfind(". ") + 1] if ". " in cut else cut
    return text
