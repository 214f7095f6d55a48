"""The SIP webhook view: signatures, payloads, routing, rejects, dedupe (no live session needed)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client, override_settings

from realtime_agents.models import Conversation
from realtime_agents.telephony.signatures import sign_standard_webhook
from realtime_agents.telephony.sip_registry import calls
from realtime_agents.telephony.testing import FakeCallsApi
from tests.rows import close_db_threads  # noqa: F401  (fixture)
from tests.telephony.sip_helpers import (
    NUMBER,
    SECRET,
    WEBHOOK_PATH,
    delivery,
    requests_for,
    settings_for,
    sip_channel,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_threads")]


@pytest.fixture
def api() -> Iterator[FakeCallsApi]:
    with FakeCallsApi() as fake:
        yield fake


@pytest.fixture
def configured(api: FakeCallsApi) -> Iterator[dict[str, Any]]:
    values = settings_for(api)
    with override_settings(REALTIME_AGENTS=values):
        yield values


@pytest.fixture(autouse=True)
async def idle_calls() -> AsyncIterator[None]:
    """Every call task this test started has ended before the next test (and the database flush)."""
    yield
    await calls.wait_idle()


async def post(headers: dict[str, str], body: bytes) -> Any:
    response = await AsyncClient().post(
        WEBHOOK_PATH, data=body, content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "content-type"},
    )
    return response.status_code, json.loads(response.content or b"null")


async def deliver(call_id: str, **options: Any) -> tuple[int, Any]:
    """POST a signed delivery for `call_id` and wait until its call task has finished."""
    result = await post(*delivery(call_id, **options))
    await calls.wait_idle()
    return result


# -- signatures and payloads ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"secret": "whsec_" + "d3Jvbmcgc2VjcmV0"}, "no_match"),
        # Seconds from now, taken when the test runs (a timestamp fixed at collection drifts into the window).
        ({"timestamp": -301}, "too_old"),
        ({"timestamp": 400}, "too_new"),
    ],
)
async def test_bad_or_stale_signatures_get_400_and_no_calls_api_request(
    api: FakeCallsApi, configured: dict[str, Any], change: dict[str, Any], reason: str
) -> None:
    await sip_channel()
    call_id = api.add_call()
    if "timestamp" in change:
        change = {"timestamp": int(time.time()) + change["timestamp"]}
    status, body = await deliver(call_id, **change)
    assert (status, body) == (400, {"error": reason})
    assert api.requests == []


@pytest.mark.usefixtures("configured")
async def test_a_tampered_body_or_missing_header_is_refused(api: FakeCallsApi) -> None:
    await sip_channel()
    call_id = api.add_call()
    headers, body = delivery(call_id)
    assert await post(headers, body.replace(call_id.encode(), b"rtc_other")) == (400, {"error": "no_match"})
    unsigned = {k: v for k, v in headers.items() if k != "webhook-signature"}
    assert await post(unsigned, body) == (400, {"error": "missing_header"})
    await calls.wait_idle()
    assert api.requests == []


async def test_without_a_secret_every_delivery_is_refused(
    api: FakeCallsApi, caplog: pytest.LogCaptureFixture
) -> None:
    await sip_channel()
    call_id = api.add_call()
    with override_settings(REALTIME_AGENTS=settings_for(api, OPENAI_WEBHOOK_SECRET="")):
        with caplog.at_level(logging.ERROR, "realtime_agents.telephony.sip"):
            assert await deliver(call_id) == (400, {"error": "bad_config"})
    assert "OPENAI_WEBHOOK_SECRET" in caplog.text
    assert api.requests == []


async def send_signed(body: bytes, webhook_id: str = "wh_test") -> tuple[int, Any]:
    """POST any body, correctly signed with the test secret."""
    stamp = int(time.time())
    signature = sign_standard_webhook(secret=SECRET, webhook_id=webhook_id, timestamp=stamp, body=body)
    headers = {"webhook-id": webhook_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}
    return await post(headers, body)


@pytest.mark.usefixtures("configured")
async def test_signed_but_malformed_payloads_get_400_with_the_reason(api: FakeCallsApi) -> None:
    send = send_signed

    assert await send(b"not json") == (400, {"error": "bad_payload", "detail": "the body is not JSON"})
    event = {"type": "realtime.call.incoming", "data": {"call_id": "bad id!", "sip_headers": []}}
    status, body = await send(json.dumps(event).encode())
    assert status == 400 and body["error"] == "bad_payload" and "call_id" in body["detail"]
    event["data"] = {"call_id": "rtc_1", "sip_headers": "To: +1555"}
    status, body = await send(json.dumps(event).encode())
    assert status == 400 and "sip_headers" in body["detail"]
    assert api.requests == []


@pytest.mark.usefixtures("configured")
async def test_other_event_types_are_acknowledged_and_ignored(api: FakeCallsApi) -> None:
    event = {"object": "event", "id": "evt_1", "type": "response.completed", "data": {"id": "r"}}
    assert await send_signed(json.dumps(event).encode()) == (200, {"status": "ignored"})
    assert api.requests == []


async def test_only_post_is_allowed() -> None:
    response = await AsyncClient().get(WEBHOOK_PATH)
    assert response.status_code == 405


def test_a_wsgi_server_gets_503_because_calls_outlive_the_request(
    api: FakeCallsApi, configured: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    headers, body = delivery(api.add_call())
    with caplog.at_level(logging.ERROR, "realtime_agents.telephony.sip"):
        response = Client().post(WEBHOOK_PATH, data=body, content_type="application/json",
                                 headers={k: v for k, v in headers.items() if k != "content-type"})
    assert (response.status_code, response.json()) == (503, {"error": "asgi_required"})
    assert "ASGI server" in caplog.text
    assert api.requests == []


# -- routing and rejects -------------------------------------------------------------------


async def test_a_number_no_channel_answers_is_rejected_with_the_configured_status(
    api: FakeCallsApi, caplog: pytest.LogCaptureFixture
) -> None:
    await sip_channel()
    call_id = api.add_call()
    with override_settings(REALTIME_AGENTS=settings_for(api, SIP_REJECT_STATUS_CODE=404)):
        with caplog.at_level(logging.INFO, "realtime_agents.telephony.sip"):
            assert await deliver(call_id, to="+15559998888") == (200, {"status": "processing"})
    assert api.actions(call_id) == ["reject"]
    assert api.calls[call_id].reject_status == 404
    assert "+15559998888 in To" in caplog.text  # the log names the numbers found
    assert not await sync_to_async(Conversation.objects.exists)()


@pytest.mark.usefixtures("configured")
async def test_inactive_channels_and_other_kinds_do_not_answer(api: FakeCallsApi) -> None:
    await sip_channel("off", numbers=NUMBER, is_active=False)
    await sip_channel("twilio-line", numbers="+15551112222", kind="twilio")
    first, second = api.add_call(), api.add_call()
    await deliver(first)
    await deliver(second, to="+15551112222")
    assert api.calls[first].reject_status == 603
    assert api.calls[second].reject_status == 603


async def test_the_number_header_setting_and_country_code_pick_the_channel(api: FakeCallsApi) -> None:
    await sip_channel(numbers="+442079460958")
    call_id = api.add_call()
    headers = [
        {"name": "From", "value": "<sip:+15550001111@carrier.example>"},
        {"name": "To", "value": "<sip:proj_123@sip.api.openai.com>"},
        {"name": "X-Dialled", "value": "020 7946 0958"},
    ]
    from realtime_agents.telephony.testing import incoming_call_delivery

    with override_settings(REALTIME_AGENTS=settings_for(api, SIP_NUMBER_HEADER="X-Dialled",
                                                        SIP_DEFAULT_COUNTRY_CODE="44",
                                                        OPENAI_REALTIME_URL="ws://127.0.0.1:9/v1/realtime")):
        await post(*incoming_call_delivery(secret=SECRET, call_id=call_id, sip_headers=headers))
        # The accept is the routing decision; the attach then fails (nothing listens on port 9).
        await calls.wait_idle()
    assert api.actions(call_id)[0] == "accept"


async def test_an_offline_channel_rejects_the_call_and_says_why(
    api: FakeCallsApi, configured: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    await sip_channel(transport="offline")
    call_id = api.add_call()
    with caplog.at_level(logging.ERROR, "realtime_agents.telephony.sip"):
        await deliver(call_id)
    assert api.actions(call_id) == ["reject"]
    assert api.calls[call_id].reject_status == 503
    assert "offline transport, which cannot answer SIP calls" in caplog.text


async def test_a_transport_without_its_key_rejects_through_the_other(
    api: FakeCallsApi, configured: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    await sip_channel(transport="azure")
    call_id = api.add_call()
    with caplog.at_level(logging.ERROR, "realtime_agents.telephony.sip"):
        await deliver(call_id)
    assert api.calls[call_id].reject_status == 503
    assert "uses azure, whose API key, Calls URL or Realtime URL is not set" in caplog.text


async def test_without_any_key_the_call_cannot_even_be_rejected_and_the_log_says_so(
    api: FakeCallsApi, caplog: pytest.LogCaptureFixture
) -> None:
    call_id = api.add_call()
    with override_settings(REALTIME_AGENTS=settings_for(api, OPENAI_API_KEY="")):
        with caplog.at_level(logging.ERROR, "realtime_agents.telephony.sip"):
            assert await deliver(call_id) == (200, {"status": "processing"})
    assert api.requests == []
    assert "cannot be rejected (no channel): no Calls API key is configured" in caplog.text


@pytest.mark.usefixtures("configured")
async def test_a_channel_at_its_session_limit_answers_busy(api: FakeCallsApi) -> None:
    channel = await sip_channel(max_concurrent_sessions=1)
    await sync_to_async(Conversation.objects.create)(channel=channel, channel_slug=channel.slug)
    call_id = api.add_call()
    await deliver(call_id)
    assert api.calls[call_id].reject_status == 486


async def test_a_call_gone_before_the_accept_is_logged_and_dropped(
    api: FakeCallsApi, configured: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    await sip_channel()
    with caplog.at_level(logging.WARNING, "realtime_agents.telephony.sip"):
        # The fake does not know this call: the accept answers 404 call_id_not_found.
        assert await deliver("rtc_hung_up_already") == (200, {"status": "processing"})
    assert api.actions("rtc_hung_up_already") == ["accept"]
    assert "was gone before it could be accepted" in caplog.text
    assert not await sync_to_async(Conversation.objects.exists)()


# -- dedupe --------------------------------------------------------------------------------


async def test_a_repeated_delivery_is_acknowledged_once_and_accepted_once(
    api: FakeCallsApi, configured: dict[str, Any]
) -> None:
    await sip_channel()
    call_id = api.add_call()
    headers, body = delivery(call_id)
    first = await post(headers, body)
    second = await post(headers, body)
    await calls.wait_idle()
    assert first == (200, {"status": "processing"})
    assert second == (200, {"status": "duplicate"})
    assert len(requests_for(api, call_id, "accept")) == 1


# -- system check --------------------------------------------------------------------------


async def test_active_sip_channels_without_a_webhook_secret_warn(api: FakeCallsApi) -> None:
    from realtime_agents.checks import check_sip_webhook

    check = sync_to_async(check_sip_webhook)
    with override_settings(REALTIME_AGENTS=settings_for(api, OPENAI_WEBHOOK_SECRET="")):
        assert await check() == []  # no SIP channel yet
        await sip_channel("off", numbers="+15551112222", is_active=False)
        assert await check() == []
        await sip_channel()
        warnings = await check()
    assert [w.id for w in warnings] == ["realtime_agents.W003"]
    assert "phone" in warnings[0].msg and "off" not in warnings[0].msg
    with override_settings(REALTIME_AGENTS=settings_for(api)):
        assert await check() == []
