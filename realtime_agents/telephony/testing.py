"""Test doubles for telephony: a fake Realtime Calls API on 127.0.0.1 and signed webhook deliveries."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from .signatures import sign_standard_webhook

__all__ = ["CallRecord", "FakeCallsApi", "RecordedRequest", "incoming_call_delivery"]

_ACTIONS = ("accept", "reject", "refer", "hangup")
_MAX_BODY = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    """One request the fake received: method, path, lower-cased headers and the parsed JSON body."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


@dataclass(kw_only=True)
class CallRecord:
    """A call known to the fake and what happened to it."""

    call_id: str
    state: Literal["ringing", "accepted", "rejected", "ended"] = "ringing"
    session: dict[str, Any] | None = None
    reject_status: int | None = None
    referred_to: list[str] = field(default_factory=list)


def _error(code: str, message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def _answer(self, status: int, payload: Any = None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - the base class's name
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout): that is what timeout tests make it do.
            self.close_connection = True

    def _handle(self) -> None:
        fake = self.server.fake
        size = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
        raw = self.rfile.read(size) if size else b""
        try:
            body = json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = raw.decode("utf-8", "replace")
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, payload = fake._dispatch(
            RecordedRequest(method="POST", path=self.path, headers=headers, body=body)
        )
        if fake.delay_s:
            time.sleep(fake.delay_s)
        self._answer(status, payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeCallsApi


class FakeCallsApi:
    """The Realtime Calls API on 127.0.0.1, strict about auth and bodies; `with FakeCallsApi() as api:`."""

    def __init__(
        self,
        *,
        api_key: str = "sk-test-calls",
        auth: Literal["bearer", "api-key"] = "bearer",
        prefix: str = "/v1",
    ) -> None:
        self.api_key = api_key
        self.auth = auth
        self.prefix = prefix.rstrip("/")
        self.calls: dict[str, CallRecord] = {}
        self.requests: list[RecordedRequest] = []
        self.delay_s = 0.0
        self._failures: list[tuple[int, Any]] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """What to pass as the client's base_url (e.g. http://127.0.0.1:PORT/v1)."""
        if self._server is None:
            raise RuntimeError("the fake Calls API is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def add_call(self, call_id: str | None = None) -> str:
        """A ringing call the API knows about; returns its id."""
        call_id = call_id or f"rtc_{uuid.uuid4().hex}"
        with self._lock:
            self.calls[call_id] = CallRecord(call_id=call_id)
        return call_id

    def fail_next(self, status: int, payload: Any = None) -> None:
        """Answer the next request with this status and body instead of handling it."""
        with self._lock:
            self._failures.append((status, payload))

    def start(self) -> FakeCallsApi:
        """Listen on a free port on 127.0.0.1."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-calls-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeCallsApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        if self.auth == "bearer":
            return headers.get("authorization") == f"Bearer {self.api_key}"
        return headers.get("api-key") == self.api_key

    def _dispatch(self, request: RecordedRequest) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(request)
            if self._failures:
                return self._failures.pop(0)
            if not self._authorised(request.headers):
                return 401, _error("invalid_api_key", "Incorrect API key provided.")
            parts = request.path.split("?", 1)[0].split("/")
            base = self.prefix.split("/") if self.prefix else [""]
            if (
                parts[: len(base)] != base
                or parts[len(base) :][:2] != ["realtime", "calls"]
                or len(parts) != len(base) + 4
            ):
                return 404, _error("not_found", f"Unknown path {request.path}")
            call_id, action = parts[-2], parts[-1]
            if action not in _ACTIONS:
                return 404, _error("not_found", f"Unknown action {action}")
            call = self.calls.get(call_id)
            if call is None or call.state in ("rejected", "ended"):
                return 404, _error("call_id_not_found", "No session found for the provided call_id")
            return self._act(call, action, request.body)

    def _act(self, call: CallRecord, action: str, body: Any) -> tuple[int, Any]:
        if action == "accept":
            problem = _accept_problem(body)
            if problem:
                return 400, _error("invalid_value", problem)
            if call.state != "ringing":
                return 400, _error("call_already_accepted", "The call was already accepted")
            call.state, call.session = "accepted", body
        elif action == "reject":
            status = (body or {}).get("status_code", 603) if isinstance(body, dict) or body is None else None
            if call.state != "ringing" or not isinstance(status, int):
                return 400, _error("invalid_value", "reject needs a ringing call and an integer status_code")
            call.state, call.reject_status = "rejected", status
        elif action == "refer":
            target = body.get("target_uri") if isinstance(body, dict) else None
            if not isinstance(target, str) or not target.startswith(("tel:", "sip:", "sips:")):
                return 400, _error("invalid_value", "target_uri must be a tel: or sip: URI")
            call.referred_to.append(target)
        else:
            call.state = "ended"
        return 200, None

    def actions(self, call_id: str) -> list[str]:
        """The actions requested for a call, in order (handy in assertions)."""
        return [r.path.rsplit("/", 1)[-1] for r in self.requests if f"/calls/{call_id}/" in r.path]


def _accept_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "accept needs a JSON session object"
    if body.get("type") != "realtime":
        return "session.type must be 'realtime'"
    for key in ("model", "instructions"):
        if not isinstance(body.get(key), str):
            return f"session.{key} is required"
    audio = body.get("audio") or {}
    if any(isinstance(audio.get(side), dict) and "format" in audio[side] for side in ("input", "output")):
        # SIP negotiates the codec; a format in the accept is a bug in our payload builder.
        return "audio formats must not be sent on accept: SIP negotiates the codec"
    return None


def incoming_call_delivery(
    *,
    secret: str,
    call_id: str,
    sip_headers: Sequence[Mapping[str, str]],
    timestamp: int | None = None,
    webhook_id: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and raw body of a signed `realtime.call.incoming` webhook delivery."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    webhook_id = webhook_id or f"wh_{uuid.uuid4().hex}"
    event = {
        "object": "event",
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "realtime.call.incoming",
        "created_at": timestamp,
        "data": {"call_id": call_id, "sip_headers": [dict(h) for h in sip_headers]},
    }
    body = json.dumps(event).encode()
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(
            secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body
        ),
        "content-type": "application/json",
    }
    return headers, body
