"""A real HTTP server on 127.0.0.1 for HTTP-tool tests: echo, slow, error and oversized answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def _answer(
        self, status: int, body: bytes, content_type: str = "application/json", length: bool = True
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size).decode() if size else ""
        self.server.requests.append(
            {"method": self.command, "path": parts.path, "headers": dict(self.headers)}
        )
        if parts.path == "/slow":
            time.sleep(2.0)
            self._answer(200, b'{"late": true}')
        elif parts.path == "/error":
            self._answer(503, b'{"detail": "maintenance"}')
        elif parts.path == "/big":
            # No Content-Length: the client only finds out by reading, which is what the limit must catch.
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b"x" * 1024)
        elif parts.path == "/big-declared":
            self._answer(200, b"y" * 10_000, "text/plain")
        elif parts.path == "/empty":
            self._answer(204, b"", length=False)
        else:
            echo = {
                "method": self.command,
                "path": parts.path,
                "query": {key: values[0] for key, values in parse_qs(parts.query).items()},
                "headers": {key.lower(): value for key, value in self.headers.items()},
                "body": json.loads(body) if body else None,
            }
            self._answer(200, json.dumps(echo).encode())

    def _handle_quietly(self) -> None:
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (timeout, size limit): that is what those tests make it do.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle_quietly


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[dict[str, object]]


@contextmanager
def running_server() -> Iterator[_Server]:
    """Serve on an ephemeral port of 127.0.0.1 until the block ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, name="test-http-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
