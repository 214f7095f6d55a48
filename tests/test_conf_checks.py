"""Settings merged over defaults (refreshed by override_settings) and the system checks."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from realtime_agents.checks import check_rows, check_settings
from realtime_agents.conf import (
    DEFAULTS,
    app_settings,
    invalid_values,
    resolve_secret,
    secret_exists,
    unknown_keys,
)
from tests import rows

ROOT = pathlib.Path(__file__).resolve().parents[1]


def ids(messages: list) -> list[str]:
    return sorted(message.id for message in messages)


def test_defaults_apply_and_override_settings_refreshes_the_cache() -> None:
    assert app_settings.HTTP_TOOL_MAX_RESPONSE_BYTES == DEFAULTS["HTTP_TOOL_MAX_RESPONSE_BYTES"]
    with override_settings(REALTIME_AGENTS={"HTTP_TOOL_MAX_RESPONSE_BYTES": 10, "DEFAULT_MODEL": "m"}):
        assert app_settings.HTTP_TOOL_MAX_RESPONSE_BYTES == 10
        assert app_settings.DEFAULT_MODEL == "m"
        assert app_settings.MAX_SESSION_SECONDS == DEFAULTS["MAX_SESSION_SECONDS"]
    assert app_settings.HTTP_TOOL_MAX_RESPONSE_BYTES == DEFAULTS["HTTP_TOOL_MAX_RESPONSE_BYTES"]
    with pytest.raises(AttributeError, match="no setting 'NOPE'"):
        app_settings.NOPE  # noqa: B018


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    missing = [key for key in DEFAULTS if f"`{key}`" not in doc]
    assert missing == []
    for check_id in ["E001", "E002", "E003", "E004", "E005", "E006", "W001", "W002"]:
        assert f"realtime_agents.{check_id}" in doc


def test_transport_resolution() -> None:
    with override_settings(REALTIME_AGENTS={"DEFAULT_TRANSPORT": "auto"}):
        assert app_settings.resolve_transport("default") == "offline"
        assert app_settings.resolve_transport("azure") == "azure"
    with override_settings(REALTIME_AGENTS={"DEFAULT_TRANSPORT": "auto", "OPENAI_API_KEY": "sk-x"}):
        assert app_settings.resolve_transport("default") == "openai"
    with override_settings(REALTIME_AGENTS={"DEFAULT_TRANSPORT": "openai"}):
        assert app_settings.resolve_transport("") == "openai"


def test_ip_hash_secret_falls_back_to_secret_key() -> None:
    with override_settings(SECRET_KEY="sk-django", REALTIME_AGENTS={}):
        assert app_settings.ip_hash_secret == "sk-django"
    with override_settings(REALTIME_AGENTS={"IP_HASH_SECRET": "pepper"}):
        assert app_settings.ip_hash_secret == "pepper"


def test_secrets_come_from_settings_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RA_TEST_ENV_SECRET", "from-env")
    with override_settings(REALTIME_AGENTS={"SECRETS": {"RA_TEST_ENV_SECRET": "from-settings", "ONLY": "x"}}):
        assert resolve_secret("RA_TEST_ENV_SECRET") == "from-settings"
        assert secret_exists("ONLY")
    assert resolve_secret("RA_TEST_ENV_SECRET") == "from-env"
    assert resolve_secret("RA_TEST_NOT_SET_ANYWHERE") is None
    assert not secret_exists("RA_TEST_NOT_SET_ANYWHERE")


def test_unknown_keys_warn() -> None:
    with override_settings(REALTIME_AGENTS={"OPENAI_KEY": "typo"}):
        assert unknown_keys() == ["OPENAI_KEY"]
        messages = check_settings()
    assert "realtime_agents.W001" in ids(messages)
    assert any("'OPENAI_KEY'" in message.msg for message in messages)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"DEFAULT_TRANSPORT": "carrier-pigeon"}, "must be one of"),
        ({"HTTP_TOOL_DEFAULT_TIMEOUT": 0}, "positive"),
        ({"HTTP_TOOLS_ALLOW_PRIVATE_NETWORKS": "yes"}, "must be bool"),
        ({"MAX_SESSIONS_PER_IP": True}, "must be int"),
        ({"SECRETS": {"A": 1}}, "map names to strings"),
    ],
)
def test_invalid_values_are_errors(value: dict, fragment: str) -> None:
    with override_settings(REALTIME_AGENTS=value):
        assert any(fragment in problem for problem in invalid_values())
        assert "realtime_agents.E005" in ids(check_settings())


def test_missing_asgi_application_and_in_memory_layer_in_production() -> None:
    layers = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with override_settings(ASGI_APPLICATION=None, CHANNEL_LAYERS=layers, DEBUG=False):
        assert ids(check_settings()) == ["realtime_agents.E001", "realtime_agents.W002"]
    with override_settings(ASGI_APPLICATION="x.asgi.application", CHANNEL_LAYERS=layers, DEBUG=True):
        assert ids(check_settings()) == []


@pytest.mark.django_db
def test_rows_referring_to_unregistered_names_are_errors() -> None:
    rows.python_tool("fine", "toolapp_echo")
    rows.python_tool("ghost", "no_such_function")
    rows.phrases_guardrail("ok")
    from realtime_agents.models import Guardrail

    Guardrail.objects.create(name="haunted", kind="python", python_check="no_such_check")
    messages = check_rows()
    assert ids(messages) == ["realtime_agents.E004", "realtime_agents.E006"]
    assert "'ghost'" in messages[0].msg and "'no_such_function'" in messages[0].msg


@pytest.mark.django_db
def test_api_keys_are_required_only_by_active_channels_that_need_them() -> None:
    agent = rows.agent("a")
    with override_settings(REALTIME_AGENTS={"DEFAULT_TRANSPORT": "auto"}):
        rows.channel("auto", agent)
        assert ids(check_rows()) == []
    rows.channel("openai", agent, transport="openai")
    rows.channel("azure", agent, transport="azure")
    rows.channel("idle", agent, transport="openai", is_active=False)
    messages = check_rows()
    assert ids(messages) == ["realtime_agents.E002", "realtime_agents.E003"]
    assert "openai" in messages[0].msg and "idle" not in messages[0].msg
    keys = {"OPENAI_API_KEY": "sk-x", "AZURE_OPENAI_API_KEY": "az", "AZURE_OPENAI_REALTIME_URL": "wss://az"}
    with override_settings(REALTIME_AGENTS=keys):
        assert ids(check_rows()) == []


@pytest.mark.django_db
def test_checks_are_registered_with_django() -> None:
    rows.python_tool("ghost", "no_such_function")
    assert "realtime_agents.E004" in ids(run_checks())


def test_checks_survive_missing_tables(tmp_path: pathlib.Path) -> None:
    # A fresh database file that was never migrated: the row checks must stay quiet, not crash.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    env.pop("REDIS_URL", None)  # the in-memory layer gives a known warning to look for
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "realtime_agents.W002" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
