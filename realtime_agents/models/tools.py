"""Tool and Guardrail rows: what agents may call, and what they must never say or hear."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from ..registry import registry
from .validation import (
    PATH_PLACEHOLDER,
    nonblank_lines,
    validate_function_name,
    validate_headers,
    validate_json_schema,
    validate_regex,
)


class Tool(models.Model):
    """A function the model may call: a registered Python function or an HTTP endpoint."""

    class Kind(models.TextChoices):
        PYTHON = "python", "Python function"
        HTTP = "http", "HTTP request"

    class Method(models.TextChoices):
        GET = "GET"
        POST = "POST"
        PUT = "PUT"
        PATCH = "PATCH"
        DELETE = "DELETE"

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[validate_function_name],
        help_text="The function name the model sees, e.g. get_weather.",
    )
    description = models.TextField(
        blank=True,
        help_text="Tells the model when to call it. Empty for Python tools: the function's docstring.",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PYTHON)
    python_function = models.CharField(
        max_length=64,
        blank=True,
        help_text="The name the function was registered under with @realtime_agents.tool.",
    )
    http_url = models.URLField(
        max_length=500, blank=True, help_text="{argument} placeholders are filled from the call's arguments."
    )
    http_method = models.CharField(max_length=10, choices=Method.choices, default=Method.GET)
    http_headers = models.JSONField(
        default=dict,
        blank=True,
        help_text='Header name → value. Reference secrets by name: {"Authorization": "Bearer {secret:WEATHER_API_KEY}"}.',
    )
    parameters_schema = models.JSONField(
        default=dict,
        blank=True,
        help_text="HTTP tools: a JSON Schema (draft 2020-12) object describing the arguments.",
    )
    max_response_bytes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Empty: the site default."
    )
    needs_approval = models.BooleanField(
        default=False, help_text="A person must approve each call before it runs."
    )
    starts_response = models.BooleanField(
        null=True,
        blank=True,
        help_text="Whether the tool's output makes the agent speak. Unknown: the function's setting (Python) or yes.",
    )
    timeout_seconds = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1), MaxValueValidator(600)],
        help_text="Empty: the function's own timeout (Python) or the site default (HTTP).",
    )
    enabled = models.BooleanField(default=True, help_text="Disabled tools are left out of every agent.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Check the fields the chosen kind needs, the schema, the headers and the URL."""
        super().clean()
        errors: dict[str, list[str] | ValidationError] = {}
        if self.kind == self.Kind.PYTHON:
            if not self.python_function:
                errors["python_function"] = ["Choose the registered Python function this tool calls."]
            elif registry.get_tool(self.python_function) is None:
                known = ", ".join(registry.tool_names()) or "none are registered"
                errors["python_function"] = [
                    f"No Python tool is registered as {self.python_function!r} (registered: {known}). "
                    "Decorate the function with @realtime_agents.tool in a realtime_tools module of an installed app."
                ]
        elif self.kind == self.Kind.HTTP:
            errors.update(self._http_errors())
        if errors:
            raise ValidationError(errors)

    def _http_errors(self) -> dict[str, list[str] | ValidationError]:
        errors: dict[str, list[str] | ValidationError] = {}
        if not self.http_url:
            errors["http_url"] = ["Enter the URL this tool requests."]
        else:
            parts = urlsplit(self.http_url)
            if parts.scheme not in ("http", "https"):
                errors["http_url"] = ["The URL must start with http:// or https://."]
            elif "{" in (parts.netloc or ""):
                errors["http_url"] = ["Placeholders are only allowed in the path, not in the host."]
        try:
            validate_json_schema(self.parameters_schema)
        except ValidationError as exc:
            errors["parameters_schema"] = exc
        else:
            properties = (self.parameters_schema or {}).get("properties", {})
            missing = [p for p in PATH_PLACEHOLDER.findall(self.http_url or "") if p not in properties]
            if missing and "http_url" not in errors:
                errors["http_url"] = [
                    f"The URL uses {{{missing[0]}}} but the parameters schema has no property {missing[0]!r}."
                ]
        try:
            validate_headers(self.http_headers)
        except ValidationError as exc:
            errors["http_headers"] = exc
        return errors


class Guardrail(models.Model):
    """A check on what the agent says (output) and/or what the caller says (input)."""

    class Kind(models.TextChoices):
        BLOCKED_PHRASES = "blocked_phrases", "Blocked phrases"
        REGEX = "regex", "Regular expression"
        PYTHON = "python", "Python check"

    name = models.CharField(max_length=100, unique=True)
    applies_to_output = models.BooleanField(default=True, help_text="Check what the agent says.")
    applies_to_input = models.BooleanField(default=False, help_text="Check what the caller says.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.BLOCKED_PHRASES)
    blocked_phrases = models.TextField(blank=True, help_text="One phrase per line, matched ignoring case.")
    pattern = models.TextField(blank=True, help_text="A Python regular expression; add (?i) to ignore case.")
    python_check = models.CharField(
        max_length=64, blank=True, help_text="The name registered with @realtime_agents.guardrail_check."
    )
    message = models.TextField(blank=True, help_text="What the agent says instead when the guardrail trips.")
    debounce_text_length = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Output guardrails run every N characters of transcript. Empty: the site default.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def phrases(self) -> list[str]:
        """The blocked phrases, one per non-empty line."""
        return nonblank_lines(self.blocked_phrases)

    def clean(self) -> None:
        """Check direction, and the field the chosen kind needs."""
        super().clean()
        errors: dict[str, list[str] | ValidationError] = {}
        if not (self.applies_to_output or self.applies_to_input):
            errors["applies_to_output"] = ["Check the output, the input, or both."]
        if self.kind == self.Kind.BLOCKED_PHRASES and not self.phrases():
            errors["blocked_phrases"] = ["Enter at least one phrase, one per line."]
        elif self.kind == self.Kind.REGEX:
            if not self.pattern:
                errors["pattern"] = ["Enter the regular expression to look for."]
            else:
                try:
                    validate_regex(self.pattern)
                except ValidationError as exc:
                    errors["pattern"] = exc
        elif self.kind == self.Kind.PYTHON:
            if not self.python_check:
                errors["python_check"] = ["Choose the registered Python check."]
            elif registry.get_check(self.python_check) is None:
                known = ", ".join(registry.check_names()) or "none are registered"
                errors["python_check"] = [
                    f"No guardrail check is registered as {self.python_check!r} (registered: {known})."
                ]
        if errors:
            raise ValidationError(errors)
