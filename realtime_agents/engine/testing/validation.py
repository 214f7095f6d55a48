"""Check events against the official ``openai`` package's typed Realtime models (a dev dependency)."""
from __future__ import annotations

import importlib
import typing
from dataclasses import dataclass
from typing import Any, Literal

# The SDK types session.created/updated with the *request* model, which lacks the fields the server
# adds to its own session objects; these are documented server output, not client mistakes.
_ALLOWED_EXTRAS = frozenset({"session.id", "session.object", "session.expires_at"})
_MAX_DETAIL = 600
# Building a TypeAdapter costs milliseconds; share them across servers in the process.
_ADAPTERS: dict[type, Any] = {}


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """An event that did not match the official typed models."""

    direction: Literal["sent", "received"]
    event_type: str
    detail: str
    connection_id: str


def _load_realtime_types() -> Any:
    try:
        return importlib.import_module("openai.types.realtime")
    except ImportError as exc:
        raise ImportError(
            "FakeRealtimeServer(validate=True) needs the 'openai' package (a dev dependency); "
            "install it with `pip install openai` or pass validate=False"
        ) from exc


def _models_by_type(union: Any) -> dict[str, type]:
    members = typing.get_args(union)
    # The SDK wraps its unions in Annotated[Union[...], PropertyInfo(...)].
    if members and typing.get_origin(members[0]) is typing.Union:
        members = typing.get_args(members[0])
    by_type: dict[str, type] = {}
    for model in members:
        field = model.model_fields.get("type")
        if field is None:
            continue
        for literal in typing.get_args(field.annotation):
            by_type[literal] = model
    return by_type


def _unexpected_fields(value: Any, path: str, base_model: type) -> list[str]:
    found: list[str] = []
    if isinstance(value, base_model):
        for key in value.model_extra or {}:
            child = f"{path}.{key}" if path else key
            if child not in _ALLOWED_EXTRAS:
                found.append(child)
        for name in type(value).model_fields:
            child = f"{path}.{name}" if path else name
            found.extend(_unexpected_fields(getattr(value, name), child, base_model))
    elif isinstance(value, list):
        for index, element in enumerate(value):
            found.extend(_unexpected_fields(element, f"{path}[{index}]", base_model))
    return found


class EventValidator:
    """Validate server and client event dicts; fields the models do not declare count as errors."""

    def __init__(self) -> None:
        realtime = _load_realtime_types()
        pydantic = importlib.import_module("pydantic")
        self._type_adapter = pydantic.TypeAdapter
        self._validation_error = pydantic.ValidationError
        self._base_model = pydantic.BaseModel
        self._server_models = _models_by_type(realtime.RealtimeServerEvent)
        self._client_models = _models_by_type(realtime.RealtimeClientEvent)

    def _check(self, event: Any, models: dict[str, type], side: str) -> str | None:
        if not isinstance(event, dict):
            return f"{side} event is not a JSON object"
        model = models.get(event.get("type"))  # type: ignore[arg-type]
        if model is None:
            return f"{event.get('type')!r} is not a {side} event type in the openai package"
        adapter = _ADAPTERS.get(model)
        if adapter is None:
            adapter = _ADAPTERS[model] = self._type_adapter(model)
        try:
            parsed = adapter.validate_python(event)
        except self._validation_error as exc:
            return str(exc)[:_MAX_DETAIL]
        extras = _unexpected_fields(parsed, "", self._base_model)
        if extras:
            return f"fields not in {model.__name__}: {', '.join(extras)}"
        return None

    def check_server_event(self, event: Any) -> str | None:
        """Return why a server event is invalid, or None."""
        return self._check(event, self._server_models, "server")

    def check_client_event(self, event: Any) -> str | None:
        """Return why a client event is invalid, or None."""
        return self._check(event, self._client_models, "client")
