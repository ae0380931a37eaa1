"""What ``phonenumbers`` says about a NANP number in E.164 form, memoised per leading digits.

For "+1" followed by ten digits with an area code of 2-9, ``phonenumbers`` decides validity, type and region from
the national number's patterns alone. A pattern alternative that ends in ``\\d{k}`` reads only the first 10 - k
digits of a ten-digit number, and one whose leading literal digits differ from a number's cannot match it at all.
So each area code has a number of leading digits that decides every answer under it: the most that any
alternative (or region's leading-digits pattern) that may match it reads, at least four (area code and the
exchange's first digit). Most area codes need four (``[2-9]\\d{6}`` after the area code), those with patterns
naming exchanges six, and one careful answer per such prefix serves every number under it. The metadata is read
once; area codes with a pattern that reads further than six digits (Barbados 246 and Jamaica 876 in phonenumbers
9.0) are answered number by number, and when the reading cannot tell, nothing is memoised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata
from phonenumbers.phonenumberutil import _number_type_helper

NANP_E164_SHAPE = re.compile(r"\+1[2-9]\d{9}")
"""The inputs ``nanp_facts`` answers: already E.164, so ``phonenumbers.parse`` would change nothing."""

_MIN_PREFIX = 4
_MAX_PREFIX = 6
_QUANTIFIERS = ("?", "*", "+", "{")
_FREE_TAIL = re.compile(r"\\d\{(\d+)\}$")
_SIMPLE_LEADING = re.compile(r"[0-9\[\]\-]+")
_DESCRIPTIONS = (
    "general_desc",
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)


@dataclass(frozen=True, slots=True)
class NanpFacts:
    valid: bool
    """False when ``phonenumbers`` finds no number type (the careful parse raises)."""
    region: str
    geographic: bool


def nanp_facts(e164: str) -> NanpFacts:
    """The facts of ``e164``, which must match ``NANP_E164_SHAPE``."""
    national = e164[2:]
    lengths = _prefix_lengths()
    length = lengths.get(national[:3]) if lengths is not None else None
    if length is None:
        return _careful(national)
    return _by_prefix(national[:length])


@lru_cache(maxsize=1 << 17)
def _by_prefix(prefix: str) -> NanpFacts:
    return _careful(prefix + "0" * (10 - len(prefix)))


def _careful(national: str) -> NanpFacts:
    # What phonenumbers.region_code_for_number and then number_type compute (national has no leading zero), with
    # the number type of the region found by full validation kept rather than computed a second time.
    for region in COUNTRY_CODE_TO_REGION_CODE.get(1, ()):
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        leading = metadata.leading_digits  # a region with leading digits owns the numbers they match
        if leading is not None and re.match(leading, national) is None:
            continue
        number_type = _number_type_helper(national, metadata)
        if number_type != phonenumbers.PhoneNumberType.UNKNOWN:
            geographic = phonenumbers.is_number_type_geographical(number_type, 1)
            return NanpFacts(valid=True, region=region, geographic=geographic)
        if leading is not None:
            break  # its region, and not a valid number there
    return NanpFacts(valid=False, region="ZZ", geographic=False)


@lru_cache(maxsize=1)
def _prefix_lengths() -> dict[str, int] | None:
    """For each area code, the leading digits that decide its numbers' facts (absent: read number by number);
    None if the metadata defeats the reading."""
    reads: list[tuple[str, int]] = []  # (leading literal digits, digits read) of every alternative
    for region in COUNTRY_CODE_TO_REGION_CODE.get(1, ()):
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            return None
        if metadata.leading_digits is not None:
            if not _short_leading_digits(metadata.leading_digits):
                return None
            for alternative in metadata.leading_digits.split("|"):
                reads.append((_literal(alternative), len(re.sub(r"\[[^\]]*\]", "d", alternative))))
        for name in _DESCRIPTIONS:
            description = getattr(metadata, name, None)
            pattern = getattr(description, "national_number_pattern", None)
            if pattern is None:
                continue
            for alternative in _top_level_alternatives(pattern):
                tail = _FREE_TAIL.search(alternative)
                read = 10 - int(tail.group(1)) if tail is not None else 10
                reads.extend((literal, read) for literal in _leading_literals(alternative))
    lengths: dict[str, int] = {}
    for area_code in map(str, range(200, 1000)):
        length = max([_MIN_PREFIX, *(read for literal, read in reads if area_code.startswith(literal[:3]))])
        if length <= _MAX_PREFIX:
            lengths[area_code] = length
    return lengths


def _leading_literals(alternative: str) -> list[str]:
    """The literal digits any match of ``alternative`` starts with, one string per way it may start ("" when
    the start is no literal: such an alternative may match any area code)."""
    if alternative.startswith("(?:"):
        depth = 0
        for index, char in enumerate(alternative):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                if alternative[index + 1 : index + 2] in _QUANTIFIERS:  # the group may be skipped (or repeated)
                    return [""]
                inner = _top_level_alternatives(alternative[3:index])
                return [literal for part in inner for literal in _leading_literals(part)]
        return [""]
    return [_literal(alternative)]


def _literal(text: str) -> str:
    digits = len(text) - len(text.lstrip("0123456789"))
    if text[digits : digits + 1] in _QUANTIFIERS:
        digits = max(digits - 1, 0)  # the last digit may be absent or repeated: it is no literal
    return text[:digits]


def _short_leading_digits(pattern: str) -> bool:
    """Alternatives of literal digits and character classes, each at most ``_MAX_PREFIX`` digits long."""
    for alternative in pattern.split("|"):
        if not _SIMPLE_LEADING.fullmatch(alternative):
            return False
        if len(re.sub(r"\[[^\]]*\]", "d", alternative)) > _MAX_PREFIX:
            return False
    return True


def _top_level_alternatives(pattern: str) -> list[str]:
    alternatives: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(pattern):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            alternatives.append(pattern[start:index])
            start = index + 1
    alternatives.append(pattern[start:])
    return alternatives
