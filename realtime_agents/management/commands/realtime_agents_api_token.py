"""Management command: create an API token for a user and print it once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...api.auth import REQUIRED_PERMISSION
from ...models import ApiToken


class Command(BaseCommand):
    """Create a bearer token for the read-only conversation API."""

    help = "Create an API token for USERNAME and print it once (only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        """USERNAME and an optional --name."""
        parser.add_argument(
            "username", help="The user the token acts as (must be active staff with view_conversation)."
        )
        parser.add_argument("--name", default="", help="What the token is for, shown in the admin.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Create the token and print it."""
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(options["username"])
        except user_model.DoesNotExist:
            raise CommandError(f"No user {options['username']!r}.") from None
        token, plain = ApiToken.issue(user=user, name=options["name"])
        self.stdout.write(plain)
        self.stderr.write(f"Created token {token.hint}… for {user}. It is shown only now: store it safely.")
        if not (user.is_active and user.is_staff and user.has_perm(REQUIRED_PERMISSION)):
            self.stderr.write(
                self.style.WARNING(
                    f"{user} is not active staff with {REQUIRED_PERMISSION}: the API will refuse this token."
                )
            )
