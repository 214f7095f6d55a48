"""The realtime session: lifecycle, the event stream, and the public methods apps call."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from .agent import AgentSpec, RunContext
from .config import ModelConfig, RunConfig, build_session_payload, merge_model_settings
from .config import DEFAULT_MODEL_NAME
from .events import (
    ErrorEvent,
    HistoryAddedEvent,
    HistoryUpdatedEvent,
    SessionEvent,
)
from .guardrail_checks import GuardrailRunner
from .handoffs import Handoff, as_handoff
from .history import History
from .items import HistoryItem
from .model import Model, TransportError
from .playback import AudioLedger
from .responses import ResponseSequencer
from .session_events import ServerEventHandlers
from .tool_calls import ApprovalDecision, ToolCallRunner
from .tools import FunctionTool

if TYPE_CHECKING:
    from .usage import Usage

logger = logging.getLogger("realtime_agents.engine.session")


class SessionError(RuntimeError):
    """The session cannot do what was asked (closed, misconfigured agent, ...)."""


class _End:
    """Sentinel that ends iteration; re-queued so every waiting iterator wakes."""


_END = _End()


def new_item_id() -> str:
    """A client-side item id in the server's style (the server keeps ids the client supplies)."""
    return "item_" + uuid.uuid4().hex[:24]


class Session(ServerEventHandlers):
    """One live conversation with a realtime model; use as `async with session:` and iterate events."""

    def __init__(self, *, model: Model, agent: AgentSpec, context: Any = None, run_config: RunConfig,
                 model_config: ModelConfig) -> None:
        self._model = model
        self._current_agent = agent
        self.run_context = RunContext(context=context)
        self._run_config = run_config
        self._model_config = model_config
        self._base_settings = merge_model_settings(run_config.model_settings, model_config.initial_model_settings)
        self._queue: asyncio.Queue[SessionEvent | _End] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._history = History()
        self._ledger = AudioLedger()
        self._sequencer = ResponseSequencer(self._send)
        self._tools = ToolCallRunner(self, default_timeout=run_config.tool_timeout,
                                     error_formatter=run_config.tool_error_formatter)
        self._guardrails = GuardrailRunner(
            self, debounce_text_length=run_config.guardrails_settings.get("debounce_text_length", 100),
            output_guardrails=run_config.output_guardrails, input_guardrails=run_config.input_guardrails)
        self._dispatch: dict[str, FunctionTool | Handoff] = {}
        self._entered = False
        self._closing = False
        self._closed = False
        self._exception: BaseException | None = None
        self._reconnecting = False
        self._audio_sent_upstream = False
        self._init_event_state()

    # -- properties -------------------------------------------------------------------------

    @property
    def model(self) -> Model:
        """The transport: `session.model.add_listener(...)`, `session.model.send_event({...})`."""
        return self._model

    @property
    def current_agent(self) -> AgentSpec:
        """The agent answering now."""
        return self._current_agent

    @property
    def history(self) -> tuple[HistoryItem, ...]:
        """The conversation so far, ordered (read-only snapshot)."""
        return self._history.items()

    @property
    def usage(self) -> Usage:
        """Token usage accumulated over the session's responses."""
        return self.run_context.usage

    @property
    def closing(self) -> bool:
        """True once close started (or the session failed): nothing more is sent."""
        return self._closing

    # -- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Session:
        await self.enter()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def enter(self) -> None:
        """Connect and send the starting agent's configuration."""
        if self._entered:
            raise SessionError("the session was already entered")
        self._entered = True
        await self._refresh_dispatch(self._current_agent)
        self._model.add_listener(self)
        try:
            await self._model.connect(self._model_config, model_name=self._model_name())
            await self._send_session_update(initial=True)
        except BaseException:
            self._model.remove_listener(self)
            await self._model.close()
            self._closing = self._closed = True
            raise
        self.emit(HistoryUpdatedEvent(history=()))

    async def close(self) -> None:
        """Stop everything: idempotent, wakes every iterator, cancels every task, closes the model."""
        if self._closed or (self._closing and not self._entered):
            return
        self._closing = True
        self._tools.cancel_approvals()
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        self._model.remove_listener(self)
        try:
            await self._model.close()
        finally:
            self._closed = True
            self._queue.put_nowait(_END)

    def emit_end(self) -> None:
        """End iteration cleanly once the events already queued are read."""
        self._queue.put_nowait(_END)

    def _fail(self, exception: BaseException) -> None:
        """End iteration with `exception` after the events already queued."""
        if self._exception is None:
            self._exception = exception
        self._closing = True
        self._queue.put_nowait(_END)
        self.spawn(self.close(), name="realtime-session-close-after-failure")

    def __aiter__(self) -> AsyncIterator[SessionEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[SessionEvent]:
        while True:
            event = await self._queue.get()
            if isinstance(event, _End):
                # Put it back so every other waiting iterator ends too.
                self._queue.put_nowait(event)
                if self._exception is not None:
                    raise self._exception
                return
            yield event

    # -- plumbing used by the helpers ---------------------------------------------------------

    def emit(self, event: SessionEvent) -> None:
        """Queue an event for consumers (dropped once the session is closed)."""
        if not self._closed:
            self._queue.put_nowait(event)

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run `coro` in a named task that the session owns and cancels on close."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not self._closing:
            logger.error("task %s failed: %s", task.get_name(), type(exc).__name__, exc_info=exc)
            self.emit(ErrorEvent(error={"code": "internal_error", "message": f"{task.get_name()} failed: {type(exc).__name__}"}))

    async def _send(self, event: Mapping[str, Any]) -> None:
        if self._closing:
            raise SessionError("the session is closed")
        await self._model.send_event(event)

    def _model_name(self) -> str | None:
        if self._model_config.call_id:
            return None
        return self._base_settings.model_name or DEFAULT_MODEL_NAME

    # -- agents -------------------------------------------------------------------------------

    async def _refresh_dispatch(self, agent: AgentSpec) -> list[dict[str, Any]]:
        """Compute the agent's enabled tools and handoffs; refuse duplicate names."""
        dispatch: dict[str, FunctionTool | Handoff] = {}
        session_tools: list[dict[str, Any]] = []
        entries: list[FunctionTool | Handoff] = list(agent.tools)
        for target in agent.handoffs:
            handoff = as_handoff(target)
            if await handoff.enabled(self.run_context, agent):
                entries.append(handoff)
        for entry in entries:
            name = entry.name if isinstance(entry, FunctionTool) else entry.tool_name
            if name in dispatch:
                raise SessionError(f"agent {agent.name!r}: tool and handoff names must be unique; {name!r} repeats")
            dispatch[name] = entry
            session_tools.append(entry.to_session_tool())
        self._dispatch = dispatch
        return session_tools

    async def _send_session_update(self, *, initial: bool = False) -> None:
        agent = self._current_agent
        tools = await self._refresh_dispatch(agent)
        settings = self._base_settings
        if agent.voice and not self._audio_seen:
            settings = merge_model_settings(settings, _voice_settings(agent.voice))
        payload = build_session_payload(
            settings,
            instructions=await agent.get_system_prompt(self.run_context),
            tools=tools,
            include_voice=not self._audio_seen,
            include_formats=not self._model_config.call_id,
        )
        if agent.prompt is not None:
            payload["prompt"] = agent.prompt
        await self._send({"type": "session.update", "session": payload})

    async def update_agent(self, agent: AgentSpec) -> None:
        """Switch to another agent: new instructions and tools, same conversation and voice."""
        self._current_agent = agent
        await self._send_session_update()

    def tool_for(self, name: str) -> FunctionTool | Handoff | None:
        """What a function name means for the current agent."""
        return self._dispatch.get(name)

    # -- public input -------------------------------------------------------------------------

    async def send_message(self, message: str | Mapping[str, Any]) -> None:
        """Add a user message (text, or a structured message) and ask for a response."""
        item = _user_message_item(message)
        self._history_upsert(item)
        if not self._reconnecting:
            await self._send({"type": "conversation.item.create", "item": item})
        await self._sequencer.request()

    async def send_audio(self, audio: bytes, *, commit: bool = False) -> None:
        """Append input audio in the session's input format; `commit` ends the user's turn."""
        if self._reconnecting or self._closing:
            return
        await self._model.append_input_audio(base64.b64encode(audio).decode("ascii"))
        self._audio_sent_upstream = True
        if commit:
            await self._send({"type": "input_audio_buffer.commit"})

    async def commit_audio(self) -> None:
        """End the user's turn (push-to-talk) and ask for a response when VAD will not."""
        await self._send({"type": "input_audio_buffer.commit"})
        if not self._server_creates_responses():
            await self._sequencer.request()

    async def create_response(self, **overrides: Any) -> None:
        """Ask for a response now (e.g. a greeting), queued behind any active one."""
        await self._sequencer.request(overrides or None)

    async def send_raw_event(self, event: Mapping[str, Any]) -> None:
        """Send a raw GA client event; `response.create` still goes through the sequencer."""
        if event.get("type") == "response.create":
            await self._sequencer.request(event.get("response") or None)
        else:
            await self._send(event)

    async def interrupt(self) -> None:
        """Stop the assistant now: playback stops, the response is cancelled and truncated."""
        await self._interrupt(reason="interrupt", force_cancel=True)

    async def approve_tool_call(self, call_id: str, *, always: bool = False) -> bool:
        """Let a pending tool call run; `always` approves this tool for the rest of the session."""
        return self._tools.decide(call_id, ApprovalDecision(approved=True, always=always))

    async def reject_tool_call(self, call_id: str, *, always: bool = False, message: str | None = None,
                               rejection_message: str | None = None) -> bool:
        """Refuse a pending tool call; the model hears `message` (or a default) as the output."""
        return self._tools.decide(call_id, ApprovalDecision(approved=False, always=always,
                                                            message=message or rejection_message))

    async def send_tool_output(self, call_id: str, output: str, *, start_response: bool) -> None:
        """Record a tool's output in history, send it, and maybe ask for a response."""
        item = self._history.set_tool_output(call_id, output)
        if item is not None:
            self.emit(HistoryUpdatedEvent(history=self._history.items(), item=item))
        try:
            await self._send({"type": "conversation.item.create",
                              "item": {"type": "function_call_output", "call_id": call_id, "output": output}})
        finally:
            if start_response and not self._closing:
                # Even when the send failed (connection lost), the answer is owed: the request waits
                # in the sequencer and goes out once a reconnect has re-seeded the output.
                with contextlib.suppress(TransportError):
                    await self._sequencer.request()

    def assistant_text(self, item_id: str) -> str:
        """The assistant's text so far for an item (guardrails read it)."""
        return self._history.assistant_text(item_id)

    def _history_upsert(self, item: Mapping[str, Any], previous_item_id: str | None = None,
                        agent_name: str | None = None) -> HistoryItem | None:
        stored, added = self._history.upsert_server_item(item, previous_item_id=previous_item_id, agent_name=agent_name)
        if stored is not None:
            if added:
                self.emit(HistoryAddedEvent(item=stored))
            else:
                self.emit(HistoryUpdatedEvent(history=self._history.items(), item=stored))
        return stored


def _voice_settings(voice: str) -> Any:
    from .config import normalize_model_settings

    return normalize_model_settings({"voice": voice})


def _user_message_item(message: str | Mapping[str, Any]) -> dict[str, Any]:
    """A GA user message item with a client id, from text or a structured message dict."""
    if isinstance(message, str):
        content: list[dict[str, Any]] = [{"type": "input_text", "text": message}]
    else:
        if message.get("type", "message") != "message" or message.get("role", "user") != "user":
            raise SessionError("a structured message must be {'type': 'message', 'role': 'user', 'content': [...]}")
        content = []
        for part in message.get("content") or []:
            kind = part.get("type")
            if kind == "input_text" and isinstance(part.get("text"), str):
                content.append({"type": "input_text", "text": part["text"]})
            elif kind == "input_image" and isinstance(part.get("image_url"), str):
                image = {"type": "input_image", "image_url": part["image_url"]}
                if part.get("detail"):
                    image["detail"] = part["detail"]
                content.append(image)
            else:
                raise SessionError(f"unsupported message content part {kind!r}")
        if not content:
            raise SessionError("a message needs at least one content part")
    return {"id": new_item_id(), "type": "message", "role": "user", "content": content}
