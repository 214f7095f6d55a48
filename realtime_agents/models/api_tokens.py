"""Per-user API tokens for the read-only JSON API: only a hash of each token is stored."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

# Prefix makes a leaked token easy to recognise (e.g. by secret scanners) and to tell apart from
# other credentials; the random part carries 256 bits, so a fast hash is safe to store.
TOKEN_PREFIX = "ra_"
_RANDOM_BYTES = 32
# Shown in the admin so staff can tell tokens apart without ever seeing one again.
HINT_LENGTH = 8


def hash_token(token: str) -> str:
    """The stored SHA-256 hex digest of a plain token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_plain_token() -> str:
    """A fresh random token, as given to its holder."""
    return TOKEN_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    """Queries over API tokens."""

    def active(self) -> ApiTokenQuerySet:
        """Tokens that have not been revoked."""
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A revocable bearer token that lets its user read the API with that user's permissions."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="realtime_api_tokens"
    )
    name = models.CharField(
        max_length=100, blank=True, help_text="What the token is for, e.g. 'nightly report'."
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(
        max_length=HINT_LENGTH + len(TOKEN_PREFIX),
        editable=False,
        help_text="The token's first characters, to recognise it.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.hint}… ({self.name or 'unnamed'})"

    @property
    def is_active(self) -> bool:
        """Whether the token still authenticates."""
        return self.revoked_at is None

    @classmethod
    def issue(cls, *, user: models.Model, name: str = "") -> tuple[ApiToken, str]:
        """Create a token for `user`; returns the row and the plain token, which is never stored."""
        plain = new_plain_token()
        token = cls.objects.create(
            user=user, name=name, token_hash=hash_token(plain), hint=plain[: len(TOKEN_PREFIX) + HINT_LENGTH]
        )
        return token, plain

    def revoke(self) -> None:
        """Stop the token from authenticating (the row stays for the audit trail)."""
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
