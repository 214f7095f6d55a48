"""An async client for the Realtime Calls API (accept, reject, refer, hang up) and the accept payload."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx

from ..engine.agent import AgentSpec, RunContext
from ..engine.config import (
    DEFAULT_MODEL_NAME,
    ModelSettings,
    build_session_payload,
    merge_model_settings,
    normalize_model_settings,
)
from ..engine.errors import ConfigError
from ..engine.handoffs import as_handoff

__all__ = [
    "DEFAULT_CALLS_BASE_URL",
    "CallGone",
    "CallsApiError",
    "CallsApiTimeout",
    "CallsClient",
    "build_accept_session",
]

logger = logging.getLogger("realtime_agents.telephony.calls_api")

DEFAULT_CALLS_BASE_URL = "https://api.openai.com/v1"
_CALL_ID = re.compile(r"[A-Za-z0-9_\-]{1,200}")
_TARGET = re.compile(r"(tel:\+?[0-9][0-9\-.()]{1,30}|sips?:[^\s<>\"]{1,250})")
_ERROR_CHARS = 300


class CallsApiError(Exception):
    """A Calls API request failed: HTTP status (None when no answer came), error code and message."""

    def __init__(
        self,
        message: str,
        *,
        call_id: str,
        action: str,
        status_code: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.call_id = call_id
        self.action = action
        self.status_code = status_code
        self.code = code


class CallGone(CallsApiError):
    """The call no longer exists (404 call_id_not_found: hung up, or accepted elsewhere)."""


class CallsApiTimeout(CallsApiError):
    """No answer within the timeout (or the connection failed)."""


def _check_call_id(call_id: str) -> str:
    if not isinstance(call_id, str) or not _CALL_ID.fullmatch(call_id):
        raise ValueError(f"call_id must be 1-200 letters, digits, '_' or '-', got {call_id!r:.60}")
    return call_id


class CallsClient:
    """POSTs to `{base_url}/realtime/calls/{call_id}/{action}` with the server API key; use `async with`."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_CALLS_BASE_URL,
        auth: Literal["bearer", "api-key"] = "bearer",
        timeout: float = 10.0,
        organization: str | None = None,
        project: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not isinstance(api_key, str) or not api_key:
            # Never echo the value: it may be a secret of the wrong type.
            raise ConfigError("the Calls API needs a non-empty api_key")
        if not isinstance(base_url, str) or not re.match(r"https?://[^/?#]+", base_url):
            raise ConfigError(f"base_url must be an http(s) URL, got {base_url!r:.100}")
        if auth not in ("bearer", "api-key"):
            raise ConfigError(f"auth must be 'bearer' or 'api-key' (Azure), got {auth!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 120:
            raise ConfigError(f"timeout must be a number of seconds in (0, 120], got {timeout!r}")
        headers = {"Authorization": f"Bearer {api_key}"} if auth == "bearer" else {"api-key": api_key}
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        self._base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(timeout), transport=transport, follow_redirects=False
        )

    def __repr__(self) -> str:
        return f"CallsClient(base_url={self._base_url!r}, api_key='***')"

    async def __aenter__(self) -> CallsClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def accept(self, call_id: str, session: Mapping[str, Any]) -> None:
        """Answer a ringing SIP call with a realtime session object (see `build_accept_session`)."""
        if not isinstance(session, Mapping) or session.get("type") != "realtime":
            raise ConfigError("the accept session must be a mapping with type 'realtime'")
        await self._post(call_id, "accept", dict(session))

    async def reject(self, call_id: str, status_code: int = 603) -> None:
        """Refuse a ringing call with a SIP status (603 Decline by default, 486 Busy Here, ...)."""
        if isinstance(status_code, bool) or not isinstance(status_code, int) or not 400 <= status_code <= 699:
            raise ValueError(f"status_code must be a SIP failure status 400-699, got {status_code!r}")
        await self._post(call_id, "reject", {"status_code": status_code})

    async def refer(self, call_id: str, target_uri: str) -> None:
        """Transfer the call (SIP REFER) to `tel:+...` or `sip:...`."""
        if not isinstance(target_uri, str) or not _TARGET.fullmatch(target_uri):
            raise ValueError(f"target_uri must be a tel: or sip: URI, got {target_uri!r:.80}")
        await self._post(call_id, "refer", {"target_uri": target_uri})

    async def hangup(self, call_id: str) -> None:
        """End the call."""
        await self._post(call_id, "hangup", None)

    async def _post(self, call_id: str, action: str, body: dict[str, Any] | None) -> None:
        _check_call_id(call_id)
        url = f"{self._base_url}/realtime/calls/{quote(call_id, safe='')}/{action}"
        try:
            response = (
                await self._client.post(url, json=body) if body is not None else await self._client.post(url)
            )
        except httpx.TimeoutException:
            logger.warning("calls API %s for %s timed out", action, call_id)
            raise CallsApiTimeout(
                f"{action} {call_id}: no answer from the Calls API in time", call_id=call_id, action=action
            ) from None
        except httpx.HTTPError as exc:
            logger.warning("calls API %s for %s failed: %s", action, call_id, type(exc).__name__)
            raise CallsApiError(
                f"{action} {call_id}: could not reach the Calls API ({type(exc).__name__})",
                call_id=call_id,
                action=action,
            ) from None
        if 200 <= response.status_code < 300:
            logger.info("calls API %s for %s: %s", action, call_id, response.status_code)
            return
        code, message = _error_details(response)
        logger.warning("calls API %s for %s: HTTP %s %s", action, call_id, response.status_code, code)
        kind = CallGone if response.status_code == 404 else CallsApiError
        raise kind(
            f"{action} {call_id}: HTTP {response.status_code} {code or ''} {message}".replace(
                "  ", " "
            ).strip(),
            call_id=call_id,
            action=action,
            status_code=response.status_code,
            code=code,
        )


def _error_details(response: httpx.Response) -> tuple[str | None, str]:
    """The `{error: {code, message}}` body the API returns, tolerating anything else."""
    try:
        data = json.loads(response.content[:65536] or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, response.text[:_ERROR_CHARS]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        return (str(code) if code is not None else None), (str(message)[:_ERROR_CHARS] if message else "")
    return None, response.text[:_ERROR_CHARS]


async def build_accept_session(
    agent: AgentSpec,
    model_settings: ModelSettings | Mapping[str, Any] | None = None,
    *,
    run_context: RunContext | None = None,
) -> dict[str, Any]:
    """The accept body for a call answered by `agent`, built as the engine builds its session.update."""
    if not isinstance(agent, AgentSpec):
        raise ConfigError(f"build_accept_session needs an AgentSpec, got {type(agent).__name__}")
    context = run_context if run_context is not None else RunContext()
    settings = normalize_model_settings(model_settings)
    if agent.voice:
        settings = merge_model_settings(settings, normalize_model_settings({"voice": agent.voice}))
    tools: list[dict[str, Any]] = []
    names: set[str] = set()
    entries: list[Any] = list(agent.tools)
    for target in agent.handoffs:
        handoff = as_handoff(target)
        if await handoff.enabled(context, agent):
            entries.append(handoff)
    for entry in entries:
        tool = entry.to_session_tool()
        if tool["name"] in names:
            raise ConfigError(
                f"agent {agent.name!r}: tool and handoff names must be unique; " f"{tool['name']!r} repeats"
            )
        names.add(tool["name"])
        tools.append(tool)
    # SIP negotiates the codec: the accept carries no audio formats.
    payload = build_session_payload(
        settings, instructions=await agent.get_system_prompt(context), tools=tools, include_formats=False
    )
    # Azure requires model and instructions on accept; OpenAI accepts them too.
    payload.setdefault("model", DEFAULT_MODEL_NAME)
    payload.setdefault("instructions", "")
    if agent.prompt is not None:
        payload["prompt"] = agent.prompt
    return payload
