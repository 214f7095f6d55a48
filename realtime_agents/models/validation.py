"""Field-level validators shared by the models and forms (names, schemas, regexes, secrets)."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

FUNCTION_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
SECRET_REFERENCE = re.compile(r"\{secret:([^{}]*)\}")
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Header names whose values are credentials: these must come from a {secret:NAME} reference.
SENSITIVE_HEADER = re.compile(r"(authorization|token|secret|key|cookie|password|signature)", re.IGNORECASE)
PATH_PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")


def nonblank_lines(text: str) -> list[str]:
    """The stripped, non-empty lines of a one-entry-per-line text field."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def validate_function_name(value: str) -> None:
    """A name the Realtime API accepts as a function name (and a Python identifier)."""
    if not FUNCTION_NAME.match(value or ""):
        raise ValidationError(
            "%(value)r is not a valid function name: use 1 to 64 letters, digits and underscores, "
            "starting with a letter or an underscore (for example get_weather).",
            code="invalid_function_name",
            params={"value": value},
        )


def validate_json_schema(schema: Any) -> None:
    """A JSON Schema (draft 2020-12) for an object of arguments."""
    if not isinstance(schema, dict):
        raise ValidationError(
            "The parameters must be a JSON object (a JSON Schema), not %(kind)s.",
            code="invalid_schema",
            params={"kind": type(schema).__name__},
        )
    if not schema:
        return
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path) or "the top level"
        raise ValidationError(
            "The parameters are not a valid JSON Schema (at %(where)s: %(message)s).",
            code="invalid_schema",
            params={"where": where, "message": exc.message},
        ) from exc
    if schema.get("type") != "object":
        raise ValidationError(
            'The parameters schema must describe an object: set "type": "object" with "properties".',
            code="invalid_schema",
        )


def validate_regex(pattern: str) -> None:
    """A Python regular expression that compiles."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValidationError(
            "The regular expression does not compile: %(message)s (at position %(pos)s).",
            code="invalid_regex",
            params={"message": exc.msg, "pos": exc.pos},
        ) from exc


def secret_references(value: str) -> list[str]:
    """The secret names referenced as {secret:NAME} in a header value."""
    return SECRET_REFERENCE.findall(value)


def validate_headers(headers: Any) -> None:
    """Header names → values; credentials only as {secret:NAME} references to known secrets."""
    from ..conf import secret_exists

    if not isinstance(headers, dict):
        raise ValidationError(
            'Headers must be a JSON object such as {"Accept": "application/json"}.', code="invalid_headers"
        )
    errors: list[ValidationError] = []
    for name, value in headers.items():
        if not HEADER_NAME.match(name):
            errors.append(
                ValidationError(
                    "%(name)r is not a valid header name.", code="invalid_headers", params={"name": name}
                )
            )
            continue
        if not isinstance(value, str):
            errors.append(
                ValidationError(
                    "The value of header %(name)r must be a string.",
                    code="invalid_headers",
                    params={"name": name},
                )
            )
            continue
        references = secret_references(value)
        for secret in references:
            if not SECRET_NAME.match(secret):
                errors.append(
                    ValidationError(
                        "Header %(name)r: %(secret)r is not a valid secret name (letters, digits, underscores).",
                        code="invalid_secret",
                        params={"name": name, "secret": secret},
                    )
                )
            elif not secret_exists(secret):
                errors.append(
                    ValidationError(
                        "Header %(name)r refers to the unknown secret %(secret)r: add it to "
                        'REALTIME_AGENTS["SECRETS"] or the environment.',
                        code="unknown_secret",
                        params={"name": name, "secret": secret},
                    )
                )
        if SENSITIVE_HEADER.search(name) and not references and value.strip():
            errors.append(
                ValidationError(
                    "Header %(name)r looks like a credential: do not paste it here, write {secret:NAME} and "
                    'put the value in REALTIME_AGENTS["SECRETS"] or the environment.',
                    code="plain_secret",
                    params={"name": name},
                )
            )
    if errors:
        raise ValidationError(errors)


def validate_origin(origin: str) -> None:
    """An allowed Origin: `*`, or scheme://host[:port] without a path."""
    if origin == "*":
        return
    if not re.match(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$", origin):
        raise ValidationError(
            "%(origin)r is not an origin: write scheme://host[:port] (for example https://example.com), "
            "one per line, or * for any.",
            code="invalid_origin",
            params={"origin": origin},
        )
