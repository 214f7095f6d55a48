"""The app's settings: one `REALTIME_AGENTS` dict merged over documented defaults."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "REALTIME_AGENTS"
TRANSPORTS = ("openai", "azure", "offline", "auto")

# Every key is documented in docs/configuration.md; keep the two in step.
DEFAULTS: dict[str, Any] = {
    "OPENAI_API_KEY": "",
    "OPENAI_REALTIME_URL": "wss://api.openai.com/v1/realtime",
    "AZURE_OPENAI_API_KEY": "",
    "AZURE_OPENAI_REALTIME_URL": "",
    "DEFAULT_TRANSPORT": "auto",
    "DEFAULT_MODEL": "gpt-realtime",
    "SECRETS": {},
    "HTTP_TOOLS_ALLOW_PRIVATE_NETWORKS": False,
    "HTTP_TOOL_MAX_RESPONSE_BYTES": 256 * 1024,
    "HTTP_TOOL_DEFAULT_TIMEOUT": 10.0,
    "MAX_SESSIONS_PER_IP": 5,
    "MAX_SESSIONS_PER_CHANNEL": 100,
    "MAX_SESSION_SECONDS": 30 * 60,
    "ALLOW_MISSING_ORIGIN": False,
    "OFFLINE_CHAT_URL": "",
    "OFFLINE_CHAT_MODEL": "local",
    "OFFLINE_CHAT_API_KEY": "",
    "OFFLINE_TTS": "auto",
    "GUARDRAIL_DEBOUNCE_TEXT_LENGTH": 100,
    "IP_HASH_SECRET": "",
    "TRY_IT_URL": "",
    "TOOL_MODULE_NAME": "realtime_tools",
    # Telephony (docs/telephony.md).
    "TWILIO_AUTH_TOKEN": "",
    "TWILIO_PUBLIC_BASE_URL": "",
    "TWILIO_CHUNK_MS": 40,
    "TWILIO_MAX_GAP_MS": 1000,
    "OPENAI_WEBHOOK_SECRET": "",
    "OPENAI_WEBHOOK_TOLERANCE_SECONDS": 300,
    "OPENAI_CALLS_BASE_URL": "https://api.openai.com/v1",
    "AZURE_OPENAI_CALLS_BASE_URL": "",
    "OPENAI_CALLS_TIMEOUT": 10.0,
    "SIP_NUMBER_HEADER": "",
    "SIP_DEFAULT_COUNTRY_CODE": "",
    "SIP_REJECT_STATUS_CODE": 603,
    "WEBHOOK_DEDUPE_SECONDS": 3 * 24 * 3600,
}

OFFLINE_TTS_CHOICES = ("auto", "piper", "espeak", "none")

# The type each key must have; a bool is not accepted where a number is expected.
_TYPES: dict[str, tuple[type, ...]] = {
    "OPENAI_API_KEY": (str,),
    "OPENAI_REALTIME_URL": (str,),
    "AZURE_OPENAI_API_KEY": (str,),
    "AZURE_OPENAI_REALTIME_URL": (str,),
    "DEFAULT_TRANSPORT": (str,),
    "DEFAULT_MODEL": (str,),
    "SECRETS": (dict,),
    "HTTP_TOOLS_ALLOW_PRIVATE_NETWORKS": (bool,),
    "HTTP_TOOL_MAX_RESPONSE_BYTES": (int,),
    "HTTP_TOOL_DEFAULT_TIMEOUT": (int, float),
    "MAX_SESSIONS_PER_IP": (int,),
    "MAX_SESSIONS_PER_CHANNEL": (int,),
    "MAX_SESSION_SECONDS": (int,),
    "ALLOW_MISSING_ORIGIN": (bool,),
    "OFFLINE_CHAT_URL": (str,),
    "OFFLINE_CHAT_MODEL": (str,),
    "OFFLINE_CHAT_API_KEY": (str,),
    "OFFLINE_TTS": (str,),
    "GUARDRAIL_DEBOUNCE_TEXT_LENGTH": (int,),
    "IP_HASH_SECRET": (str,),
    "TRY_IT_URL": (str,),
    "TOOL_MODULE_NAME": (str,),
    "TWILIO_AUTH_TOKEN": (str,),
    "TWILIO_PUBLIC_BASE_URL": (str,),
    "TWILIO_CHUNK_MS": (int,),
    "TWILIO_MAX_GAP_MS": (int,),
    "OPENAI_WEBHOOK_SECRET": (str,),
    "OPENAI_WEBHOOK_TOLERANCE_SECONDS": (int,),
    "OPENAI_CALLS_BASE_URL": (str,),
    "AZURE_OPENAI_CALLS_BASE_URL": (str,),
    "OPENAI_CALLS_TIMEOUT": (int, float),
    "SIP_NUMBER_HEADER": (str,),
    "SIP_DEFAULT_COUNTRY_CODE": (str,),
    "SIP_REJECT_STATUS_CODE": (int,),
    "WEBHOOK_DEDUPE_SECONDS": (int,),
}
_POSITIVE = (
    "HTTP_TOOL_MAX_RESPONSE_BYTES",
    "HTTP_TOOL_DEFAULT_TIMEOUT",
    "MAX_SESSIONS_PER_IP",
    "MAX_SESSIONS_PER_CHANNEL",
    "MAX_SESSION_SECONDS",
    "GUARDRAIL_DEBOUNCE_TEXT_LENGTH",
    "TWILIO_CHUNK_MS",
    "TWILIO_MAX_GAP_MS",
    "OPENAI_WEBHOOK_TOLERANCE_SECONDS",
    "OPENAI_CALLS_TIMEOUT",
    "SIP_REJECT_STATUS_CODE",
    "WEBHOOK_DEDUPE_SECONDS",
)


class AppSettings:
    """Attribute access to the merged settings, cached until `setting_changed` says otherwise."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    def _merged(self) -> dict[str, Any]:
        if self._cache is None:
            user = getattr(django_settings, SETTING_NAME, None) or {}
            merged = dict(DEFAULTS)
            merged.update({key: value for key, value in user.items() if key in DEFAULTS})
            self._cache = merged
        return self._cache

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"{SETTING_NAME} has no setting {name!r}")
        return self._merged()[name]

    def as_dict(self) -> dict[str, Any]:
        """A copy of every merged setting."""
        return dict(self._merged())

    def reload(self) -> None:
        """Forget the cache; the next access reads Django settings again."""
        self._cache = None

    @property
    def ip_hash_secret(self) -> str:
        """The key for hashing client addresses: IP_HASH_SECRET, else Django's SECRET_KEY."""
        return self.IP_HASH_SECRET or str(django_settings.SECRET_KEY)

    def resolve_transport(self, channel_transport: str) -> str:
        """The concrete transport ("openai", "azure", "offline") for a channel's choice."""
        choice = self.DEFAULT_TRANSPORT if channel_transport in ("", "default") else channel_transport
        if choice == "auto":
            if self.OPENAI_API_KEY:
                return "openai"
            if self.AZURE_OPENAI_API_KEY and self.AZURE_OPENAI_REALTIME_URL:
                return "azure"
            return "offline"
        return choice


app_settings = AppSettings()


def user_settings() -> dict[str, Any]:
    """The raw `REALTIME_AGENTS` dict as written in Django settings."""
    value = getattr(django_settings, SETTING_NAME, None)
    return value if isinstance(value, dict) else {}


def unknown_keys() -> list[str]:
    """Keys in `REALTIME_AGENTS` that the app does not know (typos, removed settings)."""
    return sorted(key for key in user_settings() if key not in DEFAULTS)


def invalid_values() -> list[str]:
    """A sentence per setting whose value has the wrong type or range."""
    problems: list[str] = []
    raw = getattr(django_settings, SETTING_NAME, None)
    if raw is not None and not isinstance(raw, dict):
        return [f"{SETTING_NAME} must be a dict, not {type(raw).__name__}"]
    for key, value in user_settings().items():
        expected = _TYPES.get(key)
        if expected is None:
            continue
        if isinstance(value, bool) and bool not in expected or not isinstance(value, expected):
            names = " or ".join(kind.__name__ for kind in expected)
            problems.append(f"{SETTING_NAME}[{key!r}] must be {names}, not {type(value).__name__}")
            continue
        if key in _POSITIVE and value <= 0:
            problems.append(f"{SETTING_NAME}[{key!r}] must be positive, got {value!r}")
        if key == "DEFAULT_TRANSPORT" and value not in TRANSPORTS:
            problems.append(
                f"{SETTING_NAME}['DEFAULT_TRANSPORT'] must be one of {', '.join(TRANSPORTS)}, not {value!r}"
            )
        if key == "OFFLINE_TTS" and value not in OFFLINE_TTS_CHOICES:
            problems.append(
                f"{SETTING_NAME}['OFFLINE_TTS'] must be one of {', '.join(OFFLINE_TTS_CHOICES)}, not {value!r}"
            )
        if key == "SECRETS" and not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            problems.append(f"{SETTING_NAME}['SECRETS'] must map names to strings")
    return problems


def secret_exists(name: str) -> bool:
    """Whether a secret of that name is configured (SECRETS setting or environment)."""
    return name in app_settings.SECRETS or name in os.environ


def resolve_secret(name: str) -> str | None:
    """A secret's value from `REALTIME_AGENTS["SECRETS"]`, else the environment, else None."""
    secrets = app_settings.SECRETS
    if name in secrets:
        return str(secrets[name])
    return os.environ.get(name)


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING_NAME, "SECRET_KEY"):
        app_settings.reload()
