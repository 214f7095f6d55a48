"""Tests for the conversation history: ordering, merging, streaming, truncation and reseeding."""
from __future__ import annotations

from typing import Any

import pytest
from openai.types.realtime import ConversationItem
from openai.types.realtime.conversation_item_create_event import ConversationItemCreateEvent
from pydantic import TypeAdapter

from realtime_agents.engine.history import History, HistoryError
from realtime_agents.engine.items import (
    AssistantAudio,
    AssistantText,
    InputAudio,
    InputImage,
    InputText,
    MessageItem,
    ToolCallItem,
)

CONVERSATION_ITEM = TypeAdapter(ConversationItem)
IMAGE = "data:image/png;base64,iVBORw0KGgo="


def user_text(item_id: str, text: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]}


def assistant_audio(item_id: str, transcript: str | None, *, status: str = "completed",
                    kind: str = "output_audio") -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": "assistant", "status": status,
            "content": [{"type": kind, "transcript": transcript}]}


def ids(history: History) -> list[str]:
    return [item.item_id for item in history.items()]


# -- ordering -------------------------------------------------------------------------------------


def test_new_items_append_in_arrival_order() -> None:
    history = History()
    for item_id in ("a", "b", "c"):
        stored, added = history.upsert_server_item(user_text(item_id, item_id))
        assert added is True
        assert isinstance(stored, MessageItem) and stored.item_id == item_id
    assert ids(history) == ["a", "b", "c"]


def test_insert_after_previous_item_in_the_middle() -> None:
    history = History()
    history.upsert_server_item(user_text("a", "1"))
    history.upsert_server_item(user_text("c", "3"), previous_item_id="a")
    stored, added = history.upsert_server_item(user_text("b", "2"), previous_item_id="a")
    assert added and stored is not None and stored.previous_item_id == "a"
    assert ids(history) == ["a", "b", "c"]


def test_root_inserts_first() -> None:
    history = History()
    history.upsert_server_item(user_text("a", "1"))
    stored, _ = history.upsert_server_item(user_text("z", "0"), previous_item_id="root")
    assert ids(history) == ["z", "a"]
    assert stored is not None and stored.previous_item_id is None


def test_unknown_previous_item_appends() -> None:
    history = History()
    history.upsert_server_item(user_text("a", "1"))
    history.upsert_server_item(user_text("b", "2"), previous_item_id="never-seen")
    assert ids(history) == ["a", "b"]
    assert history.get("b").previous_item_id == "never-seen"  # type: ignore[union-attr]


def test_updates_keep_position() -> None:
    history = History()
    history.upsert_server_item(user_text("a", "1"))
    history.upsert_server_item(assistant_audio("b", "hi", status="in_progress"))
    history.upsert_server_item(user_text("c", "3"))
    stored, added = history.upsert_server_item(assistant_audio("b", "hi there"), previous_item_id="c")
    assert added is False
    assert ids(history) == ["a", "b", "c"]
    assert stored is not None and stored.text == "hi there" and stored.status == "completed"


def test_items_tuple_is_stable_until_something_changes() -> None:
    history = History()
    history.upsert_server_item(user_text("a", "1"))
    first = history.items()
    assert history.items() is first
    history.upsert_server_item(user_text("b", "2"))
    assert history.items() is not first and len(history.items()) == 2


# -- content parsing and merging ------------------------------------------------------------------


@pytest.mark.parametrize(("text_kind", "audio_kind"), [("output_text", "output_audio"), ("text", "audio")])
def test_assistant_content_ga_and_beta_spellings(text_kind: str, audio_kind: str) -> None:
    history = History()
    item = {"id": "a", "type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": text_kind, "text": "typed"}, {"type": audio_kind, "transcript": "spoken"}]}
    stored, _ = history.upsert_server_item(item, agent_name="Greeter")
    assert isinstance(stored, MessageItem)
    assert stored.content == (AssistantText(text="typed"), AssistantAudio(transcript="spoken"))
    assert stored.agent_name == "Greeter" and stored.status == "completed"
    assert stored.text == "typed spoken"


def test_user_and_system_content_parts() -> None:
    history = History()
    user = {"id": "u", "type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "look"},
        {"type": "input_audio", "transcript": None},
        {"type": "input_image", "image_url": IMAGE, "detail": "low"},
        {"type": "mystery", "text": "dropped"},
    ]}
    stored, _ = history.upsert_server_item(user)
    assert isinstance(stored, MessageItem) and stored.role == "user"
    assert stored.content == (InputText(text="look"), InputAudio(transcript=None),
                              InputImage(image_url=IMAGE, detail="low"))
    system, _ = history.upsert_server_item({"id": "s", "type": "message", "role": "system",
                                            "content": [{"type": "input_text", "text": "be brief"}]})
    assert isinstance(system, MessageItem) and system.role == "system" and system.text == "be brief"


def test_merge_never_erases_a_known_transcript() -> None:
    history = History()
    history.upsert_server_item(assistant_audio("a", "the full answer"))
    # Server copies (item.done, retrieved) often leave the transcript out.
    stored, added = history.upsert_server_item(assistant_audio("a", None))
    assert added is False
    assert stored is not None and stored.text == "the full answer"
    stored, _ = history.upsert_server_item({"id": "a", "type": "message", "role": "assistant", "content": []})
    assert stored is not None and stored.text == "the full answer"
    stored, _ = history.upsert_server_item(assistant_audio("a", "corrected"))
    assert stored is not None and stored.text == "corrected"


def test_merge_keeps_user_text_transcript_and_images() -> None:
    history = History()
    history.upsert_server_item({"id": "u", "type": "message", "role": "user", "content": [
        {"type": "input_image", "image_url": IMAGE}, {"type": "input_text", "text": "what is this"}]})
    # A retrieved copy without the image and with the text missing.
    stored, _ = history.upsert_server_item({"id": "u", "type": "message", "role": "user",
                                            "content": [{"type": "input_text"}]})
    assert isinstance(stored, MessageItem)
    assert stored.content == (InputImage(image_url=IMAGE), InputText(text="what is this"))
    # An image part without its url keeps the known url.
    stored, _ = history.upsert_server_item({"id": "u", "type": "message", "role": "user", "content": [
        {"type": "input_image", "detail": "high"}, {"type": "input_text", "text": "what is this"}]})
    assert isinstance(stored, MessageItem)
    assert stored.content[0] == InputImage(image_url=IMAGE, detail="high")


def test_server_status_is_kept_and_unknown_status_ignored() -> None:
    history = History()
    history.upsert_server_item(assistant_audio("a", "x", status="incomplete"))
    assert history.get("a").status == "incomplete"  # type: ignore[union-attr]
    history.upsert_server_item(assistant_audio("a", "x", status="weird"))
    assert history.get("a").status == "incomplete"  # type: ignore[union-attr]


def test_unknown_item_types_are_ignored() -> None:
    history = History()
    for kind in ("mcp_call", "mcp_list_tools", "mcp_approval_request", None):
        assert history.upsert_server_item({"id": "m", "type": kind}) == (None, False)
    assert history.items() == ()


@pytest.mark.parametrize(("item", "message"), [
    ({"type": "message", "role": "user", "content": []}, "message item id"),
    ({"id": "", "type": "message", "role": "user"}, "message item id"),
    ({"id": "x", "type": "message", "role": "developer"}, "message role must be one of"),
    ({"id": "x", "type": "message", "role": "user", "content": "hello"}, "content must be a list"),
    ({"id": "x", "type": "message", "role": "user", "content": ["hello"]}, "content parts must be objects"),
    ({"type": "function_call", "call_id": "c"}, "tool call item id"),
    ({"type": "function_call", "id": "f"}, "tool call call_id"),
    ({"type": "function_call_output", "output": "{}"}, "call_id"),
])
def test_malformed_items_get_clear_errors(item: dict[str, Any], message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        History().upsert_server_item(item)


def test_non_mapping_item_is_rejected() -> None:
    with pytest.raises(HistoryError, match="must be a mapping"):
        History().upsert_server_item(["not", "an", "item"])  # type: ignore[arg-type]


def test_message_and_tool_call_ids_cannot_be_mixed() -> None:
    history = History()
    history.add_tool_call(item_id="x", call_id="c", name="f", arguments="{}")
    with pytest.raises(HistoryError, match="not a message"):
        history.upsert_server_item(user_text("x", "hi"))
    history.upsert_server_item(user_text("m", "hi"))
    with pytest.raises(HistoryError, match="not a tool call"):
        history.add_tool_call(item_id="m", call_id="c2", name="f", arguments="{}")


# -- tool calls -----------------------------------------------------------------------------------


def test_tool_call_then_output_is_one_item() -> None:
    history = History()
    history.upsert_server_item(user_text("u", "weather?"))
    call, added = history.upsert_server_item({"id": "f", "type": "function_call", "call_id": "call_1",
                                              "name": "get_weather", "arguments": '{"city": "Oslo"}'},
                                             agent_name="Helper")
    assert added is True
    assert call == ToolCallItem(item_id="f", call_id="call_1", name="get_weather",
                                arguments='{"city": "Oslo"}', agent_name="Helper")
    assert history.find_call("call_1") == call
    done, added = history.upsert_server_item({"id": "o", "type": "function_call_output", "call_id": "call_1",
                                              "output": '{"temp": 3}'})
    assert added is False
    assert isinstance(done, ToolCallItem) and done.output == '{"temp": 3}' and done.status == "completed"
    assert ids(history) == ["u", "f"]
    assert history.get("f") == done


def test_add_tool_call_updates_existing_and_set_tool_output() -> None:
    history = History()
    first, added = history.add_tool_call(item_id="f", call_id="c", name="lookup", arguments="")
    assert added and first.status == "in_progress" and first.arguments == ""
    second, added = history.add_tool_call(item_id="f", call_id="c", name="", arguments='{"q": 1}')
    assert added is False
    assert second.name == "lookup" and second.arguments == '{"q": 1}'
    out = history.set_tool_output("c", "42")
    assert out is not None and out.output == "42" and out.status == "completed"
    assert history.find_call("c") == out
    assert history.set_tool_output("unknown", "x") is None
    orphan = {"type": "function_call_output", "call_id": "unknown", "output": "x"}
    assert history.upsert_server_item(orphan) == (None, False)
    with pytest.raises(HistoryError, match="tool output must be a string"):
        history.set_tool_output("c", {"not": "a string"})  # type: ignore[arg-type]


def test_tool_call_inserted_after_previous_item() -> None:
    history = History()
    history.upsert_server_item(user_text("a", "1"))
    history.upsert_server_item(user_text("b", "2"))
    history.add_tool_call(item_id="f", call_id="c", name="n", arguments="{}", previous_item_id="a")
    assert ids(history) == ["a", "f", "b"]


# -- user transcripts -----------------------------------------------------------------------------


def test_transcript_after_the_item() -> None:
    history = History()
    history.upsert_server_item({"id": "u", "type": "message", "role": "user", "status": "in_progress",
                                "content": [{"type": "input_audio", "transcript": None}]})
    item, added = history.set_user_transcript("u", "hello there")
    assert added is False
    assert isinstance(item, MessageItem)
    assert item.content == (InputAudio(transcript="hello there"),) and item.status == "completed"
    # The item.done copy without a transcript keeps it.
    history.upsert_server_item({"id": "u", "type": "message", "role": "user", "status": "completed",
                                "content": [{"type": "input_audio"}]})
    assert history.get("u").text == "hello there"  # type: ignore[union-attr]


def test_transcript_before_the_item() -> None:
    history = History()
    history.upsert_server_item(user_text("a", "first"))
    item, added = history.set_user_transcript("u", "spoken words")
    assert added is True
    assert isinstance(item, MessageItem) and item.role == "user" and item.status == "completed"
    assert item.text == "spoken words"
    stored, added = history.upsert_server_item({"id": "u", "type": "message", "role": "user",
                                                "content": [{"type": "input_audio", "transcript": None}]})
    assert added is False and stored is not None and stored.text == "spoken words"
    assert ids(history) == ["a", "u"]


def test_transcript_on_item_without_audio_part_adds_one() -> None:
    history = History()
    history.upsert_server_item({"id": "u", "type": "message", "role": "user", "content": []})
    item, _ = history.set_user_transcript("u", "words")
    assert isinstance(item, MessageItem) and item.content == (InputAudio(transcript="words"),)


def test_transcript_bad_input() -> None:
    history = History()
    history.upsert_server_item(assistant_audio("a", "x"))
    with pytest.raises(HistoryError, match="not a user message"):
        history.set_user_transcript("a", "words")
    with pytest.raises(HistoryError, match="transcript must be a string"):
        history.set_user_transcript("u", None)  # type: ignore[arg-type]
    with pytest.raises(HistoryError, match="item_id"):
        history.set_user_transcript("", "words")


# -- assistant deltas -----------------------------------------------------------------------------


def test_deltas_create_an_in_progress_item_and_accumulate() -> None:
    history = History()
    history.upsert_server_item(user_text("u", "hi"))
    history.append_assistant_delta("a", "Hello", response_id="r1", agent_name="Greeter")
    history.append_assistant_delta("a", ", world")
    assert history.assistant_text("a") == "Hello, world"
    assert history.assistant_text_length("a") == len("Hello, world")
    item = history.get("a")
    assert isinstance(item, MessageItem)
    assert item.role == "assistant" and item.status == "in_progress" and item.agent_name == "Greeter"
    assert item.content == (AssistantAudio(transcript="Hello, world"),)
    assert ids(history) == ["u", "a"]


def test_text_deltas_make_a_text_part() -> None:
    history = History()
    history.append_assistant_delta("a", "typed", part="text")
    assert history.get("a").content == (AssistantText(text="typed"),)  # type: ignore[union-attr]


def test_many_deltas_total_is_exact() -> None:
    history = History()
    history.upsert_server_item(assistant_audio("a", None, status="in_progress"))
    expected = 0
    for index in range(100_000):
        delta = "ab" if index % 2 else "c "
        history.append_assistant_delta("a", delta)
        expected += len(delta)
        if index % 10_000 == 0:
            assert history.assistant_text_length("a") == expected
    text = history.assistant_text("a")
    assert len(text) == expected == 200_000
    assert text.startswith("c abc ab") and text.endswith("c ab")
    assert history.get("a").text == text  # type: ignore[union-attr]


def test_deltas_fill_the_server_part_until_the_final_transcript() -> None:
    history = History()
    history.upsert_server_item({"id": "a", "type": "message", "role": "assistant", "status": "in_progress",
                                "content": []})
    history.append_assistant_delta("a", "Partial ")
    history.upsert_server_item(assistant_audio("a", None, status="in_progress"))
    history.append_assistant_delta("a", "answer")
    streamed = history.get("a")
    assert isinstance(streamed, MessageItem)
    assert streamed.content == (AssistantAudio(transcript="Partial answer"),)
    final, added = history.upsert_server_item(assistant_audio("a", "Partial answer!"))
    assert added is False
    assert final is not None and final.text == "Partial answer!" and final.status == "completed"


def test_item_made_by_deltas_is_announced_once_and_placed() -> None:
    history = History()
    history.upsert_server_item(user_text("u1", "one"))
    history.upsert_server_item(user_text("u2", "two"))
    history.append_assistant_delta("a", "reply")
    assert ids(history) == ["u1", "u2", "a"]
    stored, added = history.upsert_server_item(assistant_audio("a", None, status="in_progress"),
                                               previous_item_id="u1")
    assert added is True, "nobody was told about the delta-made item yet"
    assert ids(history) == ["u1", "a", "u2"]
    assert stored is not None and stored.text == "reply"
    _, added = history.upsert_server_item(assistant_audio("a", None), previous_item_id="u2")
    assert added is False
    assert ids(history) == ["u1", "a", "u2"]


def test_delta_bad_input() -> None:
    history = History()
    history.upsert_server_item(user_text("u", "hi"))
    with pytest.raises(HistoryError, match="not an assistant message"):
        history.append_assistant_delta("u", "x")
    with pytest.raises(HistoryError, match="delta must be a string"):
        history.append_assistant_delta("a", b"bytes")  # type: ignore[arg-type]
    with pytest.raises(HistoryError, match="item_id"):
        history.append_assistant_delta("", "x")
    assert history.assistant_text("missing") == ""


def test_audio_ms_counter() -> None:
    history = History()
    history.upsert_server_item(assistant_audio("a", "x"))
    for _ in range(1000):
        history.add_audio_ms("a", 20.0)
    assert history.get("a").audio_ms == pytest.approx(20_000.0)  # type: ignore[union-attr]
    with pytest.raises(HistoryError, match="must not be negative"):
        history.add_audio_ms("a", -1)


# -- status, truncate, delete ---------------------------------------------------------------------


def test_set_status() -> None:
    history = History()
    history.upsert_server_item(assistant_audio("a", "x", status="in_progress"))
    item = history.set_status("a", "interrupted")
    assert item is not None and item.status == "interrupted" and history.get("a") == item
    assert history.set_status("missing", "completed") is None
    with pytest.raises(HistoryError, match="status must be one of"):
        history.set_status("a", "done")  # type: ignore[arg-type]
    history.add_tool_call(item_id="f", call_id="c", name="n", arguments="{}")
    assert history.set_status("f", "completed").status == "completed"  # type: ignore[union-attr]
    with pytest.raises(HistoryError, match="tool call's status"):
        history.set_status("f", "truncated")


def test_truncate_keeps_heard_share_at_word_boundary() -> None:
    history = History()
    text = "one two three four five six seven eight"  # 39 characters
    history.upsert_server_item(assistant_audio("a", text, status="in_progress"))
    item = history.truncate("a", audio_end_ms=1500, total_ms=3000)
    assert isinstance(item, MessageItem)
    # Half is 19 characters, which ends inside "five": only whole words stay.
    assert item.text == "one two three four"
    assert item.status == "truncated" and item.audio_ms == 1500.0
    assert history.get("a") == item


def test_truncate_share_on_exact_boundary_and_whole() -> None:
    history = History()
    history.upsert_server_item(assistant_audio("a", "abcd efgh"))
    assert history.truncate("a", audio_end_ms=500, total_ms=1000).text == "abcd"  # type: ignore[union-attr]
    history.upsert_server_item(assistant_audio("b", "all of it"))
    whole = history.truncate("b", audio_end_ms=1000, total_ms=999.5)
    assert whole is not None and whole.text == "all of it"
    history.upsert_server_item(assistant_audio("c", "supercalifragilistic"))
    assert history.truncate("c", audio_end_ms=900, total_ms=1000).text == ""  # type: ignore[union-attr]


def test_truncate_zero_ms_empties_transcript() -> None:
    history = History()
    history.append_assistant_delta("a", "never heard at all")
    item = history.truncate("a", audio_end_ms=0, total_ms=2000)
    assert isinstance(item, MessageItem)
    assert item.text == "" and item.status == "truncated" and item.audio_ms == 0.0
    assert history.assistant_text("a") == ""


def test_truncate_uses_streamed_text_and_sticks() -> None:
    history = History()
    history.upsert_server_item(assistant_audio("a", None, status="in_progress"))
    for word in ("alpha ", "beta ", "gamma ", "delta"):
        history.append_assistant_delta("a", word)
    item = history.truncate("a", audio_end_ms=600, total_ms=1000)
    assert item is not None and item.text == "alpha beta"
    # Late deltas, audio counts and the server's full copy do not bring the unheard text back.
    history.append_assistant_delta("a", " epsilon")
    history.add_audio_ms("a", 5000)
    stored, _ = history.upsert_server_item(assistant_audio("a", "alpha beta gamma delta epsilon",
                                                           status="incomplete"))
    assert stored is not None and stored.text == "alpha beta" and stored.status == "truncated"
    assert stored.audio_ms == 600.0
    assert history.assistant_text("a") == "alpha beta"


def test_truncate_unknown_and_bad_input() -> None:
    history = History()
    assert history.truncate("missing", audio_end_ms=10, total_ms=100) is None
    history.add_tool_call(item_id="f", call_id="c", name="n", arguments="{}")
    with pytest.raises(HistoryError, match="only messages"):
        history.truncate("f", audio_end_ms=10, total_ms=100)
    with pytest.raises(HistoryError, match="must not be negative"):
        history.truncate("f", audio_end_ms=-1, total_ms=100)


def test_delete() -> None:
    history = History()
    history.upsert_server_item(user_text("a", "1"))
    history.append_assistant_delta("b", "streamed")
    history.add_tool_call(item_id="f", call_id="c", name="n", arguments="{}")
    assert history.delete("b") is True
    assert history.delete("b") is False
    assert history.assistant_text("b") == ""
    assert history.delete("f") is True
    assert history.find_call("c") is None
    assert ids(history) == ["a"]
    assert history.get("b") is None


# -- reseeding ------------------------------------------------------------------------------------


def build_conversation() -> History:
    history = History()
    history.upsert_server_item({"id": "sys", "type": "message", "role": "system",
                                "content": [{"type": "input_text", "text": "Be brief."}]})
    history.upsert_server_item(user_text("u1", "What's the weather?"))
    history.upsert_server_item({"id": "u2", "type": "message", "role": "user",
                                "content": [{"type": "input_audio", "transcript": None}]})
    history.set_user_transcript("u2", "in Oslo please")
    # u3 is never transcribed, so it cannot be reseeded.
    history.upsert_server_item({"id": "u3", "type": "message", "role": "user",
                                "content": [{"type": "input_audio", "transcript": None}]})
    history.add_tool_call(item_id="f1", call_id="call_1", name="get_weather", arguments='{"city": "Oslo"}')
    history.set_tool_output("call_1", '{"temp": 3}')
    history.add_tool_call(item_id="f2", call_id="call_2", name="pending", arguments="")
    history.append_assistant_delta("a1", "It is three degrees and cloudy")
    history.truncate("a1", audio_end_ms=500, total_ms=1000)
    history.upsert_server_item(assistant_audio("a2", None))  # nothing said
    history.upsert_server_item({"id": "u4", "type": "message", "role": "user", "content": [
        {"type": "input_image", "image_url": IMAGE, "detail": "low"},
        {"type": "input_text", "text": "and this?"}]})
    return history


def test_reseed_items_in_order_with_our_ids() -> None:
    seeded = build_conversation().reseed_items()
    assert seeded == [
        {"type": "message", "id": "sys", "role": "system",
         "content": [{"type": "input_text", "text": "Be brief."}]},
        {"type": "message", "id": "u1", "role": "user",
         "content": [{"type": "input_text", "text": "What's the weather?"}]},
        {"type": "message", "id": "u2", "role": "user",
         "content": [{"type": "input_text", "text": "in Oslo please"}]},
        {"type": "function_call", "id": "f1", "call_id": "call_1", "name": "get_weather",
         "arguments": '{"city": "Oslo"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 3}'},
        {"type": "function_call", "id": "f2", "call_id": "call_2", "name": "pending", "arguments": "{}"},
        {"type": "message", "id": "a1", "role": "assistant",
         "content": [{"type": "output_text", "text": "It is three"}]},
        {"type": "message", "id": "u4", "role": "user", "content": [
            {"type": "input_image", "image_url": IMAGE, "detail": "low"},
            {"type": "input_text", "text": "and this?"}]},
    ]


def test_reseed_items_validate_against_the_openai_models() -> None:
    seeded = build_conversation().reseed_items()
    assert len(seeded) == 8
    for item in seeded:
        model = CONVERSATION_ITEM.validate_python(item)
        assert model.type == item["type"]
        assert not model.model_extra, f"fields the API does not define: {model.model_extra}"
        assert model.model_dump(exclude_unset=True) == item
        event = ConversationItemCreateEvent.model_validate({"type": "conversation.item.create", "item": item})
        assert event.item.model_dump(exclude_unset=True) == item


def test_reseed_empty_history() -> None:
    assert History().reseed_items() == []
