"""The widget's failures as a visitor reads them: refused origin, no microphone, busy server, lost network."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("playwright.async_api", reason="needs playwright (pip install -r requirements-dev.txt)")

from playwright.async_api import expect  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from realtime_agents.engine.testing import FakeRealtimeServer, ScriptedResponse  # noqa: E402
from realtime_agents.models import Conversation  # noqa: E402
from tests.browser.driver import WidgetDriver  # noqa: E402
from tests.browser.proxy import CuttableProxy  # noqa: E402
from tests.consumer_helpers import ORIGIN, make_channel, wait_all_finalised  # noqa: E402
from tests.live_server import daphne_url  # noqa: E402
from tests.rows import close_db_threads  # noqa: E402,F401  (fixture)
from tests.test_consumer import sync  # noqa: E402

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_threads"),
]


async def test_a_refused_origin_says_so_and_does_not_retry(
    widget: WidgetDriver, upstream: FakeRealtimeServer,
) -> None:
    await make_channel("partner", allowed_origins="https://partner.test")
    await widget.open("partner")
    await widget.part(".start").click()
    await expect(widget.part(".alert-text")).to_have_text(
        "This website is not allowed to use this assistant (origin refused).")
    await widget.wait_state("idle")
    await expect(widget.part(".retry")).to_be_hidden()
    await expect(widget.part(".start")).to_be_visible()
    await asyncio.sleep(1.5)
    assert len(widget.sockets) == 1
    assert upstream.all_connections == []


async def test_a_denied_microphone_is_explained_and_typing_still_works(
    widget_without_microphone: WidgetDriver, upstream: FakeRealtimeServer,
) -> None:
    widget = widget_without_microphone
    await make_channel("no-mic")
    upstream.add_response(ScriptedResponse(transcript="I read you."))
    await widget.open("no-mic")
    await widget.start(until=("textOnly",))
    await expect(widget.part(".alert-text")).to_contain_text("Microphone access was denied.")
    await expect(widget.part(".mute")).to_be_hidden()
    # Keyboard users are taken to the text box, the one way left to talk.
    assert await widget.page.evaluate(
        "document.querySelector('realtime-agent-widget').shadowRoot.activeElement?.name") == "message"
    await widget.type_message("Can you hear me?")
    await expect(widget.messages("assistant")).to_have_text(["No Mic Agent: I read you."])
    assert widget.sent_audio() == []


async def test_a_busy_server_is_explained_and_try_again_works(
    widget: WidgetDriver, upstream: FakeRealtimeServer, daphne: Any,
) -> None:
    await make_channel("busy", max_concurrent_sessions=1, turn_detection="none")
    await widget.open("busy")
    url = f"{daphne_url(daphne, 'ws')}/ws/realtime/busy/"
    async with connect(url, origin=ORIGIN) as other:  # type: ignore[arg-type]
        assert '"ready"' in str(await other.recv())
        await widget.part(".start").click()
        await expect(widget.part(".alert-text")).to_have_text(
            "The assistant is busy right now. Please try again in a minute.")
        await widget.wait_state("idle")
    await wait_all_finalised()
    await widget.part(".retry").click()
    await widget.wait_state("holdToTalk")
    await expect(widget.part(".alert")).to_be_hidden()


async def test_a_lost_connection_is_retried_automatically(
    widget: WidgetDriver, upstream: FakeRealtimeServer, daphne: Any,
) -> None:
    await make_channel("flaky", turn_detection="none")
    upstream.add_response(ScriptedResponse(transcript="Still here."))
    _, port = daphne.listening_addresses[0]
    async with CuttableProxy(port) as proxy:
        await widget.open("flaky", url=f"ws://127.0.0.1:{proxy.port}/ws/realtime/flaky/")
        await widget.start()
        proxy.cut()
        await widget.wait_state("reconnecting")
        alert = widget.part(".alert-text")
        await expect(alert).to_have_text("Connection lost. Reconnecting (attempt 1 of 5)…")
        await widget.wait_state("holdToTalk", timeout=15)
        await expect(widget.part(".notice")).to_contain_text(["Reconnected. This is a new conversation"])
        await expect(widget.part(".alert")).to_be_hidden()
        assert proxy.connections == 2
        await widget.type_message("Are you there?")
        await expect(widget.messages("assistant")).to_have_text(["Flaky Agent: Still here."])
    # The cut conversation was finalised as the server saw it: the socket went away.
    rows = Conversation.objects.order_by("id").values_list("end_reason", flat=True)
    reasons = await sync(lambda: list(rows))
    assert reasons[0] == "client_disconnected" and len(reasons) == 2


async def test_the_widget_runs_under_a_strict_content_security_policy(
    widget: WidgetDriver, upstream: FakeRealtimeServer,
) -> None:
    await make_channel("strict", turn_detection="none")
    upstream.add_response(ScriptedResponse(transcript="Policy respected."))
    await widget.page.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    await widget.open("strict", csp="1")
    header = "fetch(location.href).then(response => response.headers.get('content-security-policy'))"
    policy = await widget.page.evaluate(header)
    assert "script-src 'nonce-" in policy
    await widget.start()
    await widget.type_message("Hello")
    await expect(widget.messages("assistant")).to_have_text(["Strict Agent: Policy respected."])
    assert await widget.page.evaluate("window.__violations") == []
