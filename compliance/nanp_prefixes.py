"""What ``phonenumbers`` says about a NANP number in E.164 form, memoised per area code and exchange (NPA-NXX).

For "+1" followed by ten digits with an area code of 2-9, ``phonenumbers`` decides validity, type and region from
the national number's patterns alone. Where every pattern of every NANP region ends in four or more free digits
(``\\d{4}`` or longer) and every region's leading-digits pattern is at most six digits long, those answers are a
function of the first six digits, so one careful answer per NPA-NXX serves every number under it. The metadata is
checked once; area codes with a pattern that reads further (Barbados 246 and Jamaica 876 in phonenumbers 9.0) are
answered number by number, and when the check cannot tell, nothing is memoised.
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

_PREFIX = 6
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
    further = _area_codes_reading_further()
    if further is None or national[:3] in further:
        return _careful(national)
    return _by_prefix(national[:_PREFIX])


@lru_cache(maxsize=1 << 17)
def _by_prefix(prefix: str) -> NanpFacts:
    return _careful(prefix + "0" * (10 - _PREFIX))


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
def _area_codes_reading_further() -> frozenset[str] | None:
    """Area codes whose numbers' facts depend on more than six digits; None if the metadata defeats the check."""
    further: set[str] = set()
    for region in COUNTRY_CODE_TO_REGION_CODE.get(1, ()):
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            return None
        if metadata.leading_digits is not None and not _short_leading_digits(metadata.leading_digits):
            return None
        for name in _DESCRIPTIONS:
            description = getattr(metadata, name, None)
            pattern = getattr(description, "national_number_pattern", None)
            if pattern is None:
                continue
            for alternative in _top_level_alternatives(pattern):
                tail = _FREE_TAIL.search(alternative)
                if tail is not None and int(tail.group(1)) >= 10 - _PREFIX:
                    continue
                area_code = alternative[:3]
                if not (area_code.isdigit() and area_code[0] in "23456789"):
                    return None
                further.add(area_code)
    return frozenset(further)


def _short_leading_digits(pattern: str) -> bool:
    """Alternatives of literal digits and character classes, each at most ``_PREFIX`` digits long."""
    for alternative in pattern.split("|"):
        if not _SIMPLE_LEADING.fullmatch(alternative):
            return False
        if len(re.sub(r"\[[^\]]*\]", "d", alternative)) > _PREFIX:
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
