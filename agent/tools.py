"""The actions a dialog may ask for, as tool specifications with JSON-schema arguments.

Argument names are part of the contract between the dialogs (scripted and language model) and the session
that carries the calls out through :class:`agent.interfaces.CallActions`.
"""

from __future__ import annotations

from typing import Final

from agent.interfaces import ToolSpec

TRANSFER_TO_HUMAN: Final = "transfer_to_human"
END_CALL: Final = "end_call"
BOOK_APPOINTMENT: Final = "book_appointment"
RECORD_OPT_OUT: Final = "record_opt_out"
TAKE_MESSAGE: Final = "take_message"

END_REASONS: Final = ("completed", "not_interested", "wrong_number", "voicemail", "caller_unresponsive")

TRANSFER_TO_HUMAN_SPEC = ToolSpec(
    name=TRANSFER_TO_HUMAN,
    description=(
        "Transfer the caller to a human agent of the brokerage. Use it when the caller asks for a person, "
        "when they accept an offer to be transferred, or when you cannot help. Tell the caller you are "
        "connecting them before calling it."
    ),
    parameters={
        "type": "object",
        "properties": {
            "reason": {"type": "string", "description": "Why the caller is being transferred, in a few words."}
        },
        "required": ["reason"],
        "additionalProperties": False,
    },
)

END_CALL_SPEC = ToolSpec(
    name=END_CALL,
    description=(
        "Hang up after your last sentence has played. Say goodbye first. Use it when the conversation is "
        "complete, the caller is not interested, or it is a wrong number."
    ),
    parameters={
        "type": "object",
        "properties": {"reason": {"type": "string", "enum": list(END_REASONS)}},
        "required": ["reason"],
        "additionalProperties": False,
    },
)

BOOK_APPOINTMENT_SPEC = ToolSpec(
    name=BOOK_APPOINTMENT,
    description=(
        "Book an appointment between the caller and one of the brokerage's agents once the caller has agreed "
        "to a specific day and time. Returns a confirmation to read back to the caller."
    ),
    parameters={
        "type": "object",
        "properties": {
            "starts_at": {
                "type": "string",
                "description": (
                    "Start of the appointment as an ISO 8601 local date-time in the brokerage's time zone, "
                    "for example 2025-06-04T15:00."
                ),
            },
            "notes": {
                "type": "string",
                "description": "What the agent should know: intent, area, property type, budget, timeline.",
            },
        },
        "required": ["starts_at", "notes"],
        "additionalProperties": False,
    },
)

RECORD_OPT_OUT_SPEC = ToolSpec(
    name=RECORD_OPT_OUT,
    description=(
        "The caller does not want to be called again (for example 'stop calling me', 'take me off your list', "
        "'do not call'). Records the request on the brokerage's Do-Not-Call list at once; the call then ends "
        "with a short confirmation."
    ),
    parameters={
        "type": "object",
        "properties": {
            "how": {"type": "string", "description": "The caller's words, quoted briefly."},
        },
        "required": ["how"],
        "additionalProperties": False,
    },
)

TAKE_MESSAGE_SPEC = ToolSpec(
    name=TAKE_MESSAGE,
    description=(
        "Record a message for an agent to call the caller back, when no one can take the call now (a "
        "transfer is unavailable). Ask what to pass along first; thank the caller after."
    ),
    parameters={
        "type": "object",
        "properties": {
            "message": {"type": "string", "description": "What the caller wants the agent to know."},
        },
        "required": ["message"],
        "additionalProperties": False,
    },
)

AGENT_TOOLS: Final = (
    TRANSFER_TO_HUMAN_SPEC, END_CALL_SPEC, BOOK_APPOINTMENT_SPEC, RECORD_OPT_OUT_SPEC, TAKE_MESSAGE_SPEC
)  # fmt: skip
"""Every tool the real-estate agent offers a dialog, in a stable order."""
