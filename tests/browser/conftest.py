"""Browser test fixtures: Debian's Chromium through Playwright, a fake microphone, the live server."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from realtime_agents.engine.testing import FakeRealtimeServer
from tests.consumer_helpers import fake_openai_upstream
from tests.live_server import daphne_url, settle_daphne

if TYPE_CHECKING:  # the driver imports playwright, which the test modules skip without
    from tests.browser.driver import WidgetDriver

# What the fake microphone says, after two seconds of silence (a greeting can play first) and before four.
SPOKEN = "What time do you open tomorrow?"
LEAD_SILENCE_S = 2.0
TAIL_SILENCE_S = 4.0


def chromium_path() -> str | None:
    """Debian's chromium (`CHROMIUM` overrides); never a browser Playwright downloads."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium")


def espeak_wav(text: str, folder: Path, *, lead_s: float = LEAD_SILENCE_S,
               tail_s: float = TAIL_SILENCE_S) -> Path:
    """`text` spoken by espeak-ng (en-us, 160 wpm) padded with silence: 48 kHz mono PCM16 WAV in `folder`."""
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (apt-get install -y espeak-ng sox)")
    spoken, wav = folder / "spoken.wav", folder / "microphone.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(spoken), text],
                   check=True, timeout=30, capture_output=True)
    convert = ["sox", str(spoken), "-r", "48000", "-c", "1", "-b", "16", "-e", "signed-integer", str(wav),
               "pad", str(lead_s), str(tail_s)]
    subprocess.run(convert, check=True, timeout=30, capture_output=True)
    return wav


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake microphone's input: espeak-ng speech padded with silence, 48 kHz mono PCM16 WAV."""
    return espeak_wav(SPOKEN, tmp_path_factory.mktemp("microphone"))


@asynccontextmanager
async def chromium_playing(wav: Path) -> AsyncIterator[Any]:
    """Headless Debian Chromium whose every microphone plays `wav` once; skips without it or playwright."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium not installed (apt-get install -y chromium chromium-driver; .ci/run does)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -r requirements-dev.txt)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
                "--autoplay-policy=no-user-gesture-required",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}%noloop",
            ],
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium(speech_wav: Path) -> AsyncIterator[Any]:
    """One headless Chromium per module whose every microphone plays `speech_wav` once."""
    async with chromium_playing(speech_wav) as browser:
        yield browser


@pytest_asyncio.fixture(loop_scope="module")
async def upstream(settings: Any) -> AsyncIterator[FakeRealtimeServer]:
    """The scripted model: a validating fake Realtime server, configured as the site's OpenAI endpoint."""
    async with fake_openai_upstream(settings) as fake:
        yield fake


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def settle(daphne: Any) -> AsyncIterator[None]:
    """After each test (its page closed), let Daphne finish its sessions."""
    yield
    await settle_daphne(daphne)


async def _driver(chromium: Any, daphne: Any, **context: Any) -> WidgetDriver:
    from tests.browser.driver import WidgetDriver

    # Twice the pixels, so the screenshots in the README are sharp.
    browser_context = await chromium.new_context(
        viewport={"width": 480, "height": 760}, device_scale_factor=2, **context
    )
    return await WidgetDriver.create(browser_context, daphne_url(daphne))


@pytest_asyncio.fixture(loop_scope="module")
async def widget(chromium: Any, daphne: Any, upstream: FakeRealtimeServer) -> AsyncIterator[WidgetDriver]:
    """A fresh page whose microphone is allowed."""
    driver = await _driver(chromium, daphne, permissions=["microphone"])
    yield driver
    await driver.close()
    assert driver.errors == [], driver.errors


@pytest_asyncio.fixture(loop_scope="module")
async def widget_without_microphone(chromium: Any, daphne: Any, upstream: FakeRealtimeServer
                                    ) -> AsyncIterator[WidgetDriver]:
    """A fresh page where the microphone permission is denied."""
    driver = await _driver(chromium, daphne)
    yield driver
    await driver.close()
    assert driver.errors == [], driver.errors
