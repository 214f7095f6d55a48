"""The page the browser tests load: the widget tag on a plain page, optionally under a strict CSP."""

from __future__ import annotations

import secrets

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

PAGE = engines["django"].from_string(
    """{% load realtime_agents %}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Widget test page</title>
<style nonce="{{ nonce }}">
  body { margin: 0; padding: 28px 20px; background: #eef0f6; font-family: system-ui, sans-serif; }
  main { display: flex; justify-content: center; }
</style>
</head>
<body>
<main>{% realtime_agent_widget slug mode=mode url=url nonce=nonce %}</main>
</body>
</html>"""
)


def widget_page(request: HttpRequest, slug: str) -> HttpResponse:
    """`?mode=` and `?url=` go to the tag; `?csp=1` serves the page under a nonce-based CSP."""
    strict = request.GET.get("csp") == "1"
    nonce = secrets.token_urlsafe(16) if strict else ""
    context = {
        "slug": slug, "mode": request.GET.get("mode", ""), "url": request.GET.get("url", ""), "nonce": nonce,
    }
    response = HttpResponse(PAGE.render(context, request))
    if strict:
        response["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'nonce-{nonce}' 'strict-dynamic'; "
            f"style-src 'self' 'nonce-{nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'"
        )
    return response


urlpatterns = [path("widget/<slug:slug>/", widget_page, name="widget_test_page")]
