"""Tests for Twilio request signatures and Standard Webhooks verification (OpenAI realtime.call.incoming)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import openai
import pytest

from realtime_agents.telephony.signatures import (
    TwilioSignatureError,
    WebhookSignatureError,
    public_url,
    sign_standard_webhook,
    stream_url,
    twilio_signature,
    verify_standard_webhook,
    verify_twilio_json_request,
    verify_twilio_request,
    webhook_key,
)
from realtime_agents.telephony.testing import incoming_call_delivery

TOKEN = "test-auth-token-12345"
URL = "https://voice.example.com/realtime/twilio/support/voice/?x=1"
PARAMS = {
    "CallSid": "CA123",
    "From": "+15551230000",
    "To": "+15557654321",
    "Digits": "1234",
    "Caller": "+1555",
}
SECRET = "whsec_" + base64.b64encode(b"a-32-byte-test-key-for-webhooks!").decode()
NOW = 1_763_750_000


def _by_hand(token: str, data: str) -> str:
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


# -- Twilio ----------------------------------------------------------------------------------------


def test_twilio_signature_is_hmac_sha1_over_url_and_sorted_params() -> None:
    data = URL + "CallSidCA123" + "Caller+1555" + "Digits1234" + "From+15551230000" + "To+15557654321"
    assert twilio_signature(TOKEN, URL, PARAMS) == _by_hand(TOKEN, data)
    # Repeated names: every value, sorted; pairs and multi-value mappings agree.
    pairs = [("b", "2"), ("a", "z"), ("a", "y")]
    assert twilio_signature(TOKEN, URL, pairs) == _by_hand(TOKEN, URL + "ay" + "az" + "b2")
    assert twilio_signature(TOKEN, URL, {"a": ["z", "y"], "b": "2"}) == twilio_signature(TOKEN, URL, pairs)


def test_valid_twilio_request_passes_and_tampering_fails() -> None:
    signature = twilio_signature(TOKEN, URL, PARAMS)
    verify_twilio_request(auth_token=TOKEN, url=URL, params=PARAMS, signature=signature)
    for url, params in [
        (URL, {**PARAMS, "To": "+15550000000"}),
        (URL, {**PARAMS, "Extra": "added"}),
        (URL.replace("?x=1", "?x=2"), PARAMS),
        (URL.replace("https", "http"), PARAMS),
    ]:
        with pytest.raises(TwilioSignatureError) as caught:
            verify_twilio_request(auth_token=TOKEN, url=url, params=params, signature=signature)
        assert caught.value.reason == "no_match"
    with pytest.raises(TwilioSignatureError) as wrong_token:
        verify_twilio_request(auth_token="other", url=URL, params=PARAMS, signature=signature)
    assert wrong_token.value.reason == "no_match"


@pytest.mark.parametrize(
    ("signed_url", "checked_url"),
    [
        ("https://voice.example.com:443/hook", "https://voice.example.com/hook"),
        ("https://voice.example.com/hook", "https://voice.example.com:443/hook"),
        ("http://voice.example.com:80/hook?a=b", "http://voice.example.com/hook?a=b"),
        ("https://voice.example.com:8443/hook", "https://voice.example.com:8443/hook"),
    ],
)
def test_port_variants_are_accepted(signed_url: str, checked_url: str) -> None:
    signature = twilio_signature(TOKEN, signed_url, PARAMS)
    # Raises TwilioSignatureError when the variant is not accepted.
    assert verify_twilio_request(auth_token=TOKEN, url=checked_url, params=PARAMS, signature=signature) is None


def test_a_non_default_port_is_not_dropped_or_swapped() -> None:
    signature = twilio_signature(TOKEN, "https://voice.example.com:8443/hook", PARAMS)
    with pytest.raises(TwilioSignatureError):
        verify_twilio_request(
            auth_token=TOKEN, url="https://voice.example.com/hook", params=PARAMS, signature=signature
        )


def test_stream_upgrade_is_signed_with_the_wss_url_and_no_params() -> None:
    base = "https://voice.example.com/"
    url = stream_url(base, "/ws/realtime/twilio/support/")
    assert url == "wss://voice.example.com/ws/realtime/twilio/support/"
    assert stream_url("http://127.0.0.1:8000", "/ws/x/") == "ws://127.0.0.1:8000/ws/x/"
    signature = twilio_signature(TOKEN, url, None)
    verify_twilio_request(auth_token=TOKEN, url=url, params=None, signature=signature)
    verify_twilio_request(
        auth_token=TOKEN,
        url="wss://voice.example.com:443/ws/realtime/twilio/support/",
        params={},
        signature=signature,
    )
    with pytest.raises(TwilioSignatureError):
        # The https form of the same URL is a different string: the mismatch behind twilio-aspnet#162.
        verify_twilio_request(
            auth_token=TOKEN,
            url=public_url(base, "/ws/realtime/twilio/support/"),
            params=None,
            signature=signature,
        )


def test_public_url_comes_from_the_configured_origin() -> None:
    assert (
        public_url("https://voice.example.com/app/", "/hook/?a=1")
        == "https://voice.example.com/app/hook/?a=1"
    )
    with pytest.raises(ValueError, match="absolute http"):
        public_url("voice.example.com", "/hook/")
    with pytest.raises(ValueError, match="must start with '/'"):
        public_url("https://voice.example.com", "hook/")


def test_json_body_webhook_checks_body_sha256() -> None:
    body = json.dumps({"CallSid": "CA1", "status": "completed"}).encode()
    url = f"https://voice.example.com/status?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = twilio_signature(TOKEN, url)
    verify_twilio_json_request(auth_token=TOKEN, url=url, body=body, signature=signature)
    with pytest.raises(TwilioSignatureError) as tampered:
        verify_twilio_json_request(auth_token=TOKEN, url=url, body=body + b" ", signature=signature)
    assert tampered.value.reason == "body_mismatch"
    no_hash = "https://voice.example.com/status"
    with pytest.raises(TwilioSignatureError) as missing:
        verify_twilio_json_request(
            auth_token=TOKEN, url=no_hash, body=body, signature=twilio_signature(TOKEN, no_hash)
        )
    assert missing.value.reason == "body_mismatch"


def test_missing_signature_or_token_says_so() -> None:
    for signature in (None, ""):
        with pytest.raises(TwilioSignatureError) as caught:
            verify_twilio_request(auth_token=TOKEN, url=URL, params=PARAMS, signature=signature)
        assert caught.value.reason == "missing_header"
    with pytest.raises(TwilioSignatureError) as config:
        verify_twilio_request(auth_token="", url=URL, params=PARAMS, signature="abc")
    assert config.value.reason == "bad_config"
    with pytest.raises(TwilioSignatureError) as garbage:
        verify_twilio_request(auth_token=TOKEN, url=URL, params=PARAMS, signature="ünïcode")
    assert garbage.value.reason == "no_match"


# -- Standard Webhooks -----------------------------------------------------------------------------


def _headers(
    body: bytes, *, timestamp: int = NOW, webhook_id: str = "wh_1", secret: str = SECRET
) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(
            secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body
        ),
    }


def test_standard_webhooks_reference_vector() -> None:
    # The example from the Standard Webhooks specification.
    signature = sign_standard_webhook(
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        webhook_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        body='{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_valid_delivery_verifies_here_and_in_the_openai_sdk() -> None:
    headers, body = incoming_call_delivery(
        secret=SECRET,
        call_id="rtc_abc",
        sip_headers=[{"name": "To", "value": "<sip:+15557654321@x>"}],
        timestamp=NOW,
        webhook_id="wh_42",
    )
    assert verify_standard_webhook(secret=SECRET, headers=headers, body=body, now=lambda: NOW + 10) == "wh_42"
    # Cross-check against the official implementation (it reads the clock itself: sign for now).
    fresh_headers, fresh_body = incoming_call_delivery(secret=SECRET, call_id="rtc_abc", sip_headers=[])
    client = openai.OpenAI(api_key="sk-unused", base_url="http://127.0.0.1:9/v1")
    client.webhooks.verify_signature(fresh_body, fresh_headers, secret=SECRET)
    verify_standard_webhook(secret=SECRET, headers=fresh_headers, body=fresh_body)


def test_raw_body_is_verified_byte_for_byte() -> None:
    body = b'{"type":"realtime.call.incoming",  "data": {"call_id": "rtc_1"}}'
    headers = _headers(body)
    verify_standard_webhook(secret=SECRET, headers=headers, body=body, now=lambda: NOW)
    reserialised = json.dumps(json.loads(body)).encode()
    with pytest.raises(WebhookSignatureError) as caught:
        verify_standard_webhook(secret=SECRET, headers=headers, body=reserialised, now=lambda: NOW)
    assert caught.value.reason == "no_match"


@pytest.mark.parametrize(
    ("offset", "reason"), [(-301, "too_old"), (301, "too_new"), (-300, None), (300, None)]
)
def test_tolerance_is_300_seconds_both_ways(offset: int, reason: str | None) -> None:
    body = b"{}"
    headers = _headers(body, timestamp=NOW + offset)
    if reason is None:
        verify_standard_webhook(secret=SECRET, headers=headers, body=body, now=lambda: NOW)
        return
    with pytest.raises(WebhookSignatureError) as caught:
        verify_standard_webhook(secret=SECRET, headers=headers, body=body, now=lambda: NOW)
    assert caught.value.reason == reason


def test_several_signatures_any_one_may_match() -> None:
    body = b'{"a": 1}'
    good = _headers(body)["webhook-signature"]
    old_secret = _headers(body, secret="whsec_" + base64.b64encode(b"old-key").decode())["webhook-signature"]
    header = f"v1,{base64.b64encode(b'x' * 32).decode()} {old_secret} v2,ignored {good}"
    headers = {"Webhook-Id": "wh_1", "Webhook-Timestamp": str(NOW), "Webhook-Signature": header}
    verify_standard_webhook(secret=SECRET, headers=headers, body=body, now=lambda: NOW)
    bare = {**headers, "Webhook-Signature": good.removeprefix("v1,")}
    verify_standard_webhook(secret=SECRET, headers=bare, body=body, now=lambda: NOW)
    only_others = {**headers, "Webhook-Signature": f"{old_secret} v2,{good.removeprefix('v1,')}"}
    with pytest.raises(WebhookSignatureError) as caught:
        verify_standard_webhook(secret=SECRET, headers=only_others, body=body, now=lambda: NOW)
    assert caught.value.reason == "no_match"


def test_tampered_id_or_timestamp_fails() -> None:
    body = b"{}"
    headers = _headers(body)
    for key, value in (("webhook-id", "wh_2"), ("webhook-timestamp", str(NOW + 1))):
        with pytest.raises(WebhookSignatureError) as caught:
            verify_standard_webhook(
                secret=SECRET, headers={**headers, key: value}, body=body, now=lambda: NOW
            )
        assert caught.value.reason == "no_match"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_named(missing: str) -> None:
    headers = {k: v for k, v in _headers(b"{}").items() if k != missing}
    with pytest.raises(WebhookSignatureError, match=missing) as caught:
        verify_standard_webhook(secret=SECRET, headers=headers, body=b"{}", now=lambda: NOW)
    assert caught.value.reason == "missing_header"


def test_bad_timestamp_and_bad_secret() -> None:
    headers = {**_headers(b"{}"), "webhook-timestamp": "12.5"}
    with pytest.raises(WebhookSignatureError) as caught:
        verify_standard_webhook(secret=SECRET, headers=headers, body=b"{}", now=lambda: NOW)
    assert caught.value.reason == "bad_timestamp"
    for secret in ("", "whsec_***", b""):
        with pytest.raises(WebhookSignatureError) as bad:
            webhook_key(secret)
        assert bad.value.reason == "bad_config"
    assert webhook_key("plain-secret") == b"plain-secret"
    assert webhook_key(SECRET) == b"a-32-byte-test-key-for-webhooks!"
