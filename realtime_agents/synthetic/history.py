"""Generates synthetic conversations as plain field values: seeded, chronological, one at a time."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import json
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..models.conversations import TOOL_ERROR_STATUSES
from . import phrases
from .phrases import Topic, fill


@dataclass(frozen=True, kw_only=True)
class ChannelPlan:
    """A synthetic channel: its slug and kind, who answers first, and its share of traffic."""

    slug: str
    name: str
    kind: str
    starting_agent: str
    weight: float


CHANNELS = (
    ChannelPlan(slug="synthetic-web", name="Synthetic web", kind="web", starting_agent="Concierge", weight=6),
    ChannelPlan(
        slug="synthetic-phone", name="Synthetic phone", kind="twilio", starting_agent="Reception", weight=3
    ),
    ChannelPlan(slug="synthetic-sip", name="Synthetic SIP", kind="sip", starting_agent="Reception", weight=1),
)
# Shares of each outcome, as (value, weight).
_TOOL_STATUSES = (("ok", 86), ("error", 5), ("timeout", 2), ("invalid_arguments", 1), ("not_found", 1),
                  ("rejected", 3), ("cancelled", 2))
_END_REASONS = (("client_ended", 55), ("client_disconnected", 30), ("upstream_error", 3), ("max_duration", 2),
                ("abandoned", 2), ("upstream_closed", 8))
_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
# Relative traffic per hour of the day: quiet at night, busiest late morning and early evening.
_HOURLY = (1, 1, 1, 1, 1, 2, 4, 7, 10, 12, 13, 12, 11, 11, 10, 10, 11, 12, 12, 10, 7, 5, 3, 2)
HANDOFF_SHARE = 0.25
GUARDRAIL_SHARE = 0.02
TOOL_SHARE = 0.35  # of the caller's requests
BIG_EVERY = 1000  # one conversation in this many is ten times longer, as some real calls are
ACTIVE_WINDOW = dt.timedelta(minutes=10)  # conversations started this close to the end are still going on


@dataclass(kw_only=True)
class SyntheticConversation:
    """One conversation's rows as field values (children without their conversation id)."""

    conversation: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    tool_runs: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _weighted(pairs: tuple[tuple[str, float], ...]) -> tuple[list[str], list[float]]:
    values = [value for value, _ in pairs]
    return values, list(itertools.accumulate(weight for _, weight in pairs))


class HistoryGenerator:
    """`count` conversations of about `items_per_conversation` messages each, over `days` up to `end`."""

    def __init__(
        self, *, count: int, items_per_conversation: int, days: int, end: dt.datetime, seed: int
    ) -> None:
        self.count = count
        self.items_per_conversation = max(2, items_per_conversation)
        self.end = end
        self.start = end - dt.timedelta(days=days)
        self._rng = random.Random(seed)
        self._hours = days * 24
        self._hour_cumulative = list(itertools.accumulate(_HOURLY[(self.start.hour + h) % 24]
                                                         for h in range(self._hours)))
        self._channel_weights = list(itertools.accumulate(plan.weight for plan in CHANNELS))
        self._topic_weights = list(itertools.accumulate(topic.weight for topic in phrases.TOPICS))
        self._tool_statuses = _weighted(_TOOL_STATUSES)
        self._end_reasons = _weighted(_END_REASONS)

    def __iter__(self) -> Iterator[SyntheticConversation]:
        for index in range(self.count):
            yield self._conversation(index)

    # -- one conversation --------------------------------------------------------------------

    def _started_at(self, index: int) -> dt.datetime:
        """Chronological in `index` (as ids are in real tables), denser in busy hours."""
        share = (index + self._rng.random()) / self.count
        target = share * self._hour_cumulative[-1]
        hour = bisect.bisect_left(self._hour_cumulative, target)
        below = self._hour_cumulative[hour - 1] if hour else 0.0
        within = (target - below) / (self._hour_cumulative[hour] - below)
        return self.start + dt.timedelta(hours=hour + within)

    def _conversation(self, index: int) -> SyntheticConversation:
        rng = self._rng
        plan = rng.choices(CHANNELS, cum_weights=self._channel_weights)[0]
        several = 2 if rng.random() < 0.3 else 1
        topics = rng.choices(phrases.TOPICS, cum_weights=self._topic_weights, k=several)
        started = self._started_at(index)
        size = self.items_per_conversation
        if index % BIG_EVERY == BIG_EVERY // 2:
            target = size * 10
        else:
            target = rng.randint(size // 2, size + size // 2)
        script = _Script(rng=rng, start=started, agent=plan.starting_agent, statuses=self._tool_statuses)
        script.play(topics, max(2, target))
        active = self.end - started < ACTIVE_WINDOW
        phone = plan.kind != "web"
        row: dict[str, Any] = {
            "public_id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "channel_slug": plan.slug,
            "starting_agent_name": plan.starting_agent,
            "final_agent_name": script.agent,
            "user_agent": "" if phone else rng.choice(_USER_AGENTS),
            "ip_hash": "" if phone else f"{rng.getrandbits(256):064x}",
            "call_id": f"CA{rng.getrandbits(128):032x}" if phone else "",
            "caller_number": f"+4420{rng.randint(10_000_000, 99_999_999)}" if phone else "",
            "started_at": started,
            "last_activity_at": script.clock,
            "ended_at": None if active else script.clock + dt.timedelta(seconds=rng.uniform(0.5, 3)),
            "end_reason": "" if active else rng.choices(*self._end_reasons)[0],
            "status": "active" if active else "ended",
            **script.usage(),
        }
        return SyntheticConversation(conversation=row, items=script.items, tool_runs=script.tool_runs,
                                     events=script.events)


class _Script:
    """Plays one conversation turn by turn, keeping the shared sequence, the clock and the agent."""

    def __init__(self, *, rng: random.Random, start: dt.datetime, agent: str,
                 statuses: tuple[list[str], list[float]]) -> None:
        self.rng = rng
        self.clock = start
        self.agent = agent
        self.starting_agent = agent
        self.statuses = statuses
        self.sequence = 0
        self.items: list[dict[str, Any]] = []
        self.tool_runs: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def play(self, topics: list[Topic], size: int) -> None:
        """Greeting, requests with tool calls and a possible handoff, follow-ups, goodbye: `size` messages."""
        rng = self.rng
        self.say("assistant", fill(rng.choice(phrases.GREETINGS), rng))
        handoff_at = 1 if rng.random() < HANDOFF_SHARE else -1
        guardrail_at = rng.randrange(size) if rng.random() < GUARDRAIL_SHARE else -1
        turn = 0
        while len(self.items) < size:
            topic = topics[turn % len(topics)] if turn < 2 * len(topics) else rng.choice(topics)
            last = len(self.items) >= size - 2
            if last:
                user = rng.choice(phrases.GOODBYES)
            elif turn == 0:
                user = f"{fill(rng.choice(phrases.OPENERS), rng)} {fill(rng.choice(topic.user), rng)}"
            elif rng.random() < 0.6:
                user = fill(rng.choice(topic.user), rng)
            else:
                user = rng.choice(phrases.FOLLOW_UPS)
            self.say("user", user)
            if not last and turn == handoff_at and topic.specialist != self.agent:
                self.hand_off(topic.specialist)
            if not last and rng.random() < TOOL_SHARE:
                self.call_tool(rng.choice(topic.tools))
            if len(self.items) >= size:
                break
            if last:
                answer = phrases.CLOSINGS[-1]
            else:
                answer = f"{rng.choice(phrases.ACKNOWLEDGEMENTS)} {fill(rng.choice(topic.assistant), rng)}"
                if rng.random() < 0.3:
                    answer += " " + fill(rng.choice(topic.assistant), rng)
            self.say("assistant", answer)
            if guardrail_at >= 0 and len(self.items) >= guardrail_at:
                self.trip_guardrail()
                guardrail_at = -1
            turn += 1

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence

    def say(self, role: str, text: str) -> None:
        """One message: audio length from the text, a response latency for answers, some interrupted."""
        rng = self.rng
        audio_ms = round(len(text) * rng.uniform(55, 75), 1)
        status = "completed"
        latency = None
        if role == "assistant":
            latency = round(rng.lognormvariate(math.log(650), 0.35), 1)
            self.clock += dt.timedelta(milliseconds=latency)
            if rng.random() < 0.04:
                status = "interrupted"
                audio_ms = round(audio_ms * rng.uniform(0.2, 0.8), 1)
        started = self.clock
        self.clock += dt.timedelta(milliseconds=audio_ms + rng.uniform(200, 2500))
        self.items.append({
            "sequence": self._next(), "role": role, "agent_name": self.agent if role == "assistant" else "",
            "text": text, "item_id": f"item_{rng.getrandbits(80):020x}", "status": status,
            "audio_ms": audio_ms,
            "started_at": started, "ended_at": started + dt.timedelta(milliseconds=audio_ms),
            "response_latency_ms": latency,
        })

    def call_tool(self, name: str) -> None:
        """One tool run, mostly successful."""
        rng = self.rng
        status = rng.choices(self.statuses[0], cum_weights=self.statuses[1])[0]
        duration = round(rng.lognormvariate(math.log(180), 0.8), 1)
        if "order" in name:
            arguments: dict[str, Any] = {"order": rng.randint(100_000, 999_999)}
        else:
            arguments = {"city": rng.choice(phrases.CITIES)}
        outputs: dict[str, Any] = {
            "ok": {"status": "done", "reference": rng.randint(1000, 9999)},
            "error": {"error": "Service unavailable"},
            "timeout": "",
            "cancelled": "",
        }
        output = outputs.get(status, {"error": status.replace("_", " ")})
        self.tool_runs.append({
            "sequence": self._next(), "agent_name": self.agent, "tool_name": name,
            "call_id": f"call_{rng.getrandbits(80):020x}", "arguments": json.dumps(arguments),
            "output": json.dumps(output) if output else "", "status": status,
            "approval": "rejected" if status == "rejected" else "approved" if name == "issue_refund" else "",
            "decided_by": "staff:reviewer" if status == "rejected" or name == "issue_refund" else "",
            "started_at": self.clock, "duration_ms": duration,
        })
        self.clock += dt.timedelta(milliseconds=duration)

    def hand_off(self, to_agent: str) -> None:
        """The agent changes; later answers come from the specialist."""
        self._event("handoff", from_agent=self.agent, to_agent=to_agent,
                    call_id=f"call_{self.rng.getrandbits(80):020x}")
        self.agent = to_agent

    def trip_guardrail(self) -> None:
        """An output guardrail stopped the last answer."""
        last = self.items[-1]
        self._event("guardrail_tripped", guardrails=["No card numbers"], guardrail_kind="output",
                    text=last["text"][:200], item_id=last["item_id"], response_id=None)

    def _event(self, kind: str, **data: Any) -> None:
        self.events.append({"sequence": self._next(), "kind": kind, "agent_name": self.agent, "data": data,
                            "created_at": self.clock})

    def usage(self) -> dict[str, Any]:
        """Totals as the recorder keeps them: turns, responses, tokens, seconds of audio, run and trip counts."""
        user = [item for item in self.items if item["role"] == "user"]
        answers = [item for item in self.items if item["role"] == "assistant"]
        context = 0
        input_tokens = 0
        for item in self.items:
            context += len(item["text"]) // 4 + 8
            if item["role"] == "assistant":
                input_tokens += 400 + context
        return {
            "turn_count": len(user),
            "response_count": len(answers),
            "input_tokens": input_tokens,
            "output_tokens": sum(len(item["text"]) // 4 + 20 for item in answers),
            "cached_tokens": int(input_tokens * self.rng.uniform(0.2, 0.6)),
            "input_audio_seconds": round(sum(item["audio_ms"] for item in user) / 1000, 2),
            "output_audio_seconds": round(sum(item["audio_ms"] for item in answers) / 1000, 2),
            # The stored counts the admin list sorts by, as the recorder keeps them.
            "tool_run_count": len(self.tool_runs),
            "tool_error_count": sum(run["status"] in TOOL_ERROR_STATUSES for run in self.tool_runs),
            "guardrail_trip_count": sum(event["kind"] == "guardrail_tripped" for event in self.events),
        }
