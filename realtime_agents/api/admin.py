"""Django admin for API tokens: create one (shown once), see when it was last used, revoke it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from ..models import ApiToken
from ..models.api_tokens import HINT_LENGTH, TOKEN_PREFIX, hash_token, new_plain_token


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created here or with `manage.py realtime_agents_api_token`; never shown again."""

    list_display = ["hint", "name", "user", "created_at", "last_used_at", "active"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["name", "hint", "user__username"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        """User and name when creating; the history too afterwards."""
        if obj is None:
            return ["user", "name"]
        return ["user", "name", "hint", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        """Only the name can change after creation."""
        if obj is None:
            return []
        return ["user", "hint", "created_at", "last_used_at", "revoked_at"]

    @admin.display(boolean=True, description="active")
    def active(self, obj: ApiToken) -> bool:
        """Not revoked."""
        return obj.is_active

    def save_model(self, request: HttpRequest, obj: ApiToken, form: ModelForm, change: bool) -> None:
        """On creation, generate the token and show it to the creator once."""
        if not change:
            plain = new_plain_token()
            obj.token_hash = hash_token(plain)
            obj.hint = plain[: len(TOKEN_PREFIX) + HINT_LENGTH]
            super().save_model(request, obj, form, change)
            self.message_user(
                request,
                f"New API token for {obj.user}: {plain} — copy it now, it will not be shown again.",
                messages.WARNING,
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        """Stop the selected tokens from authenticating."""
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            token.revoke()
            count += 1
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        """Revoke only for those who may change tokens."""
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            actions.pop("revoke", None)
        return actions
