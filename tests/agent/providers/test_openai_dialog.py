"""The OpenAI dialog against a local chat-completions double speaking the documented SSE stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from typing import cast

import pytest

from agent.interfaces import (
    DialogContext,
    DialogEvent,
    Message,
    ProviderError,
    Qualification,
    TextDelta,
    ToolCall,
    ToolSpec,
)
from agent.providers.openai_dialog import OpenAIDialog

from .openai_double import ChatCompletionsDouble, chunk, serving, text_reply, tool_call_fragments

API_KEY = "sk-test-0123456789"
TRANSFER = ToolSpec(
    name="transfer_to_human",
    description="Hand the call to a human agent.",
    parameters={"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]},
)
END_CALL = ToolSpec(name="end_call", description="Hang up.", parameters={"type": "object", "properties": {}})


@pytest.fixture
async def double() -> AsyncIterator[ChatCompletionsDouble]:
    async with serving(ChatCompletionsDouble()) as served:
        yield served


@pytest.fixture
async def dialog(double: ChatCompletionsDouble) -> AsyncIterator[OpenAIDialog]:
    provider = OpenAIDialog(api_key=API_KEY, base_url=double.base_url, first_token_timeout=2.0, read_timeout=2.0)
    yield provider
    await provider.aclose()


def context(*history: Message) -> DialogContext:
    return DialogContext(
        business_name="Sunrise Realty",
        agent_name="Ava",
        language="en-US",
        direction="inbound",
        purpose=None,
        history=list(history),
        qualification=Qualification(intent="sell", area="Austin"),
        now=datetime(2025, 3, 14, 16, 30, tzinfo=UTC),
        timezone="America/Chicago",
        instructions="Qualify the caller politely. Keep replies short.",
    )


async def collect(events: AsyncIterator[DialogEvent]) -> list[DialogEvent]:
    return [event async for event in events]


async def test_text_streams_as_deltas_in_order(double: ChatCompletionsDouble, dialog: OpenAIDialog):
    double.chunks = text_reply("Great,", " when are you", " hoping to sell?")

    history = context(Message(role="user", content="I want to sell my condo."))
    events = await collect(dialog.respond(history, [TRANSFER]))

    assert events == [TextDelta("Great,"), TextDelta(" when are you"), TextDelta(" hoping to sell?")]
    (request,) = double.requests
    assert double.authorizations == [f"Bearer {API_KEY}"]
    assert request["model"] == "gpt-4o-mini" and request["stream"] is True
    system, user = request["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith("Qualify the caller politely. Keep replies short.")
    assert "Sunrise Realty" in system["content"] and "Ava" in system["content"]
    assert "Friday 2025-03-14 11:30 (America/Chicago)" in system["content"]
    assert '"intent": "sell"' in system["content"]
    assert user == {"role": "user", "content": "I want to sell my condo."}
    assert request["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "transfer_to_human",
                "description": "Hand the call to a human agent.",
                "parameters": TRANSFER.parameters,
            },
        }
    ]


async def test_streamed_tool_calls_are_assembled_with_parsed_arguments(
    double: ChatCompletionsDouble, dialog: OpenAIDialog
):
    double.chunks = [
        chunk({"role": "assistant", "content": "One moment."}),
        *tool_call_fragments(0, "call_a", "transfer_to_human", '{"rea', 'son": "caller ', 'asked"}'),
        *tool_call_fragments(1, "call_b", "end_call"),
        chunk({}, finish_reason="tool_calls"),
    ]

    history = context(Message(role="user", content="A person, please."))
    events = await collect(dialog.respond(history, [TRANSFER, END_CALL]))

    assert events == [
        TextDelta("One moment."),
        ToolCall(id="call_a", name="transfer_to_human", arguments={"reason": "caller asked"}),
        ToolCall(id="call_b", name="end_call", arguments={}),
    ]


async def test_history_carries_tool_calls_and_their_results(double: ChatCompletionsDouble, dialog: OpenAIDialog):
    double.chunks = text_reply("You're booked.")
    booking = ToolCall(id="call_1", name="book_appointment", arguments={"starts_at": "2025-03-15T10:00"})
    history = (
        Message(role="user", content="Tomorrow at ten works."),
        Message(role="assistant", content="", tool_calls=(booking,)),
        Message(role="tool", content="Booked for Saturday 10:00.", tool_call_id="call_1"),
    )

    await collect(dialog.respond(context(*history), []))

    messages = double.requests[0]["messages"][1:]
    assert messages == [
        {"role": "user", "content": "Tomorrow at ten works."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "book_appointment", "arguments": '{"starts_at": "2025-03-15T10:00"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Booked for Saturday 10:00."},
    ]
    assert "tools" not in double.requests[0]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}),
        (429, {"message": "Rate limit reached.", "type": "requests", "code": "rate_limit_exceeded"}),
        (500, {"message": "The server had an error.", "type": "server_error", "code": None}),
    ],
)
async def test_error_statuses_are_provider_errors(double: ChatCompletionsDouble, dialog: OpenAIDialog, status, error):
    double.status, double.error = status, error

    with pytest.raises(ProviderError, match=f"OpenAI answered {status}: {error['message']}") as caught:
        await collect(dialog.respond(context(Message(role="user", content="Hello?")), []))
    assert API_KEY not in str(caught.value)
    assert len(double.requests) == 1  # no retry: the agent falls back instead


async def test_no_first_token_in_time_is_a_provider_error(double: ChatCompletionsDouble):
    double.chunks, double.delay_before_first = text_reply("Too late."), 1.0
    dialog = OpenAIDialog(api_key=API_KEY, base_url=double.base_url, first_token_timeout=0.2)

    with pytest.raises(ProviderError, match="no token within 0.2 s"):
        await collect(dialog.respond(context(Message(role="user", content="Hello?")), []))
    await dialog.aclose()


async def test_unreachable_server_is_a_provider_error():
    dialog = OpenAIDialog(api_key=API_KEY, base_url="http://127.0.0.1:9/v1", first_token_timeout=2.0)

    with pytest.raises(ProviderError, match="OpenAI request failed"):
        await collect(dialog.respond(context(Message(role="user", content="Hello?")), []))
    await dialog.aclose()


async def test_malformed_tool_arguments_are_a_provider_error(double: ChatCompletionsDouble, dialog: OpenAIDialog):
    truncated = tool_call_fragments(0, "call_a", "end_call", '{"reason": ')
    double.chunks = [*truncated, chunk({}, finish_reason="tool_calls")]

    with pytest.raises(ProviderError, match="invalid JSON arguments for end_call"):
        await collect(dialog.respond(context(Message(role="user", content="Bye.")), [END_CALL]))


async def test_consumer_can_stop_early(double: ChatCompletionsDouble, dialog: OpenAIDialog):
    double.chunks = text_reply(*(f"word{i} " for i in range(50)))

    replies = cast(AsyncGenerator[DialogEvent, None], dialog.respond(context(Message(role="user", content="Hi.")), []))
    first = await anext(replies)
    await replies.aclose()  # barge-in: the caller spoke over the reply

    assert first == TextDelta("word0 ")
