"""Webhook signatures: Twilio's X-Twilio-Signature and Standard Webhooks (OpenAI realtime.call.incoming)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "SignatureError",
    "TwilioSignatureError",
    "WebhookSignatureError",
    "public_url",
    "sign_standard_webhook",
    "stream_url",
    "twilio_signature",
    "verify_standard_webhook",
    "verify_twilio_json_request",
    "verify_twilio_request",
    "webhook_key",
]

DEFAULT_TOLERANCE_S = 300
_DEFAULT_PORTS = {"https": 443, "wss": 443, "http": 80, "ws": 80}
_MAX_SIGNATURES = 16

TwilioParams = Mapping[str, str] | Mapping[str, Sequence[str]] | Iterable[tuple[str, str]]
TwilioReason = Literal["missing_header", "bad_config", "no_match", "body_mismatch"]
WebhookReason = Literal["missing_header", "bad_config", "bad_timestamp", "too_old", "too_new", "no_match"]


class SignatureError(Exception):
    """A request's signature did not verify; `reason` says why in one word."""

    reason: str

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class TwilioSignatureError(SignatureError):
    """X-Twilio-Signature is missing or does not match."""

    reason: TwilioReason


class WebhookSignatureError(SignatureError):
    """A Standard Webhooks delivery is unsigned, outside the time window, or signed with another secret."""

    reason: WebhookReason


# -- Twilio ----------------------------------------------------------------------------------


def _pairs(params: TwilioParams | None) -> list[tuple[str, str]]:
    if params is None:
        return []
    if isinstance(params, Mapping):
        pairs: list[tuple[str, str]] = []
        for name, value in params.items():
            if isinstance(value, str):
                pairs.append((name, value))
            else:
                pairs.extend((name, v) for v in value)
        return pairs
    return [(str(name), str(value)) for name, value in params]


def twilio_signature(auth_token: str, url: str, params: TwilioParams | None = None) -> str:
    """Twilio's signature: base64 HMAC-SHA1 over the URL then each sorted name+value, no separators."""
    if not isinstance(auth_token, str) or not auth_token:
        raise TwilioSignatureError("bad_config", "the Twilio auth token is not configured")
    # Sorted by name, then by value for repeated names, as Twilio's helper libraries do.
    data = url + "".join(name + value for name, value in sorted(_pairs(params)))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _port_variants(url: str) -> list[str]:
    """The URL as given, plus the same URL with the default port removed or added."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    variants = [url]
    try:
        port = parts.port
    except ValueError:
        return variants
    if port is not None:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}")))
    elif default is not None:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}")))
    return variants


def _matches(auth_token: str, url: str, params: TwilioParams | None, signature: str) -> bool:
    expected = signature.encode("utf-8")
    found = False
    for candidate in _port_variants(url):
        computed = twilio_signature(auth_token, candidate, params).encode("ascii")
        # Every variant is computed and compared, so timing does not reveal which one matched.
        found |= hmac.compare_digest(computed, expected)
    return found


def _check_twilio_inputs(auth_token: str, signature: str | None) -> str:
    if not isinstance(auth_token, str) or not auth_token:
        raise TwilioSignatureError("bad_config", "the Twilio auth token is not configured")
    if not signature or not isinstance(signature, str):
        raise TwilioSignatureError("missing_header", "the X-Twilio-Signature header is missing")
    return signature.strip()


def verify_twilio_request(
    *, auth_token: str, url: str, params: TwilioParams | None, signature: str | None
) -> None:
    """Check a form-encoded (or GET, or WebSocket upgrade) request; raise TwilioSignatureError if it fails."""
    signature = _check_twilio_inputs(auth_token, signature)
    if not _matches(auth_token, url, params, signature):
        raise TwilioSignatureError("no_match", "X-Twilio-Signature does not match the URL and parameters")


def verify_twilio_json_request(*, auth_token: str, url: str, body: bytes, signature: str | None) -> None:
    """Check a JSON-body webhook: the URL carries bodySHA256, which must be the body's SHA-256 (hex)."""
    signature = _check_twilio_inputs(auth_token, signature)
    if not _matches(auth_token, url, None, signature):
        raise TwilioSignatureError("no_match", "X-Twilio-Signature does not match the URL")
    declared = [v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True) if k == "bodySHA256"]
    if len(declared) != 1:
        raise TwilioSignatureError("body_mismatch", "the URL must carry exactly one bodySHA256 parameter")
    digest = hashlib.sha256(bytes(body)).hexdigest()
    if not hmac.compare_digest(digest.encode("ascii"), declared[0].lower().encode("utf-8")):
        raise TwilioSignatureError("body_mismatch", "the body's SHA-256 does not match bodySHA256")


def public_url(base_url: str, path_and_query: str) -> str:
    """The URL Twilio called, from the configured public origin (never from request headers)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"the public base URL must be an absolute http(s) URL, got {base_url!r}")
    if not path_and_query.startswith("/"):
        raise ValueError(f"path must start with '/', got {path_and_query!r}")
    # A base with a path prefix (the site mounted under /app) keeps it.
    return base_url.rstrip("/") + path_and_query


def stream_url(base_url: str, path_and_query: str) -> str:
    """The wss:// (or ws://) URL of a stream endpoint, as Twilio signs its WebSocket upgrade."""
    url = public_url(base_url, path_and_query)
    return ("wss" + url[len("https") :]) if url.startswith("https") else ("ws" + url[len("http") :])


# -- Standard Webhooks -----------------------------------------------------------------------


def webhook_key(secret: str | bytes) -> bytes:
    """The HMAC key: a `whsec_` secret is base64-decoded, any other string is used as UTF-8 bytes."""
    if isinstance(secret, bytes):
        key = secret
    elif isinstance(secret, str) and secret.startswith("whsec_"):
        try:
            key = base64.b64decode(secret[len("whsec_") :], validate=True)
        except (binascii.Error, ValueError):
            raise WebhookSignatureError(
                "bad_config", "the webhook secret is not valid base64 after whsec_"
            ) from None
    elif isinstance(secret, str):
        key = secret.encode("utf-8")
    else:
        raise WebhookSignatureError("bad_config", "the webhook secret must be a string")
    if not key:
        raise WebhookSignatureError("bad_config", "the webhook secret is not configured")
    return key


def _signed_content(webhook_id: str, timestamp: str, body: bytes) -> bytes:
    # The raw body, byte for byte: re-serialising JSON would change what was signed.
    return f"{webhook_id}.{timestamp}.".encode() + body


def _body_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def sign_standard_webhook(*, secret: str | bytes, webhook_id: str, timestamp: int, body: bytes | str) -> str:
    """The `webhook-signature` header value (`v1,<base64>`) for a delivery (for fakes and tests)."""
    digest = hmac.new(
        webhook_key(secret),
        _signed_content(webhook_id, str(int(timestamp)), _body_bytes(body)),
        hashlib.sha256,
    ).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            if isinstance(value, str) and value.strip():
                return value.strip()
            break
    raise WebhookSignatureError("missing_header", f"the {name} header is missing")


def verify_standard_webhook(
    *,
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: Callable[[], float] = time.time,
) -> str:
    """Verify a Standard Webhooks delivery; return its webhook-id (the dedupe key) or raise."""
    key = webhook_key(secret)
    webhook_id = _header(headers, "webhook-id")
    raw_timestamp = _header(headers, "webhook-timestamp")
    header = _header(headers, "webhook-signature")
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit() and len(raw_timestamp) <= 12):
        raise WebhookSignatureError("bad_timestamp", "webhook-timestamp must be whole unix seconds")
    timestamp = int(raw_timestamp)
    current = int(now())
    if current - timestamp > tolerance_s:
        raise WebhookSignatureError(
            "too_old", f"the delivery is {current - timestamp} s old (limit {tolerance_s} s)"
        )
    if timestamp - current > tolerance_s:
        raise WebhookSignatureError(
            "too_new", f"the delivery is {timestamp - current} s in the future " f"(limit {tolerance_s} s)"
        )
    expected = base64.b64encode(
        hmac.new(key, _signed_content(webhook_id, raw_timestamp, _body_bytes(body)), hashlib.sha256).digest()
    )
    entries = header.split()
    found = False
    for entry in entries[:_MAX_SIGNATURES]:
        version, sep, value = entry.partition(",")
        if not sep:
            version, value = "v1", entry  # a bare signature, as the OpenAI SDK also accepts
        if version != "v1":
            continue
        found |= hmac.compare_digest(value.encode("utf-8"), expected)
    if not found:
        raise WebhookSignatureError("no_match", "no webhook-signature entry matches the secret and body")
    return webhook_id
