"""The inbound greeting is short: brokerage, AI disclosure and a question in about four seconds of the local
voice (a long greeting reading back the number the caller just dialled lost callers; it took 10.8 s)."""

from __future__ import annotations

import pytest

from agent.interfaces import SAMPLE_RATE
from agent.phrases import Identity, greeting_text
from agent.providers.piper_tts import PiperTTS

MAX_GREETING_S = 4.0


@pytest.mark.parametrize("business", ["Sunrise Realty", "Lone Star Realty"])
async def test_the_inbound_greeting_lasts_at_most_four_seconds(piper_tts: PiperTTS, business: str) -> None:
    identity = Identity(business, agent_name="Ava", callback_number="+15125550123")
    text = greeting_text(identity, direction="inbound", identify=True, offer_opt_out=False)
    assert business in text and "AI assistant" in text and text.endswith("?")
    audio = b"".join([chunk async for chunk in piper_tts.synthesize(text)])  # mu-law: one byte a sample
    assert 1.0 < len(audio) / SAMPLE_RATE <= MAX_GREETING_S


def test_calls_we_place_still_give_the_callback_number() -> None:
    identity = Identity("Sunrise Realty", agent_name="Ava", callback_number="+15125550123")
    outbound = greeting_text(identity, direction="outbound", identify=True, offer_opt_out=False)
    assert "5 1 2, 5 5 5, 0 1 2 3" in outbound
