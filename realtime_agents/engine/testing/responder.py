"""Stream one scripted response over a fake Realtime connection, as the GA server orders its events."""
from __future__ import annotations

import asyncio
import copy
import math
from typing import TYPE_CHECKING, Any

from .audio import output_chunks
from .protocol import new_id
from .script import ScriptedResponse

if TYPE_CHECKING:
    from .connection import FakeConnection

_RATE_LIMIT_TOKENS = 40_000


def _split_words(text: str, parts: int) -> list[str]:
    """Spread text's words over ``parts`` slots, earliest first (some slots may be empty)."""
    words = text.split(" ")
    tokens = [w + " " for w in words[:-1]] + [words[-1]]
    pieces = [""] * parts
    for index, token in enumerate(tokens):
        pieces[index * parts // len(tokens)] += token
    return pieces


def _text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


class ActiveResponse:
    """A response being streamed; ``cancel`` makes it finish early with ``status: cancelled``."""

    def __init__(
        self, *, connection: FakeConnection, script: ScriptedResponse, params: dict[str, Any]
    ) -> None:
        self.connection = connection
        self.script = script
        self.response_id = new_id("resp")
        self.out_of_band = params.get("conversation") == "none"
        session = connection.session
        self.modalities: list[str] = list(params.get("output_modalities") or session["output_modalities"])
        self.metadata = params.get("metadata")
        self.max_output_tokens = params.get("max_output_tokens", session["max_output_tokens"])
        output = session["audio"]["output"]
        voice = ((params.get("audio") or {}).get("output") or {}).get("voice", output["voice"])
        self.audio_output = {"format": copy.deepcopy(output["format"]), "voice": voice}
        self.cancel_reason: str | None = None
        self.output: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self.finished = asyncio.Event()
        self._audio_ms = 0
        self._text_out = ""

    def cancel(self, reason: str) -> None:
        """Stop streaming soon; the response ends with ``status: cancelled`` and this reason."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self._wake.set()

    async def _pause(self, seconds: float) -> None:
        if self.cancel_reason is not None:
            return
        if seconds <= 0:
            # Yield even at full speed so a response.cancel or barge-in can be read meanwhile.
            await asyncio.sleep(0)
            return
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    def _response(self, status: str) -> dict[str, Any]:
        details: dict[str, Any] | None = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": self.cancel_reason}
        elif status == "incomplete":
            details = {"type": "incomplete", "reason": "max_output_tokens"}
        elif status == "failed":
            details = {"type": "failed", "error": {"type": "server_error", "code": "server_error",
                                                   "message": "The scripted response failed."}}
        return {
            "id": self.response_id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": copy.deepcopy(self.output) if status != "in_progress" else [],
            "conversation_id": None if self.out_of_band else self.connection.conversation_id,
            "output_modalities": self.modalities,
            "max_output_tokens": self.max_output_tokens,
            "audio": {"output": self.audio_output},
            "usage": self._usage() if status != "in_progress" else None,
            "metadata": self.metadata,
        }

    def _usage(self) -> dict[str, Any]:
        text_in = _text_tokens(self.connection.session.get("instructions") or "") + sum(
            _text_tokens(str(part.get("text") or part.get("transcript") or ""))
            for item in self.connection.conversation
            for part in item.get("content") or ()
            if isinstance(part, dict)
        )
        audio_in = self.connection.input_audio_ms // 100
        audio_out = self._audio_ms // 50
        text_out = _text_tokens(self._text_out)
        return {
            "total_tokens": text_in + audio_in + audio_out + text_out,
            "input_tokens": text_in + audio_in,
            "output_tokens": audio_out + text_out,
            "input_token_details": {
                "text_tokens": text_in, "audio_tokens": audio_in, "image_tokens": 0, "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }

    async def run(self) -> None:
        """Stream the whole response; always ends by telling the connection it finished."""
        send = self.connection.send
        try:
            if self.script.error is not None:
                await self._pause(self.script.delay_ms / 1000)
                error = self.script.error
                await self.connection.send_error(error.code, error.message, param=error.param, error_type=error.type)
                return
            await send({"type": "response.created", "response": self._response("in_progress")})
            await send({"type": "rate_limits.updated", "rate_limits": [
                {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                {"name": "tokens", "limit": _RATE_LIMIT_TOKENS, "remaining": _RATE_LIMIT_TOKENS - 4096,
                 "reset_seconds": 6.1},
            ]})
            await self._pause(self.script.delay_ms / 1000)
            if self.script.has_message and self.cancel_reason is None:
                await self._stream_message()
            for call in self.script.function_calls:
                if self.cancel_reason is not None:
                    break
                await self._stream_function_call(call.name, call.arguments_json(), call.call_id)
            status = "cancelled" if self.cancel_reason is not None else self.script.status
            await send({"type": "response.done", "response": self._response(status)})
        finally:
            self.finished.set()
            self.connection.response_finished(self)

    async def _add_item(self, item: dict[str, Any], output_index: int) -> str | None:
        """Announce a new output item; returns its previous item id in the conversation."""
        previous = None
        if not self.out_of_band:
            previous = self.connection.add_conversation_item(item)
        await self.connection.send({"type": "response.output_item.added", "response_id": self.response_id,
                                    "output_index": output_index, "item": copy.deepcopy(item)})
        if not self.out_of_band:
            await self.connection.send({"type": "conversation.item.added", "previous_item_id": previous,
                                        "item": copy.deepcopy(item)})
        return previous

    async def _finish_item(self, item: dict[str, Any], output_index: int, previous: str | None) -> None:
        self.output.append(item)
        await self.connection.send({"type": "response.output_item.done", "response_id": self.response_id,
                                    "output_index": output_index, "item": copy.deepcopy(item)})
        if not self.out_of_band:
            await self.connection.send({"type": "conversation.item.done", "previous_item_id": previous,
                                        "item": copy.deepcopy(item)})

    async def _stream_message(self) -> None:
        send = self.connection.send
        audio = self.script.text is None and "audio" in self.modalities
        words = self.script.message_text()
        item = {"id": new_id("item"), "object": "realtime.item", "type": "message", "status": "in_progress",
                "role": "assistant", "content": []}
        output_index = len(self.output)
        previous = await self._add_item(item, output_index)
        ids = {"response_id": self.response_id, "item_id": item["id"], "output_index": output_index,
               "content_index": 0}
        part: dict[str, Any] = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        await send({"type": "response.content_part.added", **ids, "part": dict(part)})
        sent = await (self._stream_audio(ids, words) if audio else self._stream_text(ids, words))
        self._text_out += sent
        kind = "output_audio" if audio else "output_text"
        if audio:
            await send({"type": "response.output_audio.done", **ids})
            await send({"type": "response.output_audio_transcript.done", **ids, "transcript": sent})
            part["transcript"] = sent
        else:
            await send({"type": "response.output_text.done", **ids, "text": sent})
            part["text"] = sent
        await send({"type": "response.content_part.done", **ids, "part": part})
        item["status"] = "incomplete" if self.cancel_reason is not None else "completed"
        item["content"] = [{"type": kind, "transcript": sent} if audio else {"type": kind, "text": sent}]
        await self._finish_item(item, output_index, previous)

    async def _stream_audio(self, ids: dict[str, Any], transcript: str) -> str:
        script = self.script
        format_type = self.audio_output["format"]["type"]
        chunks = output_chunks(format_type, script.effective_audio_ms(), script.chunk_ms)
        pieces = _split_words(transcript, max(1, len(chunks)))
        connection = self.connection
        item_id = ids["item_id"]
        loop = asyncio.get_running_loop()
        started = loop.time()
        spoken = ""
        for index, (encoded, ms) in enumerate(chunks):
            if self.cancel_reason is not None:
                break
            await connection.send({"type": "response.output_audio.delta", **ids, "delta": encoded})
            self._audio_ms += ms
            connection.voice_locked = True
            connection.item_audio_ms[item_id] = connection.item_audio_ms.get(item_id, 0) + ms
            if pieces[index]:
                spoken += pieces[index]
                await connection.send({"type": "response.output_audio_transcript.delta", **ids,
                                       "delta": pieces[index]})
            wait = (started + self._audio_ms / 1000 / script.pace - loop.time()) if script.pace else 0.0
            await self._pause(wait)
        if not chunks and transcript and self.cancel_reason is None:
            spoken = transcript
            await connection.send({"type": "response.output_audio_transcript.delta", **ids, "delta": transcript})
        return spoken

    async def _stream_text(self, ids: dict[str, Any], text: str) -> str:
        written = ""
        for piece in _split_words(text, max(1, len(text.split(" ")))):
            if self.cancel_reason is not None:
                break
            if piece:
                written += piece
                await self.connection.send({"type": "response.output_text.delta", **ids, "delta": piece})
            await self._pause(0)
        return written

    async def _stream_function_call(self, name: str, arguments: str, call_id: str | None) -> None:
        send = self.connection.send
        item = {"id": new_id("item"), "object": "realtime.item", "type": "function_call", "status": "in_progress",
                "name": name, "call_id": call_id or new_id("call"), "arguments": ""}
        output_index = len(self.output)
        previous = await self._add_item(item, output_index)
        ids = {"response_id": self.response_id, "item_id": item["id"], "output_index": output_index,
               "call_id": item["call_id"]}
        middle = len(arguments) // 2
        for piece in (arguments[:middle], arguments[middle:]):
            if piece:
                await send({"type": "response.function_call_arguments.delta", **ids, "delta": piece})
            await self._pause(0)
        await send({"type": "response.function_call_arguments.done", **ids, "name": name, "arguments": arguments})
        item["status"] = "completed"
        item["arguments"] = arguments
        await self._finish_item(item, output_index, previous)
