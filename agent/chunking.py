"""Cut a streaming reply into pieces a voice can say, as early as they make sense on their own.

Text-to-speech needs whole phrases for natural prosody, but the caller should hear the first words as soon as
possible. So the first chunk goes out at the first sentence end, or, when the first sentence is long, at the
first clause break (comma, semicolon, colon, dash) once it is ``first_clause_min_chars`` long. Later chunks go
out at sentence ends, at clause breaks only past ``max_chars``, and at a word break past ``hard_max_chars``.

A full stop only ends a sentence when whitespace follows it, so numbers and prices ("$1.2 million",
"$450,000") never split, and not after titles and abbreviations ("St.", "Dr.", "Mr."), initials ("J. Smith",
"U.S.") or an abbreviation followed by a lowercase word ("approx. two weeks").
"""

from __future__ import annotations

from dataclasses import dataclass

_SENTENCE_END = ".!?…"
_CLAUSE_BREAK = ",;:—–"
_CLOSERS = "\"')]}”’"
_NEVER_SPLIT_AFTER = frozenset({"mr", "mrs", "ms", "dr", "prof", "st", "mt", "ft", "no", "vs", "approx", "sq"})
"""Titles and the like: the next word belongs to the same sentence even when capitalised."""
_ABBREVIATIONS = frozenset(
    {"ave", "blvd", "rd", "ln", "hwy", "apt", "ste", "jr", "sr", "inc", "ltd", "co", "corp", "etc", "est", "min"}
)
"""Abbreviations that may also end a sentence: split only when the next word is capitalised."""


@dataclass(frozen=True, slots=True)
class ChunkingConfig:
    first_clause_min_chars: int = 24
    """The first chunk may end at a clause break once it is this long."""
    max_chars: int = 160
    """Later chunks end at their last clause break once the text reaches this length."""
    hard_max_chars: int = 250
    """Past this, text is cut at a word break whatever the punctuation."""


class SentenceChunker:
    """Feed text deltas with :meth:`push`, collect chunks; :meth:`flush` returns whatever is left."""

    def __init__(self, config: ChunkingConfig | None = None) -> None:
        self._config = config or ChunkingConfig()
        self._buffer = ""
        self._scan_from = 0
        self._last_clause: int | None = None
        self._emitted = 0

    def push(self, text: str) -> list[str]:
        """Add a piece of the reply; returns the chunks that became complete (often none)."""
        if not text:
            return []
        self._buffer += text
        chunks: list[str] = []
        while (cut := self._next_cut()) is not None:
            chunk = self._buffer[:cut].strip()
            self._buffer = self._buffer[cut:].lstrip()
            self._scan_from = 0
            self._last_clause = None
            if any(c.isalnum() for c in chunk):
                chunks.append(chunk)
                self._emitted += 1
        return chunks

    def flush(self) -> str | None:
        """End of the reply: the remaining text, if any."""
        rest = self._buffer.strip()
        self._buffer = ""
        self._scan_from = 0
        self._last_clause = None
        if any(c.isalnum() for c in rest):
            self._emitted += 1
            return rest
        return None

    def _next_cut(self) -> int | None:
        buf = self._buffer
        cfg = self._config
        first = self._emitted == 0
        # A break is only known once the character after it has arrived, so the scan stops one short of the
        # end and resumes there on the next push.
        i = self._scan_from
        while i < len(buf) - 1:
            ch = buf[i]
            if ch == "\n" and buf[:i].strip():
                return i + 1
            if ch in _SENTENCE_END or ch in _CLAUSE_BREAK:
                end = _skip_closers(buf, i + 1)
                if end >= len(buf):
                    break
                if buf[end].isspace():
                    if ch in _SENTENCE_END:
                        if _ends_sentence(buf, i, end):
                            return end
                    elif ch != "," or not _inside_number(buf, i):
                        if first and end >= cfg.first_clause_min_chars:
                            return end
                        self._last_clause = end
                i = end
                continue
            i += 1
        self._scan_from = i
        if not first and self._last_clause is not None and len(buf) >= cfg.max_chars:
            return self._last_clause
        if len(buf) >= cfg.hard_max_chars:
            space = buf.rfind(" ", 0, cfg.hard_max_chars)
            return space + 1 if space > 0 else cfg.hard_max_chars
        return None


def _skip_closers(buf: str, i: int) -> int:
    while i < len(buf) and (buf[i] in _CLOSERS or buf[i] in _SENTENCE_END):
        i += 1
    return i


def _inside_number(buf: str, comma: int) -> bool:
    return comma > 0 and buf[comma - 1].isdigit() and comma + 1 < len(buf) and buf[comma + 1].isdigit()


def _ends_sentence(buf: str, mark: int, after: int) -> bool:
    """Whether the punctuation at ``mark`` (followed by whitespace at ``after``) ends a sentence."""
    if buf[mark] != ".":
        return True
    start = mark
    while start > 0 and (buf[start - 1].isalpha() or buf[start - 1] == "."):
        start -= 1
    word = buf[start:mark]
    next_word = buf[after:].lstrip()
    next_is_capital = bool(next_word) and next_word[0].isupper()
    bare = word.replace(".", "").lower()
    if len(bare) == 1 and word[-1].isupper():
        return False  # an initial: "J. Smith", "U.S."
    if "." in word:
        return next_is_capital and bare not in ("am", "pm", "ie", "eg")
    if bare in _NEVER_SPLIT_AFTER:
        return False
    if bare in _ABBREVIATIONS:
        return next_is_capital
    return True
