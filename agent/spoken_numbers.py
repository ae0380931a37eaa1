"""Numbers as a speech recognizer writes them: "four hundred fifty thousand", "one point two million".

:func:`words_to_digits` rewrites runs of English number words as digits and leaves everything else alone,
so later patterns only have to understand digits ("450000", "1.2 million" -> "1200000").
"""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TEENS) | frozenset(_TENS) | {"hundred"} | frozenset(_SCALES)
_WORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_RUN_TOKEN = rf"(?:\d+(?:\.\d+)?|(?:{_WORD})(?:-(?:{_WORD}))*|a|and|point|half)"
_RUN = re.compile(rf"(?<![\w.,]){_RUN_TOKEN}(?:\s+{_RUN_TOKEN})*(?!\w)", re.IGNORECASE)


def words_to_digits(text: str, *, group_thousands: bool = False) -> str:
    """Rewrite English number words as digits: "around four hundred fifty thousand" -> "around 450000".

    Also understood: "a hundred", "a million", "half a million", "one and a half million", "one point two
    million", "twenty five hundred", hyphens ("forty-five") and "and" inside a number ("two hundred and
    fifty"). Digits followed by a scale word are combined too ("1.2 million" -> "1200000"). A run that cannot
    continue (for example "five five") starts a new number. Everything else is left exactly as it was.

    ``group_thousands`` writes a number said with a scale word with thousands separators ("four hundred
    thousand" -> "400,000"), so a reader can tell a spoken amount from a code read digit by digit.
    """
    return _RUN.sub(lambda match: _rewrite_run(match, group_thousands=group_thousands), text)


def _rewrite_run(match: re.Match[str], *, group_thousands: bool) -> str:
    words = match.group(0).split()
    out: list[str] = []
    i = 0
    while i < len(words):
        consumed, value = _parse_number(words, i)
        if consumed:
            scaled = any(w.lower() in _SCALES for w in words[i : i + consumed])
            out.append(_format(value, grouped=group_thousands and scaled))
            i += consumed
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


def _format(value: float, *, grouped: bool = False) -> str:
    if value == int(value):
        return f"{int(value):,}" if grouped else str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _split(word: str) -> list[str]:
    return word.lower().split("-")


def _parse_number(words: list[str], start: int) -> tuple[int, float]:
    """Parse a number starting at ``words[start]``; returns (tokens consumed, value), (0, 0) if none."""
    first = words[start].lower()
    if first == "half" and _lower(words, start + 1) == "a" and _lower(words, start + 2) in _SCALES:
        return 3, 0.5 * _SCALES[_lower(words, start + 2)]
    if first == "a" and _lower(words, start + 1) in ("hundred", *_SCALES):
        consumed, value = _parse_number(["one", *words[start + 1 :]], 0)
        return consumed, value
    if _is_decimal(first):
        value = float(first)
        nxt = _lower(words, start + 1)
        if nxt in _SCALES:
            return 2, value * _SCALES[nxt]
        if nxt == "hundred" and _lower(words, start + 2) in _SCALES:
            return 3, value * 100 * _SCALES[_lower(words, start + 2)]
        return 0, 0
    if not all(part in _NUMBER_WORDS for part in _split(first)) or first in ("hundred", *_SCALES):
        return 0, 0

    total = 0.0
    current = 0.0
    i = start
    last = start
    while i < len(words):
        word = words[i].lower()
        if word == "and" and i > start:
            if _lower(words, i + 1) == "a" and _lower(words, i + 2) == "half":
                current += 0.5
                i += 3
                last = i
                continue
            if _lower(words, i + 1) in _NUMBER_WORDS:
                i += 1
                continue
            break
        if word == "point" and i > start and _lower(words, i + 1) in _UNITS:
            fraction = ""
            j = i + 1
            while _lower(words, j) in _UNITS:
                fraction += str(_UNITS[_lower(words, j)])
                j += 1
            current += float(f"0.{fraction}")
            i = j
            last = i
            continue
        parts = _split(word)
        if not all(p in _NUMBER_WORDS for p in parts):
            break
        ok = True
        for part in parts:
            if not _can_add(part, current):
                ok = False
                break
            current = _add(part, current)
            if part in _SCALES:
                total += current
                current = 0.0
        if not ok:
            break
        i += 1
        last = i
    if last == start:
        return 0, 0
    return last - start, total + current


def _can_add(part: str, current: float) -> bool:
    if part in _UNITS:
        return current == 0 or (current % 10 == 0 and current % 100 != 0) or current % 100 == 0
    if part in _TEENS or part in _TENS:
        return current % 100 == 0
    return True


def _add(part: str, current: float) -> float:
    if part in _UNITS:
        return current + _UNITS[part]
    if part in _TEENS:
        return current + _TEENS[part]
    if part in _TENS:
        return current + _TENS[part]
    if part == "hundred":
        return (current or 1) * 100
    return (current or 1) * _SCALES[part]


def _lower(words: list[str], i: int) -> str:
    return words[i].lower() if i < len(words) else ""


def _is_decimal(word: str) -> bool:
    return bool(re.fullmatch(r"\d+(?:\.\d+)?", word))
