"""Agent and Handoff rows: what an agent says, and to whom it may transfer the caller."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models

from ..engine.handoffs import default_tool_name
from .validation import validate_function_name


def duplicate_names(names: Iterable[str]) -> list[str]:
    """Names that occur more than once, sorted."""
    return sorted(name for name, count in Counter(names).items() if count > 1)


class Agent(models.Model):
    """A voice agent: its instructions, voice, tools, guardrails and outgoing handoffs."""

    name = models.CharField(
        max_length=100, unique=True, help_text="Shown to staff and used for transfer tool names."
    )
    slug = models.SlugField(max_length=100, unique=True)
    instructions = models.TextField(
        blank=True, help_text="The system prompt: who the agent is and how it talks."
    )
    handoff_description = models.TextField(
        blank=True, help_text="Tells other agents when to transfer the caller to this one."
    )
    voice = models.CharField(
        max_length=50, blank=True, help_text="Optional voice, e.g. marin; empty: the channel's."
    )
    is_active = models.BooleanField(default=True)
    tools = models.ManyToManyField("realtime_agents.Tool", blank=True, related_name="agents")
    guardrails = models.ManyToManyField("realtime_agents.Guardrail", blank=True, related_name="agents")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse deactivating an agent that active agents or channels still lead to."""
        super().clean()
        if self.is_active or self.pk is None:
            return
        sources = sorted(
            Handoff.objects.filter(to_agent_id=self.pk, from_agent__is_active=True).values_list(
                "from_agent__name", flat=True
            )
        )
        if sources:
            raise ValidationError(
                {
                    "is_active": f"Active agents hand off to this agent ({', '.join(sources)}): remove those handoffs "
                    "before deactivating it."
                }
            )
        from .channels import Channel

        channels = sorted(
            Channel.objects.filter(starting_agent_id=self.pk, is_active=True).values_list("name", flat=True)
        )
        if channels:
            raise ValidationError(
                {
                    "is_active": f"Active channels start with this agent ({', '.join(channels)}): choose another "
                    "starting agent first."
                }
            )


class Handoff(models.Model):
    """A transfer from one agent to another, exposed to the model as a function tool."""

    from_agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="outgoing_handoffs")
    to_agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="incoming_handoffs")
    tool_name_override = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_function_name],
        help_text="Empty: transfer_to_<target agent name>.",
    )
    tool_description_override = models.TextField(
        blank=True, help_text="Empty: built from the target's description."
    )
    order = models.PositiveIntegerField(default=0)

    # The admin's inline formset checks names against the submitted tools instead of the saved ones.
    check_name_clash = True

    class Meta:
        ordering = ["from_agent_id", "order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["from_agent", "to_agent"], name="realtime_agents_handoff_unique_pair"
            ),
            models.CheckConstraint(
                condition=~models.Q(from_agent=models.F("to_agent")), name="realtime_agents_handoff_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_agent_id and self.from_agent} → {self.to_agent_id and self.to_agent}"

    def tool_name(self) -> str:
        """The transfer tool's name the model sees."""
        if self.tool_name_override:
            return self.tool_name_override
        return default_tool_name(self.to_agent.name) if self.to_agent_id else ""

    def clean(self) -> None:
        """Refuse self-handoffs, inactive targets, and tool names that clash on the source agent."""
        super().clean()
        if not (self.from_agent_id and self.to_agent_id):
            return
        if self.from_agent_id == self.to_agent_id:
            raise ValidationError(
                {"to_agent": "An agent cannot hand off to itself: choose another target agent."}
            )
        if not self.to_agent.is_active:
            raise ValidationError(
                {
                    "to_agent": f"Agent {self.to_agent.name!r} is inactive: activate it or choose another target."
                }
            )
        if not self.check_name_clash:
            return
        name = self.tool_name()
        taken = set(self.from_agent.tools.values_list("name", flat=True))
        taken.update(
            handoff.tool_name()
            for handoff in Handoff.objects.filter(from_agent_id=self.from_agent_id)
            .exclude(pk=self.pk)
            .select_related("to_agent")
        )
        if name in taken:
            raise ValidationError(
                {
                    "tool_name_override": f"The tool name {name!r} is already used by a tool or handoff of "
                    f"{self.from_agent.name!r}: set a different tool name override."
                }
            )
