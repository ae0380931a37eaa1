from __future__ import annotations

from datetime import UTC, datetime

from agent import phrases
from agent.interfaces import DialogContext, Qualification
from agent.phrases import Identity, cacheable_phrases, greeting_text, speakable_phone_number
from agent.prompts import build_system_prompt
from agent.tools import AGENT_TOOLS


def test_tool_specs_are_well_formed_json_schemas() -> None:
    names = [spec.name for spec in AGENT_TOOLS]
    assert names == ["transfer_to_human", "end_call", "book_appointment", "record_opt_out", "take_message"]
    for spec in AGENT_TOOLS:
        schema = spec.parameters
        assert schema["type"] == "object"
        assert set(schema["required"]) <= set(schema["properties"])
        assert schema["additionalProperties"] is False
        assert spec.description


def context(**overrides: object) -> DialogContext:
    values: dict[str, object] = {
        "business_name": "Acme Realty",
        "agent_name": "Ava",
        "language": "en-US",
        "direction": "inbound",
        "purpose": None,
        "now": datetime(2025, 6, 3, 15, 0, tzinfo=UTC),
        "timezone": "America/Chicago",
    }
    values.update(overrides)
    return DialogContext(**values)  # type: ignore[arg-type]


def test_system_prompt_names_the_business_discloses_ai_and_lists_goals() -> None:
    prompt = build_system_prompt(context(), callback_number="+15125550123", offer_opt_out=False)
    assert "Acme Realty" in prompt
    assert "AI" in prompt and "Never claim to be human" in prompt
    assert "pre-approved" in prompt and "email" in prompt
    assert "5 1 2, 5 5 5, 0 1 2 3" in prompt
    assert "Tuesday, June 03, 2025, 10:00 AM (America/Chicago)" in prompt
    assert "say stop or press 9" not in prompt


def test_system_prompt_for_marketing_calls_and_known_facts() -> None:
    ctx = context(
        direction="outbound",
        purpose="marketing",
        qualification=Qualification(intent="sell", area="Austin"),
        instructions="Mention our spring open house.",
    )
    prompt = build_system_prompt(ctx, callback_number=None, offer_opt_out=True)
    assert "say stop or press 9" in prompt and "record_opt_out" in prompt
    assert "intent: sell, area: Austin" in prompt
    assert "whether they want to buy, sell or rent" not in prompt.split("Still to learn:")[1]
    assert prompt.rstrip().endswith("Mention our spring open house.")


def test_greeting_names_the_brokerage_and_the_ai() -> None:
    identity = Identity("Acme Realty", agent_name="Ava", callback_number="+1 (512) 555-0123")
    inbound = greeting_text(identity, direction="inbound", identify=True, offer_opt_out=False)
    assert "Acme Realty" in inbound and "AI assistant" in inbound
    # the callback number is owed on calls we place (47 CFR 64.1200(b)(2)); the caller just dialled it
    assert "5 1 2" not in inbound and inbound.endswith("?")
    outbound = greeting_text(identity, direction="outbound", identify=True, offer_opt_out=True)
    identification = outbound.index("5 1 2")
    assert outbound.index("say stop or press 9") > identification  # the opt-out follows the identification
    assert "calling on behalf of Acme Realty" in outbound
    bare = greeting_text(identity, direction="inbound", identify=False, offer_opt_out=False)
    assert "5 1 2" not in bare


def test_speakable_phone_numbers() -> None:
    assert speakable_phone_number("+15125550123") == "5 1 2, 5 5 5, 0 1 2 3"
    assert speakable_phone_number("+442071234567") == "4 4 2, 0 7 1, 2 3 4, 5 6 7"


def test_cacheable_phrases_start_with_the_greeting_and_cover_the_fixed_lines() -> None:
    identity = Identity("Acme Realty")
    cacheable = cacheable_phrases(identity, direction="inbound", identify=False, offer_opt_out=False)
    assert cacheable[0] == greeting_text(identity, direction="inbound", identify=False, offer_opt_out=False)
    assert {phrases.APOLOGY_OFFER_TRANSFER, phrases.TRANSFERRING, phrases.OPT_OUT_CONFIRMED} <= set(cacheable)
