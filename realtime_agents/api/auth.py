"""API authentication (staff session or bearer token) and authorisation (view_conversation)."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from ..models import ApiToken
from ..models.api_tokens import hash_token

logger = logging.getLogger("realtime_agents.api.auth")

REQUIRED_PERMISSION = "realtime_agents.view_conversation"
# last_used_at is for humans auditing tokens: minute precision is plenty and saves a write per request.
_LAST_USED_PRECISION = dt.timedelta(minutes=1)
_CHALLENGE = 'Bearer realm="realtime_agents"'

View = Callable[..., HttpResponse]


def error(status: int, message: str) -> JsonResponse:
    """A JSON error body {"error": message} with the given status."""
    response = JsonResponse({"error": message}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = _CHALLENGE
    return response


def _token_user(header: str) -> AbstractBaseUser | JsonResponse:
    """The active user behind an `Authorization: Bearer <token>` header, or a 401."""
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return error(401, "Unsupported Authorization header: use 'Authorization: Bearer <token>'.")
    token = (
        ApiToken.objects.active()
        .select_related("user")
        .filter(token_hash=hash_token(credential.strip()))
        .first()
    )
    if token is None or not token.user.is_active:
        return error(401, "Invalid or revoked API token.")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= _LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def authorise(request: HttpRequest) -> AbstractBaseUser | JsonResponse:
    """The staff user allowed to read conversations, or the 401/403 response to send instead."""
    header = request.headers.get("Authorization", "")
    user: AbstractBaseUser | AnonymousUser | JsonResponse
    user = _token_user(header) if header else request.user
    if isinstance(user, JsonResponse):
        return user
    if not user.is_authenticated:
        return error(401, "Authentication required: log in as staff or send 'Authorization: Bearer <token>'.")
    if not user.is_staff:
        return error(403, "Only staff may use this API.")
    if not user.has_perm(REQUIRED_PERMISSION):
        return error(403, f"Missing permission {REQUIRED_PERMISSION}.")
    return user


def api_view(view: View) -> View:
    """Wrap a read-only API view: GET/HEAD only, authenticated and authorised, JSON errors."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in {"GET", "HEAD"}:
            response = error(405, "This API is read-only: use GET.")
            response["Allow"] = "GET, HEAD"
            return response
        user = authorise(request)
        if isinstance(user, JsonResponse):
            logger.info("API request refused with %s: %s", user.status_code, request.path)
            return user
        request.user = user
        return view(request, *args, **kwargs)

    return wrapper
