"""The offline voice model: a model transport with no network (Silero VAD, Whisper, a brain, piper/espeak).

Importing this package sets `OMP_WAIT_POLICY=PASSIVE` (unless already set) before any native
library loads; the models themselves load on the first `connect` (or `OfflineEngines.load()`).
"""
from __future__ import annotations

from .assets import MissingAssetError, limit_threads

limit_threads()

from .brain import Brain, BrainContext, BrainError, BrainReply, ChatCompletionsBrain, FunctionCall  # noqa: E402
from .engines import OfflineEngines, shared_engines  # noqa: E402
from .model import OfflineModel  # noqa: E402
from .router import Router  # noqa: E402

__all__ = [
    "Brain", "BrainContext", "BrainError", "BrainReply", "ChatCompletionsBrain", "FunctionCall",
    "MissingAssetError", "OfflineEngines", "OfflineModel", "Router", "limit_threads", "shared_engines",
]
