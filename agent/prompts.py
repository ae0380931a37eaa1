"""The system prompt for a language-model dialog: who it speaks for, what it must find out, what it must say.

The session keeps this prompt as the first message of the history and rebuilds it every turn, so the model
always sees the current local time (to resolve "tomorrow at 3") and what is already known about the caller.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from agent.interfaces import DialogContext
from agent.phrases import OPT_OUT_OFFER, speakable_phone_number
from agent.qualification import missing

_FIELD_QUESTIONS = {
    "intent": "whether they want to buy, sell or rent",
    "area": "the city, neighborhood or zip code",
    "property_type": "the type of property (house, condo, townhouse, land...)",
    "timeline": "their timeline",
    "budget": "their budget, or for sellers the price they have in mind (monthly rent for renters)",
    "financing": "whether they are pre-approved for a mortgage or paying cash (buyers only)",
    "name": "their name",
    "email": "their email address",
}


def build_system_prompt(context: DialogContext, *, callback_number: str | None, offer_opt_out: bool) -> str:
    """The instructions for a language model speaking for ``context.business_name`` on this call."""
    zone = ZoneInfo(context.timezone)
    now = (context.now or datetime.now(zone)).astimezone(zone)
    known = context.qualification.as_dict()
    still_missing = [_FIELD_QUESTIONS[f] for f in missing(context.qualification)]
    call = (
        "The caller phoned the brokerage."
        if context.direction == "inbound"
        else ("You placed this call to a lead who recently contacted the brokerage.")
    )
    lines = [
        f"You are {context.agent_name}, an AI voice assistant answering the phone for {context.business_name}, "
        "a real-estate brokerage. You are on a live phone call; everything you write is spoken aloud.",
        call,
        "",
        "How to speak:",
        "- Short, warm, natural sentences; one question at a time; no lists, markdown, emojis or URLs.",
        '- Say numbers the way people say them ("four hundred fifty thousand dollars").',
        "- Never claim to be human. If asked, say you are an AI assistant for the brokerage.",
        "- Do not give legal, tax or lending advice, and do not promise prices or availability.",
        "",
        "Your goal is to qualify the caller for one of the brokerage's agents. Find out: "
        + "; ".join(_FIELD_QUESTIONS.values())
        + ". Then offer to book an appointment with an agent or "
        + ("to transfer them to an agent now." if context.can_transfer else "to have an agent call them back."),
        "Callers are heard through a speech recognizer that mishears: if a place, amount or name sounds wrong "
        'or unlikely, ask again rather than guess. Amounts like "four fifty" mean 450,000 when the talk is '
        "of home prices.",
        f"Already known: {_describe(known)}.",
        f"Still to learn: {'; '.join(still_missing) if still_missing else 'nothing'}.",
        "",
        "Tools:",
        "- book_appointment once the caller agrees to a specific day and time; read back the confirmation.",
        *(
            [
                "- transfer_to_human when the caller asks for a person, accepts a transfer, or you cannot help; "
                "say you are connecting them first."
            ]
            if context.can_transfer
            else [
                "- Nobody can take a transfer on this line: never offer or promise one. When the caller asks "
                "for a person, offer a callback, ask what to pass along, then call take_message with it."
            ]
        ),
        "- end_call after saying goodbye, when the conversation is over or the caller is not interested.",
        '- record_opt_out at once if the caller asks not to be called again ("stop calling me", "take me '
        'off your list", "do not call", "remove my number", "unsubscribe"), then confirm briefly. When the '
        'words might mean that but are unclear ("don\'t call me at work"), ask once whether they want their '
        "number taken off the call list.",
        "",
        "Compliance:",
        f"- You identified yourself as {context.business_name}'s AI assistant at the start of the call; "
        "if asked who is calling, say so again"
        + (f" and give the callback number {speakable_phone_number(callback_number)}." if callback_number else "."),
    ]
    if offer_opt_out:
        lines.append(
            f'- This is a marketing call. The caller was told: "{OPT_OUT_OFFER}" Honour any such request '
            "immediately with record_opt_out."
        )
    lines += [
        "",
        f"Current local time at the brokerage: {now:%A, %B %d, %Y, %I:%M %p} ({context.timezone}). "
        'Resolve relative days like "tomorrow" against it.',
    ]
    if context.service_areas:
        lines += ["", f"The brokerage serves: {', '.join(context.service_areas)}."]
    if context.instructions.strip():
        lines += ["", "Instructions from the brokerage:", context.instructions.strip()]
    return "\n".join(lines)


def _describe(known: dict[str, object]) -> str:
    if not known:
        return "nothing yet"
    return ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in known.items())
