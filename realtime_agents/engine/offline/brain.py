"""What the offline model says: the brain interface and the OpenAI-compatible chat-completions brain."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger("realtime_agents.engine.offline.brain")


@dataclass(frozen=True, kw_only=True)
class FunctionCall:
    """A tool or handoff the brain wants called; `arguments` is a JSON object string."""

    name: str
    arguments: str


@dataclass(frozen=True, kw_only=True)
class BrainContext:
    """Everything a brain may read: the agent's instructions, its tools and the conversation items (GA).

    `readings` maps the newest spoken user item's id to every reading recognition offered for it.
    """

    instructions: str
    tools: tuple[Mapping[str, Any], ...]
    items: tuple[Mapping[str, Any], ...]
    readings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class BrainReply:
    """Text to say and/or function calls to make."""

    text: str = ""
    calls: tuple[FunctionCall, ...] = field(default_factory=tuple)


class BrainError(RuntimeError):
    """The brain could not produce a reply (endpoint down, bad answer)."""


class Brain(Protocol):
    """Decides the next response from the conversation."""

    async def reply(self, context: BrainContext) -> BrainReply:
        """The response to produce now."""


def item_text(item: Mapping[str, Any]) -> str:
    """The text of a message item (typed text, or the transcript of audio)."""
    parts = []
    for part in item.get("content") or ():
        if isinstance(part, Mapping):
            text = part.get("text") if part.get("text") is not None else part.get("transcript")
            if isinstance(text, str):
                parts.append(text)
    return " ".join(p for p in parts if p).strip()


def chat_messages(context: BrainContext) -> list[dict[str, Any]]:
    """The conversation as chat-completions messages (system, user, assistant with tool_calls, tool)."""
    messages: list[dict[str, Any]] = []
    if context.instructions:
        messages.append({"role": "system", "content": context.instructions})
    for item in context.items:
        kind = item.get("type")
        if kind == "message":
            role = item.get("role")
            text = item_text(item)
            if role in ("user", "assistant", "system") and text:
                messages.append({"role": role, "content": text})
        elif kind == "function_call":
            call = {"id": item.get("call_id", ""), "type": "function",
                    "function": {"name": item.get("name", ""), "arguments": item.get("arguments") or "{}"}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item.get("call_id", ""),
                             "content": str(item.get("output", ""))})
    return messages


def chat_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Session function tools as chat-completions `tools`."""
    return [{"type": "function", "function": {
        "name": tool["name"], "description": tool.get("description", ""),
        "parameters": tool.get("parameters") or {"type": "object", "properties": {}}}}
        for tool in tools if tool.get("type", "function") == "function" and tool.get("name")]


def completions_url(url: str) -> str:
    """Accept a base URL (http://host:port/v1) or the full .../chat/completions URL."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the chat-completions URL must start with http:// or https://, got {url!r}")
    stripped = url.rstrip("/")
    return stripped if stripped.endswith("/chat/completions") else stripped + "/chat/completions"


class ChatCompletionsBrain:
    """Any OpenAI-compatible chat-completions endpoint (llama.cpp server, Ollama, vLLM, ...) over httpx."""

    def __init__(self, *, url: str, model: str = "local", api_key: str | None = None, timeout: float = 30.0,
                 temperature: float = 0.0) -> None:
        self.url = completions_url(url)
        self.model = model
        self._api_key = api_key
        self._timeout = timeout
        self._temperature = temperature
        self._client: Any = None

    async def reply(self, context: BrainContext) -> BrainReply:
        """One non-streamed completion; tool calls win over text when both come back."""
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        body: dict[str, Any] = {"model": self.model, "messages": chat_messages(context),
                                "temperature": self._temperature, "stream": False}
        tools = chat_tools(context.tools)
        if tools:
            body["tools"] = tools
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            response = await self._client.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise BrainError(f"chat-completions request to {self.url} failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise BrainError(f"chat-completions endpoint {self.url} answered HTTP {response.status_code}")
        try:
            message = response.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BrainError(f"chat-completions endpoint {self.url} sent no choices[0].message") from exc
        calls = []
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            arguments = function.get("arguments") or "{}"
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            if function.get("name"):
                calls.append(FunctionCall(name=function["name"], arguments=arguments))
        text = message.get("content") or ""
        return BrainReply(text=text if isinstance(text, str) else "", calls=tuple(calls))

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
