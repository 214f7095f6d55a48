"""`POST /realtime/sip/webhook/`: OpenAI's `realtime.call.incoming`, verified, deduped, answered in a task."""

from __future__ import annotations

import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..conf import app_settings
from .dedupe import CacheDeduplicator
from .signatures import WebhookSignatureError, verify_standard_webhook
from .sip_answer import PayloadError, answer_call, parse_incoming_call
from .sip_registry import RegistryFull, calls

__all__ = ["sip_webhook"]

logger = logging.getLogger("realtime_agents.telephony.sip")


def deduplicator() -> CacheDeduplicator:
    """The dedupe store: Django's default cache (shared by every worker when it is Redis)."""
    return CacheDeduplicator(ttl_s=int(app_settings.WEBHOOK_DEDUPE_SECONDS))


def _answer(http_status: int, /, **body: str) -> JsonResponse:
    return JsonResponse(body, status=http_status)


@csrf_exempt
@require_POST
async def sip_webhook(request: HttpRequest) -> JsonResponse:
    """Verify a delivery, then answer 200 at once while the call is accepted or rejected in the background."""
    if not isinstance(request, ASGIRequest):
        # A call lives on after the response: only an ASGI server's event loop can hold it.
        logger.error("the SIP webhook needs an ASGI server (Daphne, Uvicorn); this request came through WSGI")
        return _answer(503, error="asgi_required")
    try:
        body = request.body
    except RequestDataTooBig:
        return _answer(413, error="too_large")
    try:
        webhook_id = verify_standard_webhook(
            secret=str(app_settings.OPENAI_WEBHOOK_SECRET),
            headers=request.headers,
            body=body,
            tolerance_s=int(app_settings.OPENAI_WEBHOOK_TOLERANCE_SECONDS),
        )
    except WebhookSignatureError as exc:
        if exc.reason == "bad_config":
            logger.error("SIP webhook refused: %s (set OPENAI_WEBHOOK_SECRET)", exc)
        else:
            logger.warning("SIP webhook refused: %s", exc.reason)
        return _answer(400, error=exc.reason)
    try:
        call = parse_incoming_call(json.loads(body))
    except (ValueError, RecursionError) as exc:
        # PayloadError is a ValueError, as is invalid JSON or UTF-8.
        reason = str(exc) if isinstance(exc, PayloadError) else "the body is not JSON"
        logger.warning("SIP webhook %s: bad payload: %s", webhook_id, reason)
        return _answer(400, error="bad_payload", detail=reason)
    if call is None:
        return _answer(200, status="ignored")
    dedupe = deduplicator()
    if not await dedupe.aclaim(webhook_id):
        logger.info("SIP webhook %s for call %s delivered again; ignored", webhook_id, call.call_id)
        return _answer(200, status="duplicate")
    try:
        task = calls.start(call.call_id, answer_call(call))
    except RegistryFull as exc:
        await dedupe.arelease(webhook_id)
        logger.error("call %s refused: %s", call.call_id, exc)
        return _answer(503, error="busy")
    if task is None:
        return _answer(200, status="duplicate")
    logger.info("call %s ringing (webhook %s)", call.call_id, webhook_id)
    return _answer(200, status="processing")
