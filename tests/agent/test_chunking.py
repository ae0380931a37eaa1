from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.chunking import ChunkingConfig, SentenceChunker


def chunk(text: str, *, step: int = 3, config: ChunkingConfig | None = None) -> list[str]:
    """Feed ``text`` in pieces of ``step`` characters, like a token stream."""
    chunker = SentenceChunker(config)
    out: list[str] = []
    for i in range(0, len(text), step):
        out.extend(chunker.push(text[i : i + step]))
    rest = chunker.flush()
    if rest:
        out.append(rest)
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sure. I can help with that!", ["Sure.", "I can help with that!"]),
        ("Is that right? Great.", ["Is that right?", "Great."]),
        (
            "The list price is $450,000, which is fair. Want to see it?",
            ["The list price is $450,000,", "which is fair.", "Want to see it?"],
        ),
        ("That's about $1.2 million. Nice.", ["That's about $1.2 million.", "Nice."]),
        ("It's on Main St. near the park. Lovely.", ["It's on Main St. near the park.", "Lovely."]),
        ("Dr. Smith will call. Bye.", ["Dr. Smith will call.", "Bye."]),
        ("Ask for J. Smith at the office. Thanks.", ["Ask for J. Smith at the office.", "Thanks."]),
        ("We cover the U.S. and Canada. Okay?", ["We cover the U.S. and Canada.", "Okay?"]),
        ("It takes approx. two weeks. Fine.", ["It takes approx. two weeks.", "Fine."]),
        ("See you at 3 p.m. tomorrow. Bye.", ["See you at 3 p.m. tomorrow.", "Bye."]),
        ("Well... let me check. Yes.", ["Well...", "let me check.", "Yes."]),
        ('He said "great." Then left.', ['He said "great."', "Then left."]),
        ("Line one\nLine two", ["Line one", "Line two"]),
        ("No punctuation at all", ["No punctuation at all"]),
    ],
)
def test_chunks(text: str, expected: list[str]) -> None:
    assert chunk(text) == expected
    assert chunk(text, step=1) == expected
    assert chunk(text, step=len(text)) == expected


def test_long_first_clause_is_cut_at_a_comma() -> None:
    text = "Great, thanks for letting me know about the condo, I can definitely help you with that."
    first, *rest = chunk(text)
    assert first == "Great, thanks for letting me know about the condo,"
    assert rest == ["I can definitely help you with that."]


def test_short_first_clause_waits_for_more() -> None:
    assert chunk("Great, thanks. Next question.") == ["Great, thanks.", "Next question."]


def test_later_chunks_cut_at_clauses_only_when_long() -> None:
    config = ChunkingConfig(max_chars=60)
    text = (
        "Okay. The home has four bedrooms, three baths, a large yard, a pool, and a two car garage, "
        "plus a finished basement"
    )
    chunks = chunk(text, config=config)
    assert chunks[0] == "Okay."
    assert all(len(c) <= 100 for c in chunks)
    assert chunks[1].endswith(",")


def test_text_without_breaks_is_cut_at_a_word_boundary() -> None:
    text = " ".join(["word"] * 100)
    chunks = chunk(text, config=ChunkingConfig(hard_max_chars=50))
    assert all(len(c) <= 50 for c in chunks)
    assert " ".join(chunks) == text


def test_first_chunk_is_ready_before_the_reply_ends() -> None:
    chunker = SentenceChunker()
    assert chunker.push("Sure") == []
    assert chunker.push(".") == []  # not yet known to end a sentence
    assert chunker.push(" Let") == ["Sure."]


def test_punctuation_only_is_dropped() -> None:
    assert chunk("... ") == []


@given(st.lists(st.sampled_from(["Hi", "there", "St.", "$450,000,", "okay.", "well,", "3.5", "yes!", "No.", "\n"]),
                max_size=40),
       st.integers(min_value=1, max_value=12))  # fmt: skip
def test_no_word_is_lost_or_reordered(words: list[str], step: int) -> None:
    text = " ".join(words)
    assert re.findall(r"\S+", " ".join(chunk(text, step=step))) == re.findall(r"\S+", text)
