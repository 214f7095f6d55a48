"""Load the demo channel, agents, tools and guardrail (idempotently) and create or show an admin login."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from realtime_agents.models import Agent, Channel, Guardrail, Handoff, Tool

CONCIERGE_INSTRUCTIONS = (
    "You are the concierge of a small hotel, speaking with a guest on the phone. Be warm and brief: "
    "one or two sentences at a time. You can tell the time, look up the weather, and book restaurant "
    "tables (a person approves each booking). For questions about bills, payments or refunds, "
    "transfer the guest to billing."
)
BILLING_INSTRUCTIONS = (
    "You are the hotel's billing assistant. Explain charges, payment options and refunds in plain words. "
    "Never ask for or repeat a full card number. When the guest's question is not about billing, "
    "transfer them back to the concierge."
)
TOOLS = [
    {"name": "current_time", "python_function": "current_time", "needs_approval": False},
    {"name": "get_weather", "python_function": "get_weather", "needs_approval": False},
    {"name": "book_table", "python_function": "book_table", "needs_approval": True},
]
CARD_NUMBER_PATTERN = r"\b(?:\d[ -]?){13,19}\b"


class Command(BaseCommand):
    """`manage.py realtime_agents_demo`: safe to run again; it updates the demo rows in place."""

    help = (
        "Create or update the demo channel, agents, tools and guardrail, and create or show an admin login."
    )

    @transaction.atomic
    def _load(self) -> Channel:
        tools = [
            Tool.objects.update_or_create(
                name=spec["name"],
                defaults={
                    "kind": Tool.Kind.PYTHON,
                    "python_function": spec["python_function"],
                    "needs_approval": spec["needs_approval"],
                    "enabled": True,
                },
            )[0]
            for spec in TOOLS
        ]
        guardrail, _ = Guardrail.objects.update_or_create(
            name="No card numbers",
            defaults={
                "kind": Guardrail.Kind.REGEX,
                "pattern": CARD_NUMBER_PATTERN,
                "applies_to_output": True,
                "applies_to_input": False,
                "enabled": True,
                "message": "I'm sorry, I can't read out card numbers. Is there anything else I can help with?",
            },
        )
        concierge, _ = Agent.objects.update_or_create(
            slug="concierge",
            defaults={
                "name": "Concierge",
                "instructions": CONCIERGE_INSTRUCTIONS,
                "is_active": True,
                "handoff_description": "General questions, weather, the time and restaurant bookings.",
            },
        )
        billing, _ = Agent.objects.update_or_create(
            slug="billing",
            defaults={
                "name": "Billing",
                "instructions": BILLING_INSTRUCTIONS,
                "is_active": True,
                "handoff_description": "Bills, payments and refunds.",
            },
        )
        concierge.tools.set(tools)
        concierge.guardrails.set([guardrail])
        billing.guardrails.set([guardrail])
        Handoff.objects.update_or_create(from_agent=concierge, to_agent=billing, defaults={"order": 0})
        Handoff.objects.update_or_create(from_agent=billing, to_agent=concierge, defaults={"order": 0})
        channel, _ = Channel.objects.update_or_create(
            slug="demo",
            defaults={
                "name": "Demo",
                "kind": Channel.Kind.WEB,
                "starting_agent": concierge,
                "is_active": True,
                "greeting": "Greet the guest and ask how you can help.",
                "turn_detection": Channel.TurnDetection.SEMANTIC_VAD,
                "vad_interrupt_response": True,
                "transcription_model": "gpt-4o-mini-transcribe",
            },
        )
        channel.full_clean()
        return channel

    def _admin_login(self) -> None:
        user_model = get_user_model()
        wanted = os.environ.get("DEMO_ADMIN_PASSWORD", "")
        user = user_model.objects.filter(username="admin").first()
        if user is None:
            password = wanted or secrets.token_urlsafe(12)
            user_model.objects.create_superuser("admin", "admin@example.com", password)
            self.stdout.write(self.style.SUCCESS("Created the admin login:"))
            self.stdout.write(f"  user: admin\n  password: {password}")
            if not wanted:
                self.stdout.write(
                    "  (generated once and not stored in clear: note it now, "
                    "or set DEMO_ADMIN_PASSWORD and run this command again)"
                )
        elif wanted:
            user.set_password(wanted)
            user.save(update_fields=["password"])
            self.stdout.write("Admin login: user admin, password from DEMO_ADMIN_PASSWORD.")
        else:
            self.stdout.write(
                "Admin login: user admin (password as printed when it was created; "
                "set DEMO_ADMIN_PASSWORD and run this command again to change it)."
            )

    def handle(self, *args: Any, **options: Any) -> None:
        """Load the demo rows, then create or show the admin login."""
        channel = self._load()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo channel {channel.slug!r} ready: concierge (time, weather, table booking) ⇄ billing."
            )
        )
        self._admin_login()
