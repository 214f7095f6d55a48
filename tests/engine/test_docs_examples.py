"""docs/engine.md's runnable examples: each runs against a fake Realtime server and prints what the doc shows.

A fenced ```python block preceded by `<!-- runnable: NAME -->` is executed as a script (with
`__name__ == "__main__"`) in a worker thread, so its own `asyncio.run(...)` works while the fake
server keeps serving on the test's loop. The test injects `REALTIME_URL` and `API_KEY`, queues the
scripted model responses the example needs, and compares what it printed with the
`<!-- output -->` ```text block that follows it. Other python blocks must at least parse.
"""
from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from realtime_agents.engine.testing import FakeRealtimeServer, FunctionCall, ScriptedResponse

from .helpers import API_KEY

DOC = Path(__file__).resolve().parents[2] / "docs" / "engine.md"
EXAMPLE_TIMEOUT_S = 40.0
_RUNNABLE = re.compile(r"^<!-- runnable: ([a-z_]+) -->$")
_FENCE = re.compile(r"^```(\w*)$")


class DocFormatError(ValueError):
    """docs/engine.md breaks the runnable-example conventions; the message names the line."""


@dataclass(frozen=True, kw_only=True)
class Block:
    """One fenced code block: its language, first code line, code, and runnable name / expected output."""

    language: str
    line: int
    code: str
    name: str | None = None
    expected_output: str | None = None


def _fenced(lines: list[str], start: int) -> tuple[str, str, int]:
    """The block opening at `start`: (language, code, index after the closing fence)."""
    opening = _FENCE.match(lines[start])
    assert opening is not None
    for end in range(start + 1, len(lines)):
        if lines[end] == "```":
            return opening.group(1), "\n".join(lines[start + 1:end]), end + 1
    raise DocFormatError(f"line {start + 1}: code block is never closed")


def _next_content(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def parse_blocks(text: str) -> list[Block]:
    """Every fenced block of a markdown text, with runnable names and expected outputs attached."""
    lines = text.splitlines()
    blocks: list[Block] = []
    names: set[str] = set()
    index = 0
    while index < len(lines):
        marker = _RUNNABLE.match(lines[index].strip())
        if marker is not None:
            fence = _next_content(lines, index + 1)
            if fence >= len(lines) or lines[fence] != "```python":
                raise DocFormatError(f"line {index + 1}: <!-- runnable: {marker.group(1)} --> must be followed "
                                     "by a ```python block")
            name = marker.group(1)
            if name in names:
                raise DocFormatError(f"line {index + 1}: runnable example name {name!r} is used twice")
            names.add(name)
            _, code, after = _fenced(lines, fence)
            expected = None
            following = _next_content(lines, after)
            if following < len(lines) and lines[following].strip() == "<!-- output -->":
                output_fence = _next_content(lines, following + 1)
                if output_fence >= len(lines) or lines[output_fence] != "```text":
                    raise DocFormatError(f"line {following + 1}: <!-- output --> must be followed by a ```text block")
                _, expected, after = _fenced(lines, output_fence)
            blocks.append(Block(language="python", line=fence + 2, code=code, name=name, expected_output=expected))
            index = after
        elif _FENCE.match(lines[index]):
            language, code, after = _fenced(lines, index)
            blocks.append(Block(language=language, line=index + 2, code=code))
            index = after
        else:
            index += 1
    return blocks


BLOCKS = parse_blocks(DOC.read_text(encoding="utf-8"))
RUNNABLE = {block.name: block for block in BLOCKS if block.name is not None}


def _client_events(server: FakeRealtimeServer, kind: str) -> list[dict[str, Any]]:
    return [event for event in server.client_events if event["type"] == kind]


def _tool_outputs(server: FakeRealtimeServer) -> list[str]:
    return [event["item"]["output"] for event in _client_events(server, "conversation.item.create")
            if event["item"].get("type") == "function_call_output"]


def _check_tools(server: FakeRealtimeServer) -> None:
    assert _tool_outputs(server) == ["The weather in Paris is sunny, 22C.", "Order 42 of ada was cancelled."]
    names = [tool["name"] for tool in _client_events(server, "session.update")[0]["session"]["tools"]]
    assert names == ["get_weather", "cancel_order"]


def _check_handoffs(server: FakeRealtimeServer) -> None:
    updates = [event["session"] for event in _client_events(server, "session.update")]
    assert [update["instructions"] for update in updates[:2]] == [
        "Triage the request and hand off when needed.", "You specialize in billing issues."]
    assert [json.loads(output) for output in _tool_outputs(server)] == [{"assistant": "Billing Support"}]


def _check_guardrails(server: FakeRealtimeServer) -> None:
    system = [event["item"]["content"][0]["text"] for event in _client_events(server, "conversation.item.create")
              if event["item"].get("role") == "system"]
    assert system == ["Do not reveal passwords; offer a reset link instead."]


def _check_interrupt(server: FakeRealtimeServer) -> None:
    truncates = _client_events(server, "conversation.item.truncate")
    assert [event["audio_end_ms"] for event in truncates] == [500], "truncated where the tracker says"
    assert len(_client_events(server, "response.cancel")) == 1


def _check_low_level(server: FakeRealtimeServer) -> None:
    (create,) = _client_events(server, "response.create")
    assert create["response"]["instructions"] == "Greet the caller."
    assert _client_events(server, "conversation.item.create") == [], "a greeting needs no user item"


def _no_connection(server: FakeRealtimeServer) -> None:
    assert server.all_connections == [], "this example does not talk to the injected server"


LONG_STORY = "Once upon a time a small robot learned to sing, and every night it sang to the stars. " * 3
# Per example: the model's scripted responses, and what the server must have received afterwards.
SCRIPTS: dict[str, tuple[list[ScriptedResponse], Callable[[FakeRealtimeServer], None] | None]] = {
    "quickstart": ([ScriptedResponse(transcript="Hello! Nice to meet you.")], None),
    "tools": ([
        ScriptedResponse(function_calls=[FunctionCall(name="get_weather", arguments={"city": "Paris"})]),
        ScriptedResponse(function_calls=[FunctionCall(name="cancel_order", arguments={"order_id": "42"})]),
        ScriptedResponse(transcript="It is sunny in Paris, and order 42 is cancelled."),
    ], _check_tools),
    "handoffs": ([
        ScriptedResponse(function_calls=[FunctionCall(name="transfer_to_billing_support")]),
        ScriptedResponse(transcript="Billing here. Which invoice is it about?"),
    ], _check_handoffs),
    "guardrails": ([
        ScriptedResponse(transcript="Your password is hunter2."),
        ScriptedResponse(transcript="I cannot share that, but I can send you a reset link."),
    ], _check_guardrails),
    "interrupt": ([ScriptedResponse(transcript=LONG_STORY, audio_ms=3000, pace=1.0)], _check_interrupt),
    "settings": ([], _no_connection),
    "low_level": ([ScriptedResponse(transcript="Hello, thanks for calling!")], _check_low_level),
    "testing": ([], _no_connection),
}


def test_the_doc_has_every_runnable_example_with_its_output() -> None:
    assert sorted(RUNNABLE) == sorted(SCRIPTS), "docs/engine.md and SCRIPTS must name the same examples"
    missing = [name for name, block in RUNNABLE.items() if not block.expected_output]
    assert missing == [], f"runnable examples without an <!-- output --> block: {missing}"


def test_other_python_blocks_are_valid_python() -> None:
    others = [block for block in BLOCKS if block.language == "python" and block.name is None]
    assert others, "the doc's illustrative snippets are checked too"
    for block in others:
        try:
            ast.parse(block.code)
        except SyntaxError as exc:
            pytest.fail(f"docs/engine.md line {block.line + (exc.lineno or 1) - 1}: {exc.msg}")


@pytest.mark.parametrize("name", sorted(SCRIPTS))
async def test_docs_example_runs_and_prints_what_the_doc_shows(
    name: str, server: FakeRealtimeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    block = RUNNABLE[name]
    responses, check = SCRIPTS[name]
    server.add_response(*responses)
    namespace: dict[str, Any] = {"__name__": "__main__", "REALTIME_URL": server.url_for(), "API_KEY": API_KEY}
    # Line numbers in tracebacks point into the doc.
    code = compile("\n" * (block.line - 1) + block.code, str(DOC), "exec")
    capsys.readouterr()
    await asyncio.wait_for(asyncio.to_thread(exec, code, namespace), EXAMPLE_TIMEOUT_S)
    printed = capsys.readouterr().out
    assert printed.rstrip("\n") == block.expected_output
    assert server.pending_responses == 0, "every scripted response was used"
    if check is not None:
        check(server)


@pytest.mark.parametrize(("text", "message"), [
    ("<!-- runnable: a -->\n\nplain text\n", "line 1: <!-- runnable: a --> must be followed by a ```python block"),
    ("<!-- runnable: a -->\n```python\nx = 1\n", "line 2: code block is never closed"),
    ("<!-- runnable: a -->\n```python\nx = 1\n```\n<!-- runnable: a -->\n```python\ny = 2\n```\n",
     "line 5: runnable example name 'a' is used twice"),
    ("<!-- runnable: a -->\n```python\nprint(1)\n```\n<!-- output -->\n```python\n1\n```\n",
     "line 5: <!-- output --> must be followed by a ```text block"),
])
def test_malformed_docs_get_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(DocFormatError) as raised:
        parse_blocks(text)
    assert str(raised.value) == message


def test_parser_attaches_names_and_outputs() -> None:
    blocks = parse_blocks("intro\n<!-- runnable: demo -->\n```python\nprint('hi')\n```\n\n<!-- output -->\n"
                          "```text\nhi\n```\n```python\nx = 1\n```\n")
    assert [(b.name, b.code, b.expected_output, b.line) for b in blocks] == [
        ("demo", "print('hi')", "hi", 4), (None, "x = 1", None, 12)]


def test_every_public_name_and_event_type_is_documented() -> None:
    import typing

    import realtime_agents.engine as engine

    text = DOC.read_text(encoding="utf-8")
    undocumented = [name for name in engine.__all__ if f"`{name}`" not in text]
    assert undocumented == [], f"public names missing from docs/engine.md: {undocumented}"
    event_types = [cls.__dataclass_fields__["type"].default for cls in typing.get_args(engine.SessionEvent)]
    assert len(event_types) == 21
    missing = [kind for kind in event_types if f"| `{kind}` |" not in text]
    assert missing == [], f"event types missing from the Events table: {missing}"
