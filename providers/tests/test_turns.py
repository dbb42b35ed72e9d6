"""Tool-calling turns on both clients, over real HTTP against the scripted model in each wire format."""

from __future__ import annotations

import json

import pytest

from providers.adapters import ProviderError, RetryPolicy, ToolCall, ToolSpec, ToolsUnsupported, Usage
from providers.adapters.turns import messages_check, tool_result, tools_check
from providers.tests.scripted_model import Raw, call, call_raw, call_with_id, reply, say, transcript

FORMATS = ["openai", "anthropic"]
STREAM = [False, True]

READ = ToolSpec(
    name="read_file",
    description="Read a file of the workspace.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
EDIT = ToolSpec(
    name="edit_file",
    description="Replace exact text in a file.",
    parameters={
        "type": "object",
        "properties": {"path": {"type": "string"}, "find": {"type": "string"}, "replace": {"type": "string"}},
        "required": ["path", "find", "replace"],
    },
)
LIST = ToolSpec(name="list_files", description="List the workspace.", parameters={"type": "object", "properties": {}})
TOOLS = [READ, EDIT, LIST]
ASK = {"role": "user", "content": "add a pricing section to index.html"}


def run_turn(model, messages, *, stream=False, tools=TOOLS):
    pieces: list[str] = []
    turn = model.client().chat_turn(
        system="You are Command's model.",
        messages=messages,
        tools=tools,
        on_text=pieces.append if stream else None,
    )
    return turn, pieces


def answered(messages, turn, results):
    """The conversation after `turn`, with the engine's results for its calls."""
    tool_messages = [
        tool_result(c, content, is_error=is_error)
        for c, (content, is_error) in zip(turn.tool_calls, results, strict=True)
    ]
    return [*messages, turn.message(), *tool_messages]


@pytest.mark.parametrize("stream", STREAM)
@pytest.mark.parametrize("fmt", FORMATS)
def test_tool_calls_and_results_round_trip(fmt, stream, scripted_model):
    model = scripted_model(
        fmt,
        [
            reply(say("Let me look first."), call("read_file", path="index.html"), call("list_files"), usage=(120, 30)),
            say("All done."),
        ],
    )
    turn, pieces = run_turn(model, [ASK], stream=stream)
    assert turn.text == "Let me look first."
    assert [(c.name, c.arguments, c.arguments_error) for c in turn.tool_calls] == [
        ("read_file", {"path": "index.html"}, ""),
        ("list_files", {}, ""),
    ]
    assert turn.usage == Usage(input_tokens=120, output_tokens=30)
    assert turn.stop_reason == ("tool_calls" if fmt == "openai" else "tool_use")
    assert len({c.id for c in turn.tool_calls}) == 2
    if stream:
        assert len(pieces) > 1 and "".join(pieces) == turn.text
        assert model.requests[0].body["stream"] is True
    else:
        assert pieces == []

    sent = answered([ASK], turn, [("<main></main>", False), ("index.html: no such folder", True)])
    second, _ = run_turn(model, sent, stream=stream)
    assert second.text == "All done." and second.tool_calls == []
    assert model.count == 2
    # what the server parsed back is exactly the neutral conversation the client was given
    assert model.conversations[1].messages == [{"role": "user", "content": ASK["content"]}, *sent[1:]]
    assert model.conversations[0].system == "You are Command's model."
    assert [t.name for t in model.conversations[0].tools] == ["read_file", "edit_file", "list_files"]
    assert model.conversations[0].tools[1].parameters == EDIT.parameters


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_is_its_own_wire_shape(fmt, scripted_model):
    model = scripted_model(fmt, [call("read_file", path="a"), call("list_files"), say("ok")])
    first, _ = run_turn(model, [ASK])
    sent = answered([ASK], first, [("text of a", False)])
    second, _ = run_turn(model, sent)
    sent = answered(sent, second, [("a\nb", False)])
    run_turn(model, [*sent, {"role": "user", "content": "also the footer"}])
    body = model.requests[-1].body
    if fmt == "openai":
        assert model.requests[-1].path == "/v1/chat/completions"
        assert body["messages"][0] == {"role": "system", "content": "You are Command's model."}
        assert body["tools"][0] == {
            "type": "function",
            "function": {"name": "read_file", "description": READ.description, "parameters": READ.parameters},
        }
        assert body["messages"][2]["tool_calls"][0]["function"] == {"name": "read_file", "arguments": '{"path": "a"}'}
        assert body["messages"][3] == {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "text of a"}
        assert body["messages"][-1] == {"role": "user", "content": "also the footer"}
    else:
        assert model.requests[-1].path == "/v1/messages"
        assert body["system"] == "You are Command's model." and body["max_tokens"] == 4096
        assert body["tools"][0] == {
            "name": "read_file",
            "description": READ.description,
            "input_schema": READ.parameters,
        }
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user", "assistant", "user"]
        assert body["messages"][1]["content"] == [
            {"type": "tool_use", "id": first.tool_calls[0].id, "name": "read_file", "input": {"path": "a"}}
        ]
        # the last tool result and the person's next words travel in one user message, result first
        assert body["messages"][-1]["content"] == [
            {"type": "tool_result", "tool_use_id": second.tool_calls[0].id, "content": "a\nb"},
            {"type": "text", "text": "also the footer"},
        ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_consecutive_anthropic_results_share_one_user_message_and_errors_are_flagged(fmt, scripted_model):
    model = scripted_model(fmt, [call("read_file", path="a") + call("read_file", path="b"), say("ok")])
    first, _ = run_turn(model, [ASK])
    run_turn(model, answered([ASK], first, [("A", False), ("no such file: b", True)]))
    messages = model.requests[-1].body["messages"]
    if fmt == "anthropic":
        assert len(messages) == 3
        assert [b["type"] for b in messages[2]["content"]] == ["tool_result", "tool_result"]
        assert messages[2]["content"][1]["is_error"] is True and "is_error" not in messages[2]["content"][0]
    else:
        assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "tool"]
        assert messages[4]["content"] == "[error] no such file: b"
    assert [m["is_error"] for m in model.conversations[1].results()] == [False, True]


@pytest.mark.parametrize("stream", STREAM)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_reactive_script_edits_from_the_text_it_received(fmt, stream, scripted_model):
    def script(convo):
        if convo.turn == 1:
            return call("read_file", path="index.html")
        page = convo.last_result("read_file")
        closing = page[page.index("</main>") :].splitlines()[0]  # computed from what came back
        return call("edit_file", path="index.html", find=closing, replace="<section>Pricing</section>" + closing)

    model = scripted_model(fmt, script)
    first, _ = run_turn(model, [ASK], stream=stream)
    page = "<body>\n<main>\n<h1>Acme</h1>\n</main><!-- 7f3a -->\n<footer/>\n</body>"
    second, _ = run_turn(model, answered([ASK], first, [(page, False)]), stream=stream)
    [edit] = second.tool_calls
    assert edit.arguments == {
        "path": "index.html",
        "find": "</main><!-- 7f3a -->",
        "replace": "<section>Pricing</section></main><!-- 7f3a -->",
    }


@pytest.mark.parametrize("stream", STREAM)
@pytest.mark.parametrize("fmt", FORMATS)
def test_arguments_that_are_not_an_object_are_reported_not_guessed(fmt, stream, scripted_model):
    model = scripted_model(
        fmt, [call_raw("read_file", '{"path": "index.html"') + call_raw("list_files", "[1, 2]") + call("list_files")]
    )
    turn, _ = run_turn(model, [ASK], stream=stream)
    broken, listed, fine = turn.tool_calls
    assert broken.arguments == {} and "not valid JSON" in broken.arguments_error
    assert listed.arguments == {} and "JSON array, not an object" in listed.arguments_error
    assert fine.arguments_error == ""


MALFORMED = {
    "openai": [
        ({"id": "x"}, "no choices[0]"),
        ({"choices": [{"index": 0}]}, "no choices[0].message"),
        ({"choices": [{"message": {"content": ["a"]}}]}, "content had parts that were not text"),
        ({"choices": [{"message": {"content": 7}}]}, "content was not text"),
        ({"choices": [{"message": {"tool_calls": {"id": "c"}}}]}, "tool_calls was not a list"),
        (
            {"choices": [{"message": {"tool_calls": [{"function": {"name": "x"}}]}}]},
            "tool call 0 in the reply had no id",
        ),
        ({"choices": [{"message": {"tool_calls": [{"id": "c", "function": {}}]}}]}, "had no function name"),
        ({"choices": [{"message": {"tool_calls": [{"id": "c"}]}}]}, "had no function"),
        ({"choices": [{"message": {"content": "a"}}], "usage": {"prompt_tokens": -3}}, "not a token count"),
        ({"choices": [{"message": {"content": "a"}}], "usage": {"completion_tokens": "9"}}, "not a token count"),
        ({"choices": [{"message": {"refusal": "no"}}]}, "the model refused"),
        ({"error": {"message": "overloaded"}}, "answered with an error: overloaded"),
        ([1, 2], "not a JSON object"),
    ],
    "anthropic": [
        ({"id": "m"}, "no content blocks"),
        ({"content": "hello"}, "no content blocks"),
        ({"content": [{"type": "image"}]}, "unknown type 'image'"),
        ({"content": [{"type": "text"}]}, "block 0 (text) had no text"),
        ({"content": [{"type": "tool_use", "name": "x", "input": {}}]}, "block 0 (tool_use) had no id"),
        ({"content": [{"type": "tool_use", "id": "t", "input": {}}]}, "block 0 (tool_use) had no name"),
        ({"content": [], "usage": {"input_tokens": 1.5}}, "not a token count"),
        ({"content": [], "stop_reason": 3}, "stop_reason was not text"),
        (
            {"content": [{"type": "tool_use", "id": "t", "name": "a", "input": {}}] * 2},
            "same tool_use id twice",
        ),
        ({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "Overloaded"),
    ],
}


@pytest.mark.parametrize(
    ("fmt", "body", "expected"), [(fmt, body, expected) for fmt, cases in MALFORMED.items() for body, expected in cases]
)
def test_malformed_replies_are_clear_provider_errors(fmt, body, expected, scripted_model):
    model = scripted_model(fmt, [Raw(body=body)])
    with pytest.raises(ProviderError) as caught:
        run_turn(model, [ASK])
    assert expected in caught.value.message
    assert not isinstance(caught.value, ToolsUnsupported)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_reply_that_is_not_json_is_a_provider_error(fmt, scripted_model):
    model = scripted_model(fmt, [Raw(raw=b"<html>gateway</html>", content_type="text/html")])
    with pytest.raises(ProviderError, match="the reply was not JSON"):
        run_turn(model, [ASK])


@pytest.mark.parametrize("stream", STREAM)
@pytest.mark.parametrize("fmt", FORMATS)
def test_tools_unsupported_is_its_own_error_and_not_retried(fmt, stream, scripted_model):
    model = scripted_model(fmt, [], tools_unsupported=True)
    client = model.client(policy=RetryPolicy(max_attempts=3, initial_interval=0.01))
    with pytest.raises(ToolsUnsupported, match="does not support tool"):
        client.chat_turn(system="s", messages=[ASK], tools=TOOLS, on_text=(lambda _: None) if stream else None)
    assert model.count == 1


UNSUPPORTED_MESSAGES = [
    ('"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set', True),
    ("Function calling is not supported by this model", True),
    ("This model doesn't support tools", True),
    ("tools.0.input_schema: JSON schema is invalid", False),
    ("max_tokens: must be at most 8192", False),
]


@pytest.mark.parametrize(("message", "unsupported"), UNSUPPORTED_MESSAGES)
def test_what_counts_as_tools_unsupported(message, unsupported, scripted_model):
    model = scripted_model("openai", [Raw(status=400, body={"error": {"message": message}})])
    with pytest.raises(ProviderError) as caught:
        run_turn(model, [ASK])
    assert isinstance(caught.value, ToolsUnsupported) is unsupported
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("fmt", "stream_bytes", "expected"),
    [
        ("openai", b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n', "ended before"),
        ("openai", b'data: {"error":{"message":"model crashed"}}\n\n', "model crashed"),
        ("openai", b"data: {not json\n\n", "not JSON"),
        (
            "anthropic",
            b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","usage":{"input_tokens":3}}}\n\n'
            b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
            b'"content_block":{"type":"text","text":""}}\n\n',
            "ended before",
        ),
        (
            "anthropic",
            b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
            "Overloaded",
        ),
        (
            "anthropic",
            b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
            "before message_start",
        ),
    ],
)
def test_broken_streams_are_provider_errors(fmt, stream_bytes, expected, scripted_model):
    model = scripted_model(fmt, [Raw(raw=stream_bytes, content_type="text/event-stream")])
    with pytest.raises(ProviderError) as caught:
        run_turn(model, [ASK], stream=True)
    assert expected in caught.value.message


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_server_that_does_not_stream_still_gives_the_text_once(fmt, scripted_model):
    plain = {
        "openai": {"choices": [{"message": {"content": "whole"}, "finish_reason": "stop"}]},
        "anthropic": {"content": [{"type": "text", "text": "whole"}], "stop_reason": "end_turn"},
    }[fmt]
    model = scripted_model(fmt, [Raw(body=plain)])
    turn, pieces = run_turn(model, [ASK], stream=True)
    assert pieces == ["whole"] and turn.text == "whole"


BAD_CONVERSATIONS = [
    ([], "at least one message"),
    ([{"role": "assistant", "content": "hi"}], "first message must be the person's"),
    ([ASK, {"role": "system", "content": "x"}], "role must be user, assistant or tool"),
    ([ASK, {"role": "tool", "tool_call_id": "c1", "name": "read_file", "content": "x"}], "not awaiting a result"),
    (
        [ASK, {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "read_file", "arguments": {}}]}],
        "c1 have no result",
    ),
    (
        [
            ASK,
            {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "read_file", "arguments": {}}]},
            {"role": "user", "content": "and?"},
        ],
        "c1 have no result before it",
    ),
    ([ASK, {"role": "assistant", "content": ""}], "neither text nor tool calls"),
    ([{"role": "user", "content": 5}], "content must be text"),
]


@pytest.mark.parametrize(("messages", "expected"), BAD_CONVERSATIONS)
def test_a_conversation_that_cannot_be_sent_is_refused_before_sending(messages, expected, scripted_model):
    model = scripted_model("anthropic", [say("never")])
    with pytest.raises(ValueError, match=expected):
        run_turn(model, messages)
    assert model.count == 0


def test_bad_tool_specs_are_refused():
    with pytest.raises(ValueError, match="1–64 letters"):
        tools_check([ToolSpec(name="read file", description="", parameters={"type": "object"})])
    with pytest.raises(ValueError, match="offered twice"):
        tools_check([READ, READ])
    with pytest.raises(ValueError, match="type 'object'"):
        tools_check([ToolSpec(name="x", description="", parameters={"type": "string"})])
    messages_check([ASK])  # a plain first turn is fine


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_scripted_model_rejects_what_the_real_provider_rejects(fmt, scripted_model):
    """The test server is as strict as the provider: a result for a call never made is a 400."""
    model = scripted_model(fmt, [say("unreachable")])
    if fmt == "openai":
        body = {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "z", "content": "r"}],
        }
        path = "/v1/chat/completions"
    else:
        result = {"type": "tool_result", "tool_use_id": "z", "content": "r"}
        body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [result]}]}
        path = "/v1/messages"
    import httpx

    response = httpx.post(model.url + path, json=body)
    assert response.status_code == 400
    assert "tool" in json.dumps(response.json())
    assert model.wire_errors and model.conversations == []


def test_tool_call_dataclass_is_the_neutral_interface():
    call_ = ToolCall(id="c", name="n", arguments={"a": 1})
    assert call_.arguments_error == ""
    with pytest.raises(AttributeError):
        call_.name = "other"  # frozen


def test_openai_itself_gets_the_newer_token_limit_field(settings):
    from providers.adapters.openai import OpenAICompatibleClient

    common = {"model": "m", "api_key": "", "timeout": 1, "policy": RetryPolicy()}
    assert (
        OpenAICompatibleClient(base_url="https://api.openai.com/v1", **common)._limit_field == "max_completion_tokens"
    )
    assert OpenAICompatibleClient(base_url="http://127.0.0.1:11434/v1", **common)._limit_field == "max_tokens"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_slow_turn_is_answered_after_its_delay(fmt, scripted_model):
    import time

    model = scripted_model(fmt, [reply(say("late"), delay=0.4)])
    started = time.monotonic()
    turn, _ = run_turn(model, [ASK])
    assert turn.text == "late" and time.monotonic() - started >= 0.4


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_saved_connection_to_the_scripted_model_takes_turns(fmt, owner, scripted_model):
    from providers.adapters import client_for

    model = scripted_model(fmt, [call("list_files")])
    connection = model.connection(owner)
    assert connection.kind == model.kind and connection.is_default
    turn = client_for(connection).chat_turn(system="s", messages=[ASK], tools=TOOLS)
    assert [c.name for c in turn.tool_calls] == ["list_files"]
    seen = model.requests[0].headers
    assert (seen.get("x-api-key") or seen.get("authorization")).endswith("sk-scripted-key-0000")


def test_content_parts_and_index_less_streamed_calls_are_read(scripted_model):
    parts = {"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]}
    model = scripted_model("openai", [Raw(body=parts)])
    assert run_turn(model, [ASK])[0].text == "ab"
    chunks = [
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [{"id": "c1", "function": {"name": "read_file", "arguments": '{"path":"a"}'}}]
                    }
                }
            ]
        },
        {"choices": [{"delta": {"tool_calls": [{"id": "c2", "function": {"name": "list_files", "arguments": "{}"}}]}}]},
        {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
    ]
    stream = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    model = scripted_model("openai", [Raw(raw=stream, content_type="text/event-stream")])
    turn, _ = run_turn(model, [ASK], stream=True)
    assert [(c.id, c.name, c.arguments) for c in turn.tool_calls] == [
        ("c1", "read_file", {"path": "a"}),
        ("c2", "list_files", {}),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_busy_server_is_retried_before_the_stream_starts(fmt, scripted_model):
    model = scripted_model(fmt, [Raw(status=503, body={"error": {"message": "busy"}}), say("streamed after a retry")])
    pieces: list[str] = []
    turn = model.client(policy=RetryPolicy(max_attempts=2, initial_interval=0.01)).chat_turn(
        system="s", messages=[ASK], tools=TOOLS, on_text=pieces.append
    )
    assert turn.text == "streamed after a retry" == "".join(pieces)
    assert model.count == 2


def test_two_assistant_messages_in_a_row_are_one_anthropic_message(scripted_model):
    model = scripted_model("anthropic", [say("ok")])
    run_turn(model, [ASK, {"role": "assistant", "content": "Thinking."}, {"role": "assistant", "content": "Still."}])
    assert [m["role"] for m in model.requests[0].body["messages"]] == ["user", "assistant"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_recorded_transcript_plays_back_turn_by_turn(fmt, scripted_model):
    recorded = json.loads(
        """[{"say": "Looking.", "calls": [{"name": "search", "arguments": {"query": "foo"}}], "usage": [50, 9]},
            {"calls": [{"name": "edit_file", "arguments": {"path": "a.py", "find": "foo", "replace": "bar"}}]},
            {"say": "Renamed."}]"""
    )
    model = scripted_model(fmt, transcript(recorded))
    search = ToolSpec(name="search", description="Search.", parameters={"type": "object", "properties": {}})
    first, _ = run_turn(model, [ASK], tools=[search, EDIT])
    assert first.usage == Usage(50, 9) and first.tool_calls[0].arguments == {"query": "foo"}
    sent = answered([ASK], first, [("a.py:3: foo()", False)])
    second, _ = run_turn(model, sent, tools=[search, EDIT])
    third, _ = run_turn(model, answered(sent, second, [("edited", False)]), tools=[search, EDIT])
    assert third.text == "Renamed." and model.count == 3
    with pytest.raises(ValueError, match="unknown keys"):
        transcript([{"sya": "typo"}])


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_reply_that_uses_one_call_id_twice_is_refused(fmt, scripted_model):
    model = scripted_model(
        fmt, [call_with_id("dup", "list_files", {}) + call_with_id("dup", "read_file", {"path": "a"})]
    )
    with pytest.raises(ProviderError, match="same tool.* id twice"):
        run_turn(model, [ASK])


def test_a_stream_with_the_wrong_content_type_is_still_read_as_a_stream(scripted_model):
    chunks = [
        {"choices": [{"delta": {"content": "Hello "}}]},
        {"choices": [{"delta": {"content": "there"}, "finish_reason": "stop"}]},
    ]
    stream = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    model = scripted_model("openai", [Raw(raw=stream, content_type="application/json")])
    turn, pieces = run_turn(model, [ASK], stream=True)
    assert pieces == ["Hello ", "there"] and turn.text == "Hello there"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_client_that_gives_up_still_counts_as_one_call(fmt, scripted_model):
    model = scripted_model(fmt, [reply(say("too late"), delay=1.0)])
    with pytest.raises(ProviderError, match="no answer within 0.3 s"):
        model.client(timeout=0.3).chat_turn(system="s", messages=[ASK], tools=TOOLS)
    assert model.count == 1
