"""Helpers for the SIP webhook tests: the test secret, SIP channels, signed deliveries, bounded waits."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping
from typing import Any

from asgiref.sync import sync_to_async

from realtime_agents.models import Channel, Conversation
from realtime_agents.telephony.testing import FakeCallsApi, RecordedRequest, incoming_call_delivery
from tests import rows

API_KEY = "sk-test-calls"
SECRET = "whsec_" + base64.b64encode(b"sip webhook test secret").decode()
NUMBER = "+15557770000"
CALLER = "+15550001111"
WEBHOOK_PATH = "/realtime/sip/webhook/"


def sip_headers(*, to: str = NUMBER, caller: str = CALLER) -> list[dict[str, str]]:
    """The SIP headers of a call from `caller` to `to`, as a trunk forwards it to OpenAI."""
    return [
        {"name": "From", "value": f'"Caller" <sip:{caller}@carrier.example;user=phone>;tag=9fx'},
        {"name": "To", "value": f"<sip:{to}@sip.api.openai.com;transport=tls>"},
        {"name": "Call-ID", "value": "a84b4c76e66710@carrier.example"},
    ]


def delivery(call_id: str, *, secret: str = SECRET, **options: Any) -> tuple[dict[str, str], bytes]:
    """A signed `realtime.call.incoming` delivery for a call (options: to, caller, timestamp, webhook_id)."""
    headers = sip_headers(to=options.pop("to", NUMBER), caller=options.pop("caller", CALLER))
    return incoming_call_delivery(secret=secret, call_id=call_id, sip_headers=headers, **options)


def settings_for(
    api: FakeCallsApi, realtime_url: str = "ws://127.0.0.1:9/v1/realtime", **extra: Any
) -> dict[str, Any]:
    """REALTIME_AGENTS pointing the Calls API and the Realtime socket at the local fakes."""
    values: dict[str, Any] = {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_REALTIME_URL": realtime_url,
        "OPENAI_CALLS_BASE_URL": api.base_url,
        "OPENAI_WEBHOOK_SECRET": SECRET,
        "DEFAULT_TRANSPORT": "openai",
    }
    values.update(extra)
    return values


@sync_to_async
def sip_channel(slug: str = "phone", *, numbers: str = NUMBER, tools: list[Any] | None = None,
                agent_fields: Mapping[str, Any] | None = None, **fields: Any) -> Channel:
    """An active SIP channel answering `numbers`, its starting agent with the given tool rows."""
    start = rows.agent(f"{slug}-agent", **dict(agent_fields or {}))
    for tool in tools or []:
        start.tools.add(tool)
    fields.setdefault("kind", Channel.Kind.SIP)
    return rows.channel(slug, start, phone_numbers=numbers, **fields)


async def wait_for(predicate: Callable[[], Any], *, timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll `predicate` (bounded) until it returns something truthy; return that."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = predicate()
                if value:
                    return value
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def requests_for(api: FakeCallsApi, call_id: str, action: str) -> list[RecordedRequest]:
    """The fake Calls API's requests of one action for one call."""
    return [r for r in api.requests if r.path.endswith(f"/calls/{call_id}/{action}")]


async def call_conversation(call_id: str, *, ended: bool = True, timeout: float = 8.0) -> Conversation:
    """The conversation recorded for a call, waiting (bounded) until it exists (and is finalised)."""
    get = sync_to_async(lambda: Conversation.objects.filter(call_id=call_id).first())
    try:
        async with asyncio.timeout(timeout):
            while True:
                row = await get()
                if row is not None and (not ended or row.end_reason):
                    return row
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"no {'finalised ' if ended else ''}conversation for call {call_id}") from None
