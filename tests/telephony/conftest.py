"""Fixtures for telephony tests: real speech as 8 kHz μ-law, made with espeak-ng and sox."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SPEECH_TEXT = "Hello, thank you for calling. How can I help you today?"


def _speech(tmp: Path, text: str, name: str) -> bytes:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (apt-get install -y espeak-ng sox)")
    wav = tmp / f"{name}.wav"
    raw = tmp / f"{name}.ulaw"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "170", "-w", str(wav), text],
        check=True,
        timeout=30,
        capture_output=True,
    )
    subprocess.run(
        ["sox", str(wav), "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", str(raw)],
        check=True,
        timeout=30,
        capture_output=True,
    )
    return raw.read_bytes()


@pytest.fixture(scope="session")
def speech_ulaw(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A few seconds of spoken English as raw 8 kHz mono μ-law bytes."""
    audio = _speech(tmp_path_factory.mktemp("speech"), SPEECH_TEXT, "agent")
    assert len(audio) > 8000, "espeak-ng produced less than a second of speech"
    return audio
