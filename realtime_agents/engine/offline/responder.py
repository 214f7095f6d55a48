"""One offline response: ask the brain, then stream message and function-call items as GA events."""
from __future__ import annotations

import asyncio
import base64
import copy
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..audio import alaw_encode, from_ga_format, ulaw_encode
from .brain import Brain, BrainContext, BrainError, BrainReply
from .state import new_id
from .tts import OUTPUT_RATE, resample, split_sentences

if TYPE_CHECKING:
    from .tts import Synthesizer

logger = logging.getLogger("realtime_agents.engine.offline.responder")

Send = Callable[[dict[str, Any]], Awaitable[None]]
CHUNK_MS = 200


def encode_output(pcm24: bytes, fmt: dict[str, Any]) -> tuple[bytes, int]:
    """24 kHz PCM16 in the session's output format; returns (bytes, bytes per millisecond)."""
    kind = from_ga_format(fmt)
    if kind == "pcm16":
        return pcm24, 48
    narrow = resample(pcm24, OUTPUT_RATE, 8000)
    return (ulaw_encode(narrow) if kind == "g711_ulaw" else alaw_encode(narrow)), 8


def tokens(text: str) -> int:
    """A rough token count (4 characters a token) for usage."""
    return math.ceil(len(text) / 4)


class OfflineResponse:
    """A response in flight; `cancel(reason)` ends it early with status cancelled."""

    def __init__(self, *, params: dict[str, Any], session: dict[str, Any], context: BrainContext, brain: Brain,
                 fallback: Brain | None, synthesizer: Synthesizer | None, send: Send,
                 add_item: Callable[[dict[str, Any]], str | None], audio_ms: dict[str, float],
                 max_audio_lead_s: float) -> None:
        self.id = new_id("resp")
        self.params = params
        self.modalities = list(params.get("output_modalities") or session["output_modalities"])
        self.output_format = copy.deepcopy(session["audio"]["output"]["format"])
        self.voice = session["audio"]["output"].get("voice")
        self.metadata = params.get("metadata")
        self.context = context
        self._brain, self._fallback, self._synth = brain, fallback, synthesizer
        self._send, self._add_item, self._audio_ms = send, add_item, audio_ms
        self._lead = max_audio_lead_s
        self.cancel_reason: str | None = None
        self._wake = asyncio.Event()
        self.output: list[dict[str, Any]] = []
        self._text_out = ""
        self._audio_out_ms = 0.0
        self._failure = ""

    def cancel(self, reason: str) -> None:
        """Stop after the current chunk; the response ends cancelled with this reason."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self._wake.set()

    def _response(self, status: str) -> dict[str, Any]:
        details: dict[str, Any] | None = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": self.cancel_reason}
        elif status == "failed":
            details = {"type": "failed", "error": {"type": "server_error", "code": "offline_model_error",
                                                   "message": self._failure}}
        done = status != "in_progress"
        return {"id": self.id, "object": "realtime.response", "status": status, "status_details": details,
                "output": copy.deepcopy(self.output) if done else [], "conversation_id": None,
                "output_modalities": self.modalities, "max_output_tokens": self.params.get("max_output_tokens", "inf"),
                "audio": {"output": {"format": self.output_format, "voice": self.voice}},
                "usage": self._usage() if done else None, "metadata": self.metadata}

    def _usage(self) -> dict[str, Any]:
        text_in = tokens(self.context.instructions) + sum(
            tokens(str(part.get("text") or part.get("transcript") or ""))
            for item in self.context.items for part in item.get("content") or () if isinstance(part, dict))
        audio_out, text_out = int(self._audio_out_ms // 50), tokens(self._text_out)
        return {"total_tokens": text_in + audio_out + text_out, "input_tokens": text_in,
                "output_tokens": audio_out + text_out,
                "input_token_details": {"text_tokens": text_in, "audio_tokens": 0, "image_tokens": 0,
                                        "cached_tokens": 0, "cached_tokens_details": {
                                            "text_tokens": 0, "audio_tokens": 0, "image_tokens": 0}},
                "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out}}

    async def run(self) -> None:
        """Emit the whole response, ending with response.done whatever happens."""
        status = "completed"
        await self._send({"type": "response.created", "response": self._response("in_progress")})
        try:
            reply = await self._think()
            if reply.text.strip() and self.cancel_reason is None:
                await self._message(reply.text.strip())
            for call in reply.calls:
                if self.cancel_reason is not None:
                    break
                await self._function_call(call.name, call.arguments)
        except asyncio.CancelledError:
            self.cancel(self.cancel_reason or "client_cancelled")
            raise
        except Exception as exc:  # noqa: BLE001 - a failing brain or synthesiser must still end the response
            logger.warning("offline response %s failed: %s", self.id, type(exc).__name__, exc_info=exc)
            status, self._failure = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            if self.cancel_reason is not None and status != "failed":
                status = "cancelled"
            if not asyncio.current_task().cancelling():  # type: ignore[union-attr]
                await self._send({"type": "response.done", "response": self._response(status)})

    async def _think(self) -> BrainReply:
        try:
            return await self._brain.reply(self.context)
        except BrainError as exc:
            if self._fallback is None:
                raise
            # The configured endpoint is down: keep the conversation going with the router.
            logger.warning("brain failed (%s); using the router for this response", exc)
            return await self._fallback.reply(self.context)

    async def _add(self, item: dict[str, Any], index: int) -> str | None:
        previous = self._add_item(item)
        await self._send({"type": "response.output_item.added", "response_id": self.id, "output_index": index,
                          "item": copy.deepcopy(item)})
        await self._send({"type": "conversation.item.added", "previous_item_id": previous,
                          "item": copy.deepcopy(item)})
        return previous

    async def _finish(self, item: dict[str, Any], index: int, previous: str | None) -> None:
        self.output.append(item)
        await self._send({"type": "response.output_item.done", "response_id": self.id, "output_index": index,
                          "item": copy.deepcopy(item)})
        await self._send({"type": "conversation.item.done", "previous_item_id": previous,
                          "item": copy.deepcopy(item)})

    async def _message(self, text: str) -> None:
        audio = "audio" in self.modalities and self._synth is not None
        item: dict[str, Any] = {"id": new_id("item"), "object": "realtime.item", "type": "message",
                                "status": "in_progress", "role": "assistant", "content": []}
        index = len(self.output)
        previous = await self._add(item, index)
        ids = {"response_id": self.id, "item_id": item["id"], "output_index": index, "content_index": 0}
        part: dict[str, Any] = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        await self._send({"type": "response.content_part.added", **ids, "part": dict(part)})
        said = await (self._speak(ids, text) if audio else self._write(ids, text))
        self._text_out += said
        if audio:
            await self._send({"type": "response.output_audio.done", **ids})
            await self._send({"type": "response.output_audio_transcript.done", **ids, "transcript": said})
            part["transcript"] = said
            content = {"type": "output_audio", "transcript": said}
        else:
            await self._send({"type": "response.output_text.done", **ids, "text": said})
            part["text"] = said
            content = {"type": "output_text", "text": said}
        await self._send({"type": "response.content_part.done", **ids, "part": part})
        item["status"] = "incomplete" if self.cancel_reason is not None else "completed"
        item["content"] = [content]
        await self._finish(item, index, previous)

    async def _write(self, ids: dict[str, Any], text: str) -> str:
        written = ""
        for sentence in split_sentences(text):
            if self.cancel_reason is not None:
                break
            delta = (" " if written else "") + sentence
            written += delta
            await self._send({"type": "response.output_text.delta", **ids, "delta": delta})
        return written

    async def _speak(self, ids: dict[str, Any], text: str) -> str:
        assert self._synth is not None
        spoken = ""
        started = time.monotonic()
        sent_ms = 0.0
        item_id = ids["item_id"]
        for sentence in split_sentences(text):
            if self.cancel_reason is not None:
                break
            # The first sentence is heard while the next one is synthesised.
            pcm24 = await asyncio.to_thread(self._synth.synthesize, sentence)
            data, per_ms = encode_output(pcm24, self.output_format)
            step = CHUNK_MS * per_ms
            delta = (" " if spoken else "") + sentence
            spoken += delta
            await self._send({"type": "response.output_audio_transcript.delta", **ids, "delta": delta})
            for offset in range(0, len(data), step):
                if self.cancel_reason is not None:
                    break
                chunk = data[offset:offset + step]
                await self._send({"type": "response.output_audio.delta", **ids,
                                  "delta": base64.b64encode(chunk).decode("ascii")})
                # Exact, not rounded per chunk: a truncation at the reported end must stay within it.
                ms = len(chunk) / per_ms
                sent_ms += ms
                self._audio_out_ms += ms
                self._audio_ms[item_id] = self._audio_ms.get(item_id, 0.0) + ms
                await self._pace(started, sent_ms)
        return spoken

    async def _pace(self, started: float, sent_ms: float) -> None:
        """Stay at most `max_audio_lead_s` ahead of real time, as a realtime server does (barge-in needs it)."""
        wait = started + sent_ms / 1000 - self._lead - time.monotonic()
        if wait <= 0 or self.cancel_reason is not None:
            await asyncio.sleep(0)
            return
        try:
            async with asyncio.timeout(wait):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _function_call(self, name: str, arguments: str) -> None:
        item: dict[str, Any] = {"id": new_id("item"), "object": "realtime.item", "type": "function_call",
                                "status": "in_progress", "name": name, "call_id": new_id("call"), "arguments": ""}
        index = len(self.output)
        previous = await self._add(item, index)
        ids = {"response_id": self.id, "item_id": item["id"], "output_index": index, "call_id": item["call_id"]}
        await self._send({"type": "response.function_call_arguments.delta", **ids, "delta": arguments})
        await self._send({"type": "response.function_call_arguments.done", **ids, "name": name,
                          "arguments": arguments})
        item["status"], item["arguments"] = "completed", arguments
        self._text_out += arguments
        await self._finish(item, index, previous)
