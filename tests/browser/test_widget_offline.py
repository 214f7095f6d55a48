"""The demo in Chromium over the offline voice model: a spoken question answered, no key, no network."""

from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import json
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.core.management import call_command

from tests.engine.offline.speech import requires_offline

if TYPE_CHECKING:  # the package needs the offline extra, which requires_offline skips without
    from realtime_agents.engine.offline import OfflineEngines

pytestmark = [
    requires_offline,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_threads"),
]

pytest.importorskip("playwright.async_api", reason="needs playwright (pip install -r requirements-dev.txt)")

from playwright.async_api import expect  # noqa: E402

from demo.realtime_tools import WEATHER  # noqa: E402
from realtime_agents.models import ToolRun, TranscriptItem  # noqa: E402
from tests.browser.conftest import chromium_playing, espeak_wav  # noqa: E402
from tests.browser.driver import WidgetDriver  # noqa: E402
from tests.consumer_helpers import conversation_row  # noqa: E402
from tests.live_server import daphne_url  # noqa: E402
from tests.rows import close_db_threads  # noqa: E402,F401  (fixture)

QUESTION = "What is the weather in Paris?"
# The microphone opens when Start is pressed: the guest lets the greeting (about 7.6 s with piper) play to
# its end, then asks; the tail lets the voice activity detector hear the question end. (Speaking over an
# answer is tested with the offline model in tests/engine/offline and with the widget in test_widget_*.)
LEAD_SILENCE_S = 11.0
TAIL_SILENCE_S = 6.0
PARIS = WEATHER["paris"]
PCM16_24K_BYTES_PER_MS = 48


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The question spoken by espeak-ng, as the fake microphone plays it (48 kHz mono PCM16)."""
    folder = tmp_path_factory.mktemp("offline-microphone")
    return espeak_wav(QUESTION, folder, lead_s=LEAD_SILENCE_S, tail_s=TAIL_SILENCE_S)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def offline_chromium(question_wav: Path) -> AsyncIterator[Any]:
    """This module's own Chromium, whose every microphone asks the question once."""
    async with chromium_playing(question_wav) as browser:
        yield browser


def _is_local(address: Any) -> bool:
    """Whether a socket address stays on this machine (a Unix socket, loopback, `localhost`)."""
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # any other host name needs DNS and the network


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse, and list, every connection this process (Daphne's thread too) opens to another machine."""
    refused: list[str] = []

    def guarded(original: Callable[[socket.socket, Any], Any]) -> Callable[[socket.socket, Any], Any]:
        def attempt(sock: socket.socket, address: Any) -> Any:
            if not _is_local(address):
                refused.append(repr(address))
                raise OSError(101, f"no network in this test: {address!r}")
            return original(sock, address)
        return attempt

    # asyncio and Twisted both connect through these two methods.
    monkeypatch.setattr(socket.socket, "connect", guarded(socket.socket.connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(socket.socket.connect_ex))
    yield refused


@pytest_asyncio.fixture(loop_scope="module")
async def offline_engines(no_network: list[str]) -> OfflineEngines:
    """The offline models, loaded with the network refused before the page opens, as on a warm server."""
    from realtime_agents.engine.offline import shared_engines

    # Loading takes seconds of CPU: inside the call it would be timed as the answer's latency and
    # would starve Daphne's event loop meanwhile.
    engines = await asyncio.to_thread(shared_engines, "auto")
    if engines.synthesizer is None:  # "auto" falls back to espeak-ng, which requires_offline checks
        pytest.skip("no speech synthesis for the answer (pip install -r requirements-tts.txt or apt-get "
                    "install espeak-ng)")
    return engines


@pytest_asyncio.fixture(loop_scope="module")
async def demo_without_key(settings: Any) -> None:
    """The demo rows and no OpenAI key, as `make run` leaves them: the demo channel uses the offline model."""
    settings.REALTIME_AGENTS = {"OPENAI_API_KEY": "", "DEFAULT_TRANSPORT": "auto"}
    await sync_to_async(call_command)("realtime_agents_demo", stdout=io.StringIO())


@sync_to_async
def recorded(public_id: str) -> tuple[list[tuple[str, str]], list[tuple[str, dict[str, Any], str]]]:
    """The conversation's transcript (role, text) and tool runs (name, arguments, status), in order."""
    items = [(item.role, item.text) for item in
             TranscriptItem.objects.filter(conversation__public_id=public_id).order_by("sequence")]
    runs = [(run.tool_name, json.loads(run.arguments or "{}"), run.status) for run in
            ToolRun.objects.filter(conversation__public_id=public_id).order_by("pk")]
    return items, runs


def audio_ms(driver: WidgetDriver, item_id: str) -> float:
    """How long an item's audio is: the binary (24 kHz PCM16) frames the page got after its `audio.item`."""
    total, inside = 0, False
    for frame in driver.received:
        if isinstance(frame, str):
            data = json.loads(frame)
            if data.get("type") == "audio.item":
                inside = data.get("item_id") == item_id
        elif inside:
            total += len(frame)
    return total / PCM16_24K_BYTES_PER_MS


def played_ms(driver: WidgetDriver, item_id: str) -> int:
    """How far the page says it played an item (its `playback` reports), 0 when never."""
    return max((f["ms"] for f in driver.sent_json("playback") if f["item_id"] == item_id), default=0)


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("offline_engines", "demo_without_key")
async def test_the_demo_answers_a_spoken_question_in_the_browser_with_no_key_and_no_network(
    offline_chromium: Any, daphne: Any, no_network: list[str],
) -> None:
    base_url = daphne_url(daphne)
    context = await offline_chromium.new_context(viewport={"width": 480, "height": 760},
                                                 permissions=["microphone"])
    widget = await WidgetDriver.create(context, base_url)
    requests: list[str] = []
    widget.page.on("request", lambda request: requests.append(request.url))
    try:
        await widget.open("demo")
        await widget.start()
        await expect(widget.part(".agent")).to_have_text("Concierge")
        # Generous: Whisper decodes on the CPU (on 2 cores it hears the question a second after it ends).
        user = widget.messages("user")
        await expect(user).to_have_text([re.compile("paris", re.IGNORECASE)], timeout=60_000)
        await expect(widget.part(".tool")).to_have_text(["Used get_weather"], timeout=30_000)
        answer = widget.messages("assistant").last
        # The router speaks the tool's result; only the tool knows Paris' weather, so the words prove it ran.
        for fact in (PARIS["city"], PARIS["condition"], re.compile(rf"\b{PARIS['temperature_c']}\b")):
            await expect(answer).to_contain_text(fact, timeout=30_000)
        heard = next(f for f in widget.received_json("transcript.done") if f["role"] == "user")
        said = next(f for f in widget.received_json("transcript.done")
                    if f["role"] == "assistant" and PARIS["city"] in f["text"])
        # The answer's text is final once all its audio was sent: the page has every byte of it now.
        length = audio_ms(widget, said["item_id"])
        assert length > 2_000, f"the spoken answer is only {length:.0f} ms long"
        # Played to the end (positions are whole milliseconds) in real time, then the widget listens again.
        item = said["item_id"]
        with contextlib.suppress(TimeoutError):
            await widget.until(lambda: played_ms(widget, item) >= length - 1, timeout=length / 1000 + 15)
        assert played_ms(widget, item) >= length - 1, (
            f"the answer's playback stopped at {played_ms(widget, item)} of {length:.0f} ms")
        await widget.wait_state("listening")
        # The greeting was heard to its end before the question, so nothing of it was cut: a player reports
        # whole milliseconds of audio whose length rarely is whole, which must not read as an interruption
        # (it once did, and the model refused the truncation the session then sent).
        greeting = widget.received_json("audio.item")[0]["item_id"]
        assert greeting != item and played_ms(widget, greeting) >= audio_ms(widget, greeting) - 1
        await expect(widget.page.get_by_role("alert")).to_be_hidden()
        await widget.part(".end").click()
        await widget.wait_state("ended")
    finally:
        await widget.close()
    assert widget.errors == [], widget.errors
    assert widget.received_json("error") == []
    assert no_network == [], f"the server reached for the network: {no_network}"
    assert requests and all(url.startswith(base_url) for url in requests), requests
    row = await conversation_row(widget.received_json("ready")[0]["conversation_id"], timeout=10)
    items, runs = await recorded(str(row.public_id))
    assert ("user", heard["text"]) in items and ("assistant", said["text"]) in items, items
    assert runs == [("get_weather", {"city": PARIS["city"]}, "ok")]
    assert row.end_reason == "client_ended"
