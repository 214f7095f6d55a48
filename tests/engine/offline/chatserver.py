"""A small fake OpenAI-compatible chat-completions server on 127.0.0.1 (asyncio streams, HTTP/1.1)."""
from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any


class FakeChatServer:
    """Answers POST /v1/chat/completions with scripted messages and records every request body."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.replies: deque[tuple[int, dict[str, Any]]] = deque()
        self._server: asyncio.Server | None = None

    def reply_text(self, text: str) -> None:
        """Queue an assistant text answer."""
        self.replies.append((200, {"role": "assistant", "content": text}))

    def reply_call(self, name: str, arguments: dict[str, Any]) -> None:
        """Queue an assistant tool call."""
        call = {"id": f"call_{len(self.replies)}", "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)}}
        self.replies.append((200, {"role": "assistant", "content": None, "tool_calls": [call]}))

    def reply_status(self, status: int) -> None:
        """Queue an HTTP error answer."""
        self.replies.append((status, {}))

    @property
    def url(self) -> str:
        """The base URL (…/v1), as a user would configure it."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aenter__(self) -> FakeChatServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                while True:
                    request_line = await reader.readline()
                    if not request_line:
                        return
                    headers: dict[str, str] = {}
                    for _ in range(100):
                        line = (await reader.readline()).decode("latin-1").strip()
                        if not line:
                            break
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                    body = await reader.readexactly(int(headers.get("content-length", "0")))
                    method, path = request_line.decode("latin-1").split()[:2]
                    if method != "POST" or path != "/v1/chat/completions":
                        status, payload = 404, {"error": {"message": f"no route {method} {path}"}}
                    else:
                        self.requests.append(json.loads(body))
                        self.headers.append(headers)
                        status, message = self.replies.popleft() if self.replies else (500, {})
                        payload = ({"id": "chatcmpl-1", "object": "chat.completion", "model": "local",
                                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
                                   if status == 200 else {"error": {"message": "scripted failure"}})
                    data = json.dumps(payload).encode()
                    writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
                    await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
