"""Test speech for the offline model (see `espeak`), and the mark that skips tests without the stack."""
from __future__ import annotations

import pytest

from .espeak import RATE, add_floor, chunks, clipped, missing_offline, silence, speak, white_noise

__all__ = ["RATE", "add_floor", "chunks", "clipped", "missing_offline", "requires_offline", "silence",
           "speak", "white_noise"]

_MISSING = missing_offline()
requires_offline = pytest.mark.skipif(
    bool(_MISSING),
    reason=f"offline voice stack not installed (missing: {', '.join(_MISSING)}); "
    "run scripts/install-offline.sh and apt-get install espeak-ng sox",
)
