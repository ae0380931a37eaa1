"""The conversation benchmark's scoring and corpus (the benchmark itself is run by hand: docs/PERFORMANCE.md)."""

from __future__ import annotations

import numpy as np

from telephony.audio import ulaw_to_pcm16
from telephony.conversation_bench import noisy_utterance, pink_noise
from telephony.conversation_corpus import CONVERSATIONS
from telephony.conversation_scoring import slot_matches, slots_right, word_errors
from telephony.simulator import Utterance
from tests.agent.audio_samples import silence


def test_word_errors_count_numbers_however_they_are_written():
    assert word_errors("Around four hundred thousand.", "around $400,000") == (0, 2)  # "around 400000"
    assert word_errors("I want to sell my condo", "I want to tell my condo") == (1, 6)
    assert word_errors("take me off your list", "take me off list please") == (2, 5)
    assert word_errors("", "hello") == (1, 0)


def test_slots_compare_numbers_exactly_and_text_by_its_words():
    assert slot_matches(400_000, 400_000) and not slot_matches(400_000, 40_000)
    assert slot_matches("spring", "next spring") and slot_matches("3 months", "in the next three months")
    assert not slot_matches("Austin", None) and not slot_matches("Round Rock", "Austin")
    assert slots_right({"intent": "sell", "budget": 2000}, {"intent": "sell"}) == {"intent": True, "budget": False}


def test_the_corpus_covers_the_brief():
    assert len(CONVERSATIONS) >= 12
    assert sum(len(c.lines) for c in CONVERSATIONS) >= 50
    assert sum(c.opt_out for c in CONVERSATIONS) >= 3
    assert {c.slots.get("intent") for c in CONVERSATIONS} >= {"buy", "sell", "rent"}


def test_noise_is_mixed_at_the_asked_ratio():
    tone = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 3000).astype("<i2").tobytes()
    pcm = silence(200) + tone + silence(200)
    clean = Utterance.from_pcm(pcm, "a tone")

    noisy = noisy_utterance(clean, pcm, pink_noise(5.0), snr_db=15.0, offset=0)

    lead = int(0.3 * 8000)
    mixed = np.frombuffer(ulaw_to_pcm16(noisy.ulaw), "<i2").astype(float)
    before = mixed[: lead + 1600]  # line noise only, before the tone
    snr = 20 * np.log10(3000 / np.sqrt(2) / np.sqrt(np.mean(before**2)))
    assert 13 < snr < 17
    assert noisy.speech_start == clean.speech_start + 0.3 and noisy.speech_end == clean.speech_end + 0.3

