"""Drives a page with the widget: its shadow DOM parts and every WebSocket frame the page sent or got."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from playwright.async_api import BrowserContext, Locator, Page, WebSocket, expect

WIDGET = "realtime-agent-widget"
# The machines running the suite are small and shared: wait longer than Playwright's 5 s by default.
expect.set_options(timeout=10_000)


class WidgetDriver:
    """A page of the test site with one widget; Playwright's CSS selectors pierce its open shadow root."""

    def __init__(self, context: BrowserContext, page: Page, base_url: str) -> None:
        self.context = context
        self.page = page
        self.base_url = base_url
        self.sockets: list[WebSocket] = []
        self.sent: list[str | bytes] = []
        self.received: list[str | bytes] = []
        self.errors: list[str] = []
        self.console: list[str] = []

    @classmethod
    async def create(cls, context: BrowserContext, base_url: str) -> WidgetDriver:
        """A new page in `context`, recording its sockets' frames, script errors and console."""
        page = await context.new_page()
        driver = cls(context, page, base_url)
        page.on("websocket", driver._socket)
        page.on("pageerror", lambda error: driver.errors.append(str(error)))
        page.on("console", lambda message: driver.console.append(f"{message.type}: {message.text}"))
        return driver

    def _socket(self, socket: WebSocket) -> None:
        self.sockets.append(socket)
        # Playwright tags its handlers with an attribute: plain functions, not bound builtins.
        socket.on("framesent", lambda payload: self.sent.append(payload))
        socket.on("framereceived", lambda payload: self.received.append(payload))

    async def open(self, slug: str, **query: str) -> None:
        """Load the test page for a channel and wait until the widget is styled and shown."""
        suffix = f"?{urlencode(query)}" if query else ""
        await self.page.goto(f"{self.base_url}/browser-tests/widget/{slug}/{suffix}")
        await expect(self.panel).to_be_visible()

    @property
    def panel(self) -> Locator:
        return self.page.locator(f"{WIDGET} .panel")

    def part(self, selector: str) -> Locator:
        """An element inside the widget's shadow root."""
        return self.page.locator(f"{WIDGET} {selector}")

    def messages(self, role: str) -> Locator:
        """Final transcript lines of one speaker (`user` or `assistant`)."""
        return self.part(f".msg.{role} .final")

    async def state(self) -> str | None:
        return await self.panel.get_attribute("data-state")

    async def wait_state(self, *states: str, timeout: float = 10.0) -> None:
        """Wait until the widget shows one of these states."""
        pattern = re.compile("^(" + "|".join(map(re.escape, states)) + ")$")
        await expect(self.panel).to_have_attribute("data-state", pattern, timeout=timeout * 1000)

    async def start(self, *, until: tuple[str, ...] = ("listening", "holdToTalk")) -> None:
        """Press start and wait until the conversation is live."""
        await self.part(".start").click()
        await self.wait_state(*until)

    async def type_message(self, text: str) -> None:
        await self.part("input[name=message]").fill(text)
        await self.part("input[name=message]").press("Enter")

    # -- frames --------------------------------------------------------------------------------

    def sent_json(self, kind: str | None = None) -> list[dict[str, Any]]:
        """JSON frames the page sent (of one type)."""
        frames = [json.loads(frame) for frame in self.sent if isinstance(frame, str)]
        return [frame for frame in frames if kind is None or frame.get("type") == kind]

    def received_json(self, kind: str | None = None) -> list[dict[str, Any]]:
        """JSON frames the page received (of one type)."""
        frames = [json.loads(frame) for frame in self.received if isinstance(frame, str)]
        return [frame for frame in frames if kind is None or frame.get("type") == kind]

    def sent_audio(self) -> list[bytes]:
        """Binary (microphone) frames the page sent."""
        return [frame for frame in self.sent if isinstance(frame, bytes)]

    async def until(self, check: Callable[[], Any], timeout: float = 10.0, what: str = "a condition") -> Any:
        """Poll `check` (bounded) until it returns something truthy; return that."""
        async with asyncio.timeout(timeout):
            while True:
                result = check()
                if result:
                    return result
                await asyncio.sleep(0.02)
        raise AssertionError(what)  # unreachable: the timeout raises first

    async def close(self) -> None:
        """Close the page's context (its sockets close with it)."""
        await self.context.close()
