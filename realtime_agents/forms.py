"""Admin forms: registered-name choices and checks that span an agent, its tools and handoffs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.models import BaseInlineFormSet

from .engine.handoffs import default_tool_name
from .models import Agent, Channel, Guardrail, Handoff, Tool
from .models.agents import duplicate_names
from .registry import registry


def _choices(names: list[str], current: str) -> list[tuple[str, str]]:
    choices = [("", "---------")] + [(name, name) for name in names]
    # Keep an unregistered current value visible, so the page shows it and clean() explains it.
    if current and current not in names:
        choices.append((current, f"{current} (not registered)"))
    return choices


def https_formfield(field: models.Field[Any, Any], **kwargs: Any) -> forms.Field | None:
    """A model field's form field; URLs without a scheme are taken as https (Django 6's default)."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


def _offer_registered(form: forms.ModelForm, field: str, names: list[str]) -> None:
    """Offer the registered names (plus the row's current value, even if unregistered) as choices."""
    current = form.data.get(form.add_prefix(field), "") if form.is_bound else getattr(form.instance, field)
    form.fields[field].choices = _choices(names, current or "")
    form.fields[field].help_text = form._meta.model._meta.get_field(field).help_text


class ToolForm(forms.ModelForm):
    """A Tool with the registered Python tool names offered as choices."""

    python_function = forms.ChoiceField(
        required=False,
        choices=(),
        error_messages={
            "invalid_choice": "%(value)s is not a registered Python tool: decorate the function with "
            "@realtime_agents.tool in a realtime_tools module of an installed app.",
        },
    )

    class Meta:
        model = Tool
        fields = "__all__"
        formfield_callback = https_formfield

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_registered(self, "python_function", registry.tool_names())


class GuardrailForm(forms.ModelForm):
    """A Guardrail with the registered Python checks offered as choices."""

    python_check = forms.ChoiceField(
        required=False,
        choices=(),
        error_messages={
            "invalid_choice": "%(value)s is not a registered guardrail check: decorate the function with "
            "@realtime_agents.guardrail_check in a realtime_tools module of an installed app.",
        },
    )

    class Meta:
        model = Guardrail
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_registered(self, "python_check", registry.check_names())


class AgentForm(forms.ModelForm):
    """An Agent; refuses tools whose names clash with its existing handoffs' tool names."""

    # The admin checks tools against the submitted handoffs in HandoffInlineFormSet instead.
    check_saved_handoffs = True

    class Meta:
        model = Agent
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        """Reject duplicate tool names across the chosen tools and the saved handoffs."""
        cleaned = super().clean()
        tools = cleaned.get("tools")
        if self.check_saved_handoffs and tools is not None and self.instance.pk:
            handoffs = Handoff.objects.filter(from_agent_id=self.instance.pk).select_related("to_agent")
            names = [tool.name for tool in tools] + [handoff.tool_name() for handoff in handoffs]
            clashes = duplicate_names(names)
            if clashes:
                raise ValidationError(
                    "Two tools of this agent would have the same name (%(names)s): rename a tool or set a "
                    "handoff's tool name override.",
                    code="duplicate_tool_name",
                    params={"names": ", ".join(clashes)},
                )
        return cleaned


class AdminAgentForm(AgentForm):
    """The admin's Agent form: handoffs are checked by the inline formset with the tools."""

    check_saved_handoffs = False


class HandoffInlineForm(forms.ModelForm):
    """One handoff row in the agent's admin page."""

    class Meta:
        model = Handoff
        fields = ["to_agent", "tool_name_override", "tool_description_override", "order"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.check_name_clash = False
        if "to_agent" in self.fields:
            self.fields["to_agent"].queryset = Agent.objects.order_by("-is_active", "name")


class HandoffInlineFormSet(BaseInlineFormSet):
    """Handoff inlines: no self-handoff, no duplicate target, no tool name used twice."""

    def _submitted_tool_names(self) -> list[str]:
        if self.is_bound and "tools" in self.data:
            ids = [value for value in self.data.getlist("tools") if str(value).isdigit()]
            return list(Tool.objects.filter(pk__in=ids).values_list("name", flat=True))
        if self.instance.pk:
            return list(self.instance.tools.values_list("name", flat=True))
        return []

    def clean(self) -> None:
        """Check the submitted handoffs together with the submitted tools."""
        super().clean()
        names: list[str] = self._submitted_tool_names()
        targets: list[int] = []
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            target = form.cleaned_data.get("to_agent")
            if target is None:
                continue
            if self.instance.pk and target.pk == self.instance.pk:
                form.add_error("to_agent", "An agent cannot hand off to itself: choose another target agent.")
                continue
            if target.pk in targets:
                form.add_error("to_agent", f"There is already a handoff to {target.name!r}.")
                continue
            targets.append(target.pk)
            names.append(form.cleaned_data.get("tool_name_override") or default_tool_name(target.name))
        clashes = duplicate_names(names)
        if clashes:
            raise ValidationError(
                "Two tools of this agent would have the same name (%(names)s): rename a tool or set a "
                "handoff's tool name override.",
                code="duplicate_tool_name",
                params={"names": ", ".join(clashes)},
            )


class ChannelForm(forms.ModelForm):
    """A Channel; the starting agent list shows active agents first."""

    class Meta:
        model = Channel
        fields = "__all__"
        widgets = {"allowed_origins": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("starting_agent")
        if field is not None:
            field.queryset = Agent.objects.order_by("-is_active", "name")
