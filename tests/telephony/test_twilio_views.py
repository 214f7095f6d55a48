"""Twilio's voice webhook and after-stream action through Django's test client, signed like Twilio signs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element, fromstring

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.test import Client

from realtime_agents.models import Channel
from realtime_agents.telephony.signatures import twilio_signature
from realtime_agents.telephony.twilio_outcomes import CallOutcome, remember_outcome
from realtime_agents.telephony.twilio_views import BUSY, FAILED, UNAVAILABLE
from tests import rows

pytestmark = pytest.mark.django_db

TOKEN = "twilio-test-token"
BASE = "https://voice.example.com"
CALL_SID = "CA" + "1" * 32
FORM = {"CallSid": CALL_SID, "From": "+15550001111", "To": "+15550002222", "AccountSid": "AC" + "0" * 32}


@pytest.fixture(autouse=True)
def twilio_settings(settings: Any) -> Iterator[None]:
    settings.REALTIME_AGENTS = {"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_PUBLIC_BASE_URL": BASE}
    cache.clear()
    yield
    cache.clear()


def twilio_channel(slug: str = "support", **fields: Any) -> Channel:
    fields.setdefault("kind", Channel.Kind.TWILIO)
    return rows.channel(slug, rows.agent(f"{slug}-agent"), **fields)


def post(
    client: Client,
    path: str,
    form: dict[str, str],
    *,
    url: str | None = None,
    token: str = TOKEN,
    **headers: str,
) -> Any:
    """POST a form signed over `url` (default: the public URL of `path`)."""
    signature = twilio_signature(token, url or BASE + path, form)
    return client.post(path, form, HTTP_X_TWILIO_SIGNATURE=signature, **headers)


def twiml(response: Any) -> Element:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    root = fromstring(response.content)
    assert root.tag == "Response"
    return root


def test_voice_webhook_connects_a_stream_with_the_call_context(client: Client) -> None:
    twilio_channel()
    root = twiml(post(client, "/realtime/twilio/support/voice/", FORM))
    connect = root.find("Connect")
    assert connect is not None and len(root) == 1
    assert connect.attrib == {"action": f"{BASE}/realtime/twilio/support/after-stream/", "method": "POST"}
    stream = connect.find("Stream")
    assert stream is not None
    assert stream.attrib["url"] == "wss://voice.example.com/ws/realtime/twilio/support/"
    parameters = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    assert parameters == {"channel": "support", "from": "+15550001111"}


def test_a_base_url_with_a_path_prefix_is_kept(client: Client, settings: Any) -> None:
    settings.REALTIME_AGENTS = {"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_PUBLIC_BASE_URL": "https://x.example/app"}
    twilio_channel()
    path = "/realtime/twilio/support/voice/"
    root = twiml(post(client, path, FORM, url="https://x.example/app" + path))
    stream = root.find("Connect/Stream")
    assert stream is not None and stream.attrib["url"] == "wss://x.example/app/ws/realtime/twilio/support/"


@pytest.mark.parametrize(
    "how",
    ["missing", "garbage", "other_token", "tampered_form", "host_header_url", "forwarded_host_url"],
)
def test_voice_webhook_refuses_bad_signatures(client: Client, how: str) -> None:
    twilio_channel()
    path = "/realtime/twilio/support/voice/"
    if how == "missing":
        response = client.post(path, FORM)
    elif how == "garbage":
        response = client.post(path, FORM, HTTP_X_TWILIO_SIGNATURE="bm90IGEgc2lnbmF0dXJl")
    elif how == "other_token":
        response = post(client, path, FORM, token="someone-elses-token")
    elif how == "tampered_form":
        signature = twilio_signature(TOKEN, BASE + path, FORM)
        response = client.post(path, {**FORM, "From": "+19005550100"}, HTTP_X_TWILIO_SIGNATURE=signature)
    elif how == "host_header_url":
        # Signed over the URL the request's Host header gives: only the configured public URL counts.
        response = post(client, path, FORM, url="http://testserver" + path)
    else:
        response = post(
            client,
            path,
            FORM,
            url="https://evil.example" + path,
            HTTP_X_FORWARDED_HOST="evil.example",
            HTTP_X_FORWARDED_PROTO="https",
        )
    assert response.status_code == 403
    assert b"Connect" not in response.content


@pytest.mark.parametrize("settings_missing", ["TWILIO_AUTH_TOKEN", "TWILIO_PUBLIC_BASE_URL"])
def test_unconfigured_twilio_refuses_everything(client: Client, settings: Any, settings_missing: str) -> None:
    twilio_channel()
    values = {"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_PUBLIC_BASE_URL": BASE, settings_missing: ""}
    settings.REALTIME_AGENTS = values
    path = "/realtime/twilio/support/voice/"
    assert post(client, path, FORM).status_code == 403


def test_unknown_and_non_twilio_channels_are_not_found(client: Client) -> None:
    rows.channel("web-only", rows.agent("web-agent"))
    assert post(client, "/realtime/twilio/nope/voice/", FORM).status_code == 404
    assert post(client, "/realtime/twilio/web-only/voice/", FORM).status_code == 404


def test_an_inactive_channel_apologises_and_hangs_up(client: Client) -> None:
    twilio_channel(is_active=False)
    root = twiml(post(client, "/realtime/twilio/support/voice/", FORM))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root[0].text == UNAVAILABLE


def test_only_post_is_allowed(client: Client) -> None:
    twilio_channel()
    assert client.get("/realtime/twilio/support/voice/").status_code == 405
    assert client.get("/realtime/twilio/support/after-stream/").status_code == 405


# -- after the stream ------------------------------------------------------------------------

AFTER = "/realtime/twilio/support/after-stream/"


def test_after_stream_hangs_up_without_an_outcome(client: Client) -> None:
    twilio_channel()
    root = twiml(post(client, AFTER, FORM))
    assert [child.tag for child in root] == ["Hangup"]


def test_after_stream_dials_a_listed_transfer_number_once(client: Client) -> None:
    twilio_channel(transfer_numbers="+442079460958")
    async_to_sync(remember_outcome)(
        CALL_SID, CallOutcome(action="transfer", number="+442079460958", channel="support")
    )
    root = twiml(post(client, AFTER, FORM))
    assert [(child.tag, child.text) for child in root] == [("Dial", "+442079460958")]
    # Used once: a replayed action request does not dial again.
    assert [child.tag for child in twiml(post(client, AFTER, FORM))] == ["Hangup"]


def test_after_stream_never_dials_an_unlisted_number(client: Client) -> None:
    twilio_channel(transfer_numbers="+442079460958")
    async_to_sync(remember_outcome)(
        CALL_SID, CallOutcome(action="transfer", number="+19005550100", channel="support")
    )
    root = twiml(post(client, AFTER, FORM))
    assert [(child.tag, child.text) for child in root] == [("Say", FAILED), ("Hangup", None)]


def test_after_stream_ignores_an_outcome_of_another_channel(client: Client) -> None:
    twilio_channel(transfer_numbers="+442079460958")
    async_to_sync(remember_outcome)(
        CALL_SID, CallOutcome(action="transfer", number="+442079460958", channel="other")
    )
    assert [child.tag for child in twiml(post(client, AFTER, FORM))] == ["Hangup"]


@pytest.mark.parametrize(("action", "say"), [("hang_up", None), ("busy", BUSY), ("error", FAILED)])
def test_after_stream_says_why_when_the_call_was_not_served(
    client: Client, action: str, say: str | None
) -> None:
    twilio_channel()
    async_to_sync(remember_outcome)(CALL_SID, CallOutcome(action=action, channel="support"))  # type: ignore[arg-type]
    root = twiml(post(client, AFTER, FORM))
    expected = [("Hangup", None)] if say is None else [("Say", say), ("Hangup", None)]
    assert [(child.tag, child.text) for child in root] == expected


def test_after_stream_refuses_bad_signatures(client: Client) -> None:
    twilio_channel(transfer_numbers="+442079460958")
    async_to_sync(remember_outcome)(
        CALL_SID, CallOutcome(action="transfer", number="+442079460958", channel="support")
    )
    assert client.post(AFTER, FORM).status_code == 403
    assert post(client, AFTER, FORM, token="other").status_code == 403
    # The refused requests did not use up the outcome.
    assert twiml(post(client, AFTER, FORM))[0].tag == "Dial"
