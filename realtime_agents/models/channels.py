"""Channel rows: where an agent is reachable, and the model settings of its sessions."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .validation import nonblank_lines, validate_origin

AUDIO_FORMATS = [("pcm16", "PCM16 24 kHz"), ("g711_ulaw", "G.711 µ-law"), ("g711_alaw", "G.711 A-law")]
_SERVER_VAD_ONLY = (
    "vad_threshold",
    "vad_prefix_padding_ms",
    "vad_silence_duration_ms",
    "vad_idle_timeout_ms",
)
_VAD_FIELDS = (*_SERVER_VAD_ONLY, "vad_eagerness", "vad_interrupt_response", "vad_create_response")


NO_TRANSCRIPTION = "none"
E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def _e164_errors(numbers: list[str]) -> list[str]:
    return [f"{number!r} is not an E.164 number (+ and 8 to 15 digits)." for number in numbers
            if not E164.fullmatch(number)]


class Channel(models.Model):
    """An entry point (web widget, Twilio, SIP) with its starting agent and session settings."""

    class Kind(models.TextChoices):
        WEB = "web", "Web widget"
        TWILIO = "twilio", "Twilio"
        SIP = "sip", "SIP"

    class Transport(models.TextChoices):
        DEFAULT = "default", "Site default"
        OPENAI = "openai", "OpenAI"
        AZURE = "azure", "Azure OpenAI"
        OFFLINE = "offline", "Offline (local)"

    class TurnDetection(models.TextChoices):
        MODEL_DEFAULT = "", "Model default"
        NONE = "none", "Off (push to talk)"
        SERVER_VAD = "server_vad", "Server VAD"
        SEMANTIC_VAD = "semantic_vad", "Semantic VAD"

    class Eagerness(models.TextChoices):
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"
        AUTO = "auto"

    class NoiseReduction(models.TextChoices):
        MODEL_DEFAULT = "", "Model default"
        NONE = "none", "Off"
        NEAR_FIELD = "near_field", "Near field (headset)"
        FAR_FIELD = "far_field", "Far field (laptop, room)"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True, help_text="Used in the widget and WebSocket URL.")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WEB)
    starting_agent = models.ForeignKey(
        "realtime_agents.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="starting_channels",
        help_text="The agent that answers first.",
    )
    is_active = models.BooleanField(default=True)
    transport = models.CharField(max_length=10, choices=Transport.choices, default=Transport.DEFAULT)

    model_name = models.CharField(max_length=100, blank=True, help_text="Empty: the site's DEFAULT_MODEL.")
    voice = models.CharField(
        max_length=50, blank=True, help_text="e.g. marin or cedar; empty: the model's default."
    )
    output_modalities = models.CharField(
        max_length=10, blank=True, choices=[("audio", "Audio (with transcript)"), ("text", "Text only")]
    )
    input_audio_format = models.CharField(max_length=10, blank=True, choices=AUDIO_FORMATS)
    output_audio_format = models.CharField(max_length=10, blank=True, choices=AUDIO_FORMATS)
    transcription_model = models.CharField(
        max_length=100,
        blank=True,
        help_text="e.g. gpt-4o-mini-transcribe; empty: the model's default (gpt-4o-mini-transcribe); "
        "none: no caller transcript.",
    )
    transcription_language = models.CharField(max_length=10, blank=True, help_text="ISO-639-1, e.g. en.")
    transcription_prompt = models.TextField(blank=True)
    turn_detection = models.CharField(max_length=20, blank=True, choices=TurnDetection.choices)
    vad_threshold = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Server VAD: 0–1.",
    )
    vad_prefix_padding_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Server VAD.")
    vad_silence_duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Server VAD.")
    vad_idle_timeout_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Server VAD.")
    vad_eagerness = models.CharField(
        max_length=10, blank=True, choices=Eagerness.choices, help_text="Semantic VAD."
    )
    vad_interrupt_response = models.BooleanField(
        null=True, blank=True, help_text="Caller speech interrupts the agent."
    )
    vad_create_response = models.BooleanField(
        null=True, blank=True, help_text="The agent answers when the caller stops."
    )
    noise_reduction = models.CharField(max_length=20, blank=True, choices=NoiseReduction.choices)
    speed = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.25), MaxValueValidator(1.5)],
        help_text="0.25–1.5.",
    )

    greeting = models.TextField(blank=True, help_text="If set, the agent speaks first, along these lines.")
    allowed_origins = models.TextField(
        blank=True,
        help_text="Web widget: one origin per line (https://example.com), * for any; empty: same site only.",
    )
    phone_numbers = models.TextField(
        blank=True,
        help_text="Twilio and SIP: the numbers that reach this channel, one per line in E.164 form (+15551234567).",
    )
    transfer_numbers = models.TextField(
        blank=True,
        help_text="Twilio and SIP: numbers the agent may transfer a call to, one per line in E.164 form; "
        "empty: no transfer tool.",
    )
    max_session_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Empty: the site default."
    )
    max_concurrent_sessions = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Empty: the site default."
    )
    show_tool_arguments = models.BooleanField(
        default=False, help_text="Show the caller the arguments of tool calls (e.g. in approval prompts)."
    )
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Delete conversations after N days; empty: keep.",
    )
    redact_personal_data = models.BooleanField(
        default=False,
        help_text="Replace e-mail addresses, phone numbers and card numbers in recorded text before it is stored.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def origins(self) -> list[str]:
        """The allowed origins, one per non-empty line."""
        return nonblank_lines(self.allowed_origins)

    def numbers(self) -> list[str]:
        """The phone numbers, one per non-empty line."""
        return nonblank_lines(self.phone_numbers)

    def transfer_targets(self) -> list[str]:
        """The numbers the agent may transfer a call to, one per non-empty line."""
        return nonblank_lines(self.transfer_numbers)

    def clean(self) -> None:
        """Require an active starting agent, valid origins and numbers, and VAD options that fit the VAD type."""
        super().clean()
        errors: dict[str, list[str]] = {}
        if self.starting_agent_id is None:
            errors["starting_agent"] = [
                "Choose the agent that answers first: a channel needs a starting agent."
            ]
        elif not self.starting_agent.is_active:
            errors["starting_agent"] = [
                f"Agent {self.starting_agent.name!r} is inactive: activate it or choose another."
            ]
        for origin in self.origins():
            try:
                validate_origin(origin)
            except ValidationError as exc:
                errors.setdefault("allowed_origins", []).extend(exc.messages)
        number_errors = self._phone_number_errors()
        if number_errors:
            errors["phone_numbers"] = number_errors
        transfer_errors = _e164_errors(self.transfer_targets())
        if self.transfer_targets() and self.kind == self.Kind.WEB:
            transfer_errors = ["Transfers apply to Twilio and SIP channels only."]
        if transfer_errors:
            errors["transfer_numbers"] = transfer_errors
        kind = self.turn_detection
        for field in _VAD_FIELDS:
            value = getattr(self, field)
            if value is None or value == "":
                continue
            label = self._meta.get_field(field).verbose_name
            if kind in ("", "none"):
                errors.setdefault(field, []).append(f"Set a turn detection type to use {label}.")
            elif kind == "semantic_vad" and field in _SERVER_VAD_ONLY:
                errors.setdefault(field, []).append(f"{label.capitalize()} only applies to server VAD.")
            elif kind == "server_vad" and field == "vad_eagerness":
                errors.setdefault(field, []).append("Eagerness only applies to semantic VAD.")
        if self.transcription_model in ("", NO_TRANSCRIPTION) and (
            self.transcription_language or self.transcription_prompt
        ):
            errors.setdefault("transcription_model", []).append(
                "Choose a transcription model to use the transcription language or prompt."
            )
        if errors:
            raise ValidationError(errors)

    def _phone_number_errors(self) -> list[str]:
        numbers = self.numbers()
        if numbers and self.kind == self.Kind.WEB:
            return ["Phone numbers apply to Twilio and SIP channels only."]
        errors = _e164_errors(numbers)
        if errors:
            return errors
        if len(set(numbers)) != len(numbers):
            return ["A number is listed twice."]
        taken = [
            f"{number} already reaches channel {other.name!r}."
            for other in Channel.objects.exclude(pk=self.pk).exclude(phone_numbers="")
            for number in other.numbers()
            if number in numbers
        ]
        return taken

    def engine_model_settings(self, *, default_model: str = "") -> dict[str, Any]:
        """The engine's model-settings dict (seed spelling), holding only what is set."""
        settings: dict[str, Any] = {}
        if self.model_name or default_model:
            settings["model_name"] = self.model_name or default_model
        if self.voice:
            settings["voice"] = self.voice
        if self.output_modalities:
            settings["output_modalities"] = [self.output_modalities]
        if self.input_audio_format:
            settings["input_audio_format"] = self.input_audio_format
        if self.output_audio_format:
            settings["output_audio_format"] = self.output_audio_format
        if self.transcription_model == NO_TRANSCRIPTION:
            settings["input_audio_transcription"] = None  # explicitly off, not the engine's default
        elif self.transcription_model:
            transcription = {"model": self.transcription_model}
            if self.transcription_language:
                transcription["language"] = self.transcription_language
            if self.transcription_prompt:
                transcription["prompt"] = self.transcription_prompt
            settings["input_audio_transcription"] = transcription
        if self.turn_detection == "none":
            settings["turn_detection"] = None
        elif self.turn_detection:
            detection: dict[str, Any] = {"type": self.turn_detection}
            for field in _VAD_FIELDS:
                value = getattr(self, field)
                if value is not None and value != "":
                    detection[field.removeprefix("vad_")] = value
            settings["turn_detection"] = detection
        if self.noise_reduction == "none":
            settings["input_audio_noise_reduction"] = None
        elif self.noise_reduction:
            settings["input_audio_noise_reduction"] = {"type": self.noise_reduction}
        if self.speed is not None:
            settings["speed"] = self.speed
        return settings
