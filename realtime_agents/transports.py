"""Which model transport a browser session uses, and its connection settings, from the site settings."""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from typing import Any

from .conf import app_settings
from .engine.model import Model
from .engine.openai_realtime import OpenAIRealtimeModel
from .specs import LoadedChannel

logger = logging.getLogger("realtime_agents.transports")

OFFLINE_RUNTIMES = ("faster_whisper", "onnxruntime", "silero_vad")

# The browser hop is always PCM16 24 kHz; a channel's G.711 choice is for telephony.
BROWSER_AUDIO_FORMAT = "pcm16"


class TransportUnavailable(Exception):
    """No model transport can serve the channel now; the message is safe to show (no secrets)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class TransportChoice:
    """The transport's name, a fresh model object, and the engine's `model_config` mapping."""

    name: str
    model: Model
    model_config: dict[str, Any]


def browser_model_settings(loaded: LoadedChannel) -> dict[str, Any]:
    """The channel's model settings with both audio formats forced to PCM16 for the browser."""
    settings = dict(loaded.model_settings)
    for key in ("input_audio_format", "output_audio_format"):
        if settings.get(key, BROWSER_AUDIO_FORMAT) != BROWSER_AUDIO_FORMAT:
            logger.debug(
                "channel %s: %s %s replaced by pcm16 for the browser", loaded.slug, key, settings[key]
            )
        settings[key] = BROWSER_AUDIO_FORMAT
    return settings


def choose_transport(loaded: LoadedChannel, *, playback_tracker: Any = None) -> TransportChoice:
    """OpenAI (bearer key) or Azure (`api-key` header) from settings; TransportUnavailable otherwise."""
    # The key is passed explicitly and the environment is not consulted: settings are the one source.
    if loaded.transport == "openai":
        key = str(app_settings.OPENAI_API_KEY or "")
        if not key:
            raise TransportUnavailable("the OpenAI transport is not configured (no API key)")
        config: dict[str, Any] = {"api_key": key, "url": str(app_settings.OPENAI_REALTIME_URL)}
    elif loaded.transport == "azure":
        key = str(app_settings.AZURE_OPENAI_API_KEY or "")
        url = str(app_settings.AZURE_OPENAI_REALTIME_URL or "")
        if not key or not url:
            raise TransportUnavailable(
                "the Azure OpenAI transport is not configured (API key and URL needed)"
            )
        config = {"headers": {"api-key": key}, "url": url}
    elif loaded.transport == "offline":
        return _offline_choice(playback_tracker)
    else:
        raise TransportUnavailable(f"unknown transport {loaded.transport[:40]!r}")
    if playback_tracker is not None:
        config["playback_tracker"] = playback_tracker
    return TransportChoice(name=loaded.transport, model=OpenAIRealtimeModel(environ={}), model_config=config)


def _offline_choice(playback_tracker: Any) -> TransportChoice:
    """The local voice model: no network, no key; a chat-completions URL makes it smarter."""
    try:
        from .engine.offline import OfflineModel

        # The package imports its runtimes lazily: check they are there now, not at the first spoken word
        # (find_spec, not import: silero_vad's own __init__ wants torch, which we do not use).
        missing = [name for name in OFFLINE_RUNTIMES if not _installed(name)]
        if missing:
            raise ImportError(f"missing {', '.join(missing)}")
    except ImportError as exc:
        # The extra is optional: say how to get it rather than failing with a traceback.
        raise TransportUnavailable("the offline voice model is not installed (run scripts/install-offline.sh)") from exc
    model = OfflineModel(
        chat_url=str(app_settings.OFFLINE_CHAT_URL) or None,
        chat_model=str(app_settings.OFFLINE_CHAT_MODEL),
        chat_api_key=str(app_settings.OFFLINE_CHAT_API_KEY) or None,
        tts=app_settings.OFFLINE_TTS,
    )
    config: dict[str, Any] = {}
    if playback_tracker is not None:
        config["playback_tracker"] = playback_tracker
    return TransportChoice(name="offline", model=model, model_config=config)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # a None placeholder in sys.modules: treated as not installed
        return False
