"""Scoring a benchmark conversation: word errors of what was heard, and the qualification that was stored."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agent.spoken_numbers import words_to_digits


def normalized_words(text: str) -> list[str]:
    """Lower-case words with numbers as digits, so "$400,000" and "four hundred thousand" compare equal."""
    digits = re.sub(r"(?<=\d),(?=\d{3}\b)", "", words_to_digits(text.lower()))
    return re.findall(r"[a-z0-9']+", digits.replace("-", " "))


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words): the word error rate's two terms."""
    ref, hyp = normalized_words(reference), normalized_words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, start=1):
        previous, row[0] = row[:], i
        for j, heard in enumerate(hyp, start=1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (word != heard))
    return row[-1], len(ref)


def slot_matches(expected: Any, stored: Any) -> bool:
    """A stored slot holds the expected value: numbers equal, text containing the expected words."""
    if stored is None:
        return False
    if isinstance(expected, int):
        return isinstance(stored, int | float) and int(stored) == expected
    wanted = " ".join(normalized_words(str(expected)))
    return wanted in " ".join(normalized_words(str(stored)))


def slots_right(expected: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, bool]:
    return {name: slot_matches(value, stored.get(name)) for name, value in expected.items()}
