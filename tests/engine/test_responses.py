"""Unit tests for engine/responses.py: the ResponseSequencer driven through protocol-legal event orders."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openai.types.realtime import ResponseCancelEvent, ResponseCreateEvent

from realtime_agents.engine.responses import REQUEST_KEY, ResponseSequencer


class Wire:
    """The sequencer's real collaborator: an async send that records what went out."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail_next = False

    async def send(self, event: dict[str, Any]) -> None:
        """Record one client event, checked against the official openai client event types."""
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("socket closed")
        model = ResponseCreateEvent if event["type"] == "response.create" else ResponseCancelEvent
        model.model_validate(event)
        self.sent.append(event)

    def creates(self) -> list[dict[str, Any]]:
        """The `response.create` events sent so far."""
        return [event for event in self.sent if event["type"] == "response.create"]

    def cancels(self) -> list[dict[str, Any]]:
        """The `response.cancel` events sent so far."""
        return [event for event in self.sent if event["type"] == "response.cancel"]


@pytest.fixture
def wire() -> Wire:
    """A fresh recording wire."""
    return Wire()


@pytest.fixture
def seq(wire: Wire) -> ResponseSequencer:
    """A sequencer sending on the recording wire."""
    return ResponseSequencer(wire.send)


def created(create_event: dict[str, Any], response_id: str) -> dict[str, Any]:
    """The server's response object for one of our `response.create`s (metadata echoed, as GA does)."""
    metadata = create_event["response"]["metadata"]
    return {"id": response_id, "object": "realtime.response", "metadata": metadata}


def server_response(response_id: str) -> dict[str, Any]:
    """A response the server started by itself (server VAD): no metadata of ours."""
    return {"id": response_id, "object": "realtime.response", "metadata": None}


def refusal(event_id: str | None, code: str = "conversation_already_has_active_response") -> dict[str, Any]:
    """The `error` object the server sends when it refuses a `response.create`."""
    return {
        "type": "invalid_request_error",
        "code": code,
        "message": "Conversation already has an active response in progress: resp_1.",
        "param": None,
        "event_id": event_id,
    }


async def bounded(awaitable: Any) -> Any:
    """Await with a time limit."""
    async with asyncio.timeout(5):
        return await awaitable


# -- basic flow ------------------------------------------------------------------------------------


async def test_request_is_sent_at_once_when_idle(wire: Wire, seq: ResponseSequencer) -> None:
    assert not seq.busy and not seq.pending
    await bounded(seq.request())
    [event] = wire.creates()
    assert event["event_id"] == "ra_response_create_1"
    assert event["response"] == {"metadata": {REQUEST_KEY: "ra_response_create_1"}}
    assert seq.busy and not seq.pending
    assert seq.on_response_created(created(event, "resp_1")) is True
    assert seq.active_response_id == "resp_1" and seq.responses_created == 1
    await bounded(seq.on_response_done("resp_1"))
    assert not seq.busy and seq.active_response_id is None
    assert len(wire.sent) == 1


async def test_event_ids_are_unique(wire: Wire, seq: ResponseSequencer) -> None:
    for number in range(1, 4):
        await seq.request()
        seq.on_response_created(created(wire.creates()[-1], f"resp_{number}"))
        await seq.on_response_done(f"resp_{number}")
    ids = [event["event_id"] for event in wire.creates()]
    assert len(ids) == 3 and len(set(ids)) == 3


async def test_one_response_at_a_time_and_automatic_requests_coalesce(
    wire: Wire, seq: ResponseSequencer
) -> None:
    await seq.request()
    # While the create awaits its response.created, and while the response runs, nothing else goes out.
    await seq.request()
    seq.on_response_created(created(wire.creates()[0], "resp_1"))
    await seq.request()
    await seq.request()
    assert len(wire.creates()) == 1
    assert seq.pending
    await seq.on_response_done("resp_1")
    # Three automatic requests made while busy became a single response.create.
    assert len(wire.creates()) == 2
    assert not seq.pending
    seq.on_response_created(created(wire.creates()[1], "resp_2"))
    await seq.on_response_done("resp_2")
    assert len(wire.creates()) == 2


async def test_explicit_payloads_go_one_per_response_in_order(wire: Wire, seq: ResponseSequencer) -> None:
    await seq.request()
    seq.on_response_created(created(wire.creates()[0], "resp_1"))
    await seq.request({"instructions": "first"})
    await seq.request()  # automatic, after the explicit ones
    await seq.request({"instructions": "second", "metadata": {"topic": "billing"}})
    for number in (2, 3, 4):
        assert len(wire.creates()) == number - 1
        await seq.on_response_done(f"resp_{number - 1}")
        seq.on_response_created(created(wire.creates()[-1], f"resp_{number}"))
    await seq.on_response_done("resp_4")
    bodies = [event["response"] for event in wire.creates()]
    assert bodies[1]["instructions"] == "first"
    assert bodies[2]["instructions"] == "second"
    # The caller's metadata is kept next to our tag.
    assert bodies[2]["metadata"] == {"topic": "billing", REQUEST_KEY: wire.creates()[2]["event_id"]}
    assert "instructions" not in bodies[3]
    assert not seq.pending and not seq.busy


async def test_payload_is_copied(wire: Wire, seq: ResponseSequencer) -> None:
    payload: dict[str, Any] = {"instructions": "hi"}
    await seq.request(payload)
    payload["instructions"] = "changed"
    assert wire.creates()[0]["response"]["instructions"] == "hi"
    assert "metadata" not in payload


async def test_empty_payload_counts_as_automatic(wire: Wire, seq: ResponseSequencer) -> None:
    await seq.request({})
    assert wire.creates()[0]["response"] == {"metadata": {REQUEST_KEY: "ra_response_create_1"}}


# -- server-started responses ----------------------------------------------------------------------


async def test_server_vad_response_blocks_requests_until_done(wire: Wire, seq: ResponseSequencer) -> None:
    assert seq.on_response_created(server_response("resp_vad")) is False
    assert seq.busy and seq.active_response_id == "resp_vad"
    await seq.request()
    assert wire.sent == []
    await seq.on_response_done("resp_vad")
    assert len(wire.creates()) == 1


async def test_done_for_another_response_does_not_free_the_line(wire: Wire, seq: ResponseSequencer) -> None:
    seq.on_response_created(server_response("resp_1"))
    await seq.request()
    await seq.on_response_done("resp_other")
    assert seq.active_response_id == "resp_1" and wire.sent == []
    await seq.on_response_done(None)  # a done without an id frees the line
    assert len(wire.creates()) == 1


async def test_created_without_id(wire: Wire, seq: ResponseSequencer) -> None:
    await seq.request()
    seq.on_response_created({})
    assert seq.active_response_id is not None and seq.busy
    await seq.on_response_done(None)
    assert not seq.busy


async def test_no_metadata_echo_assumes_the_oldest_request(wire: Wire, seq: ResponseSequencer) -> None:
    await seq.request()
    assert seq.on_response_created({"id": "resp_1"}) is True
    assert seq.on_response_created({"id": "resp_2"}) is False


# -- refusals --------------------------------------------------------------------------------------


async def test_refused_create_is_requeued_after_a_vad_response(wire: Wire, seq: ResponseSequencer) -> None:
    """The race the protocol allows: server VAD starts a response while our create is on the wire."""
    await seq.request({"instructions": "greet"})
    mine = wire.creates()[0]
    # The server's own response.created arrives first, then the refusal of ours.
    assert seq.on_response_created(server_response("resp_vad")) is False
    assert await bounded(seq.on_error(refusal(mine["event_id"]))) is True
    assert len(wire.creates()) == 1, "no retry while the server's response runs"
    assert seq.pending
    await seq.on_response_done("resp_vad")
    [_, retry] = wire.creates()
    assert retry["response"]["instructions"] == "greet"
    assert retry["event_id"] != mine["event_id"]
    assert seq.on_response_created(created(retry, "resp_2")) is True


async def test_refusal_without_event_id_matches_the_awaiting_one(wire: Wire, seq: ResponseSequencer) -> None:
    await seq.request()
    seq.on_response_created(server_response("resp_vad"))
    assert await seq.on_error(refusal(None, code="bad_response_create")) is True
    await seq.on_response_done("resp_vad")
    assert len(wire.creates()) == 2


async def test_unrelated_errors_are_not_ours(wire: Wire, seq: ResponseSequencer) -> None:
    assert await seq.on_error(refusal("ra_response_create_1")) is False, "nothing awaiting"
    await seq.request()
    assert await seq.on_error({"code": "invalid_value", "event_id": "ra_response_create_1"}) is False
    assert await seq.on_error(refusal("evt_someone_else")) is False
    assert await seq.on_error({}) is False
    assert seq.busy and len(wire.creates()) == 1


async def test_refusal_when_idle_waits_instead_of_resending(wire: Wire, seq: ResponseSequencer) -> None:
    """A refusal while we know of no active response must not ping-pong with the server."""
    await seq.request()
    event_id = wire.creates()[0]["event_id"]
    assert await seq.on_error(refusal(event_id)) is True
    assert await seq.on_error(refusal(event_id)) is False, "a repeated error is not a second refusal"
    await asyncio.sleep(0)
    assert len(wire.creates()) == 1
    assert seq.pending and not seq.busy
    # The response the server said was running ends: now we ask again, once.
    await seq.on_response_done("resp_unseen")
    assert len(wire.creates()) == 2


# -- cancel ----------------------------------------------------------------------------------------


async def test_cancel_once_per_response(wire: Wire, seq: ResponseSequencer) -> None:
    assert await seq.cancel() is False, "nothing to cancel"
    await seq.request()
    seq.on_response_created(created(wire.creates()[0], "resp_1"))
    assert await seq.cancel() is True
    assert await seq.cancel() is False
    assert await seq.cancel("resp_1") is False
    assert wire.cancels() == [{"type": "response.cancel", "response_id": "resp_1"}]
    assert await seq.cancel("resp_old") is False, "only the active response can be cancelled"
    await seq.on_response_done("resp_1")
    assert await seq.cancel("resp_1") is False
    seq.on_response_created(server_response("resp_2"))
    assert await seq.cancel("resp_2") is True
    assert [event["response_id"] for event in wire.cancels()] == ["resp_1", "resp_2"]


async def test_cancel_of_a_response_without_id_omits_the_id(wire: Wire, seq: ResponseSequencer) -> None:
    seq.on_response_created({})
    assert await seq.cancel() is True
    assert wire.cancels() == [{"type": "response.cancel"}]


# -- send failures, reset and resume ---------------------------------------------------------------


async def test_failed_send_keeps_the_request(wire: Wire, seq: ResponseSequencer) -> None:
    wire.fail_next = True
    with pytest.raises(ConnectionError):
        await seq.request({"instructions": "keep me"})
    assert not seq.busy and seq.pending
    await seq.resume()
    assert wire.creates()[0]["response"]["instructions"] == "keep me"


async def test_reset_reasks_for_a_lost_answer_after_resume(wire: Wire, seq: ResponseSequencer) -> None:
    await seq.request()
    seq.on_response_created(created(wire.creates()[0], "resp_1"))
    await seq.cancel()
    seq.reset()
    assert not seq.busy and seq.active_response_id is None and seq.pending
    # Paused until the reconnect restored the conversation.
    await seq.request()
    assert len(wire.creates()) == 1
    await seq.resume()
    assert len(wire.creates()) == 2
    seq.on_response_created(created(wire.creates()[1], "resp_2"))
    assert await seq.cancel() is True, "cancel bookkeeping starts afresh on the new connection"


async def test_reset_requeues_awaiting_creates_in_order(wire: Wire, seq: ResponseSequencer) -> None:
    await seq.request({"instructions": "first"})
    await seq.request({"instructions": "second"})
    seq.reset()
    await seq.resume()
    assert [event["response"]["instructions"] for event in wire.creates()] == ["first", "first"]
    seq.on_response_created(created(wire.creates()[1], "resp_1"))
    await seq.on_response_done("resp_1")
    assert wire.creates()[2]["response"]["instructions"] == "second"


async def test_reset_when_idle_asks_for_nothing(wire: Wire, seq: ResponseSequencer) -> None:
    seq.reset()
    await seq.resume()
    assert wire.sent == [] and not seq.pending


async def test_reset_without_keeping_pending_drops_everything(wire: Wire, seq: ResponseSequencer) -> None:
    await seq.request()
    seq.on_response_created(created(wire.creates()[0], "resp_1"))
    await seq.request({"instructions": "later"})
    await seq.request()
    seq.reset(keep_pending=False)
    assert not seq.pending and not seq.busy
    await seq.resume()
    assert len(wire.sent) == 1


async def test_refusal_after_an_assumed_match_is_requeued(wire: Wire, seq: ResponseSequencer) -> None:
    """Without metadata echo a server-started response passes for ours, until the refusal says not."""
    await seq.request({"instructions": "greet"})
    mine = wire.creates()[0]
    assert seq.on_response_created({"id": "resp_vad"}) is True
    assert await seq.on_error(refusal(mine["event_id"])) is True
    await seq.on_response_done("resp_vad")
    assert [event["response"]["instructions"] for event in wire.creates()] == ["greet", "greet"]
    # Each refusal is honoured once.
    assert await seq.on_error(refusal(mine["event_id"])) is False
