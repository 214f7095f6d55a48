"""A base for test doubles that wrap the real recognizer and change one thing about it."""
from __future__ import annotations

from typing import Any


class RecognizerWrapper:
    """Passes everything to the real recognizer; subclasses override `transcribe`."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def transcribe(self, pcm16_16k: bytes, **hints: Any) -> Any:
        """The real recognizer's reading."""
        return self.real.transcribe(pcm16_16k, **hints)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)  # window_padding_s and the rest, as the real recognizer has them
