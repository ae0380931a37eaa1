"""Candidate time zones of a called party.

Candidates = the lead's address zone(s) + the zone(s) ``phonenumbers`` gives for the number's area code and
prefix + every zone of a split area code when ``phonenumbers`` does not know the prefix (it then falls back to one
zone per area code, sometimes the wrong one). A call is allowed only if it is inside the window in every candidate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phonenumbers_timezone

from compliance.geography import Geography
from compliance.phones import PhoneNumber

# A NANP number's area-code-level key in phonenumbers' prefix table: "1" + NPA.
_AREA_CODE_KEY_LENGTH = 4
_UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True, slots=True)
class ZoneSource:
    """One reason a zone is a candidate, for the decision's detail."""

    zone: str
    source: str


@dataclass(frozen=True, slots=True)
class CandidateZones:
    zones: tuple[ZoneInfo, ...]
    """Sorted by key, no duplicates."""
    sources: tuple[ZoneSource, ...]

    def describe(self) -> str:
        by_zone: dict[str, list[str]] = {}
        for item in self.sources:
            by_zone.setdefault(item.zone, []).append(item.source)
        return "; ".join(f"{zone} ({', '.join(srcs)})" for zone, srcs in sorted(by_zone.items()))


def candidate_zones(
    phone: PhoneNumber,
    *,
    address_states: tuple[str, ...],
    postal_code: str | None,
    geography: Geography,
) -> CandidateZones:
    """Every zone the called party may be in. Empty when nothing is known (the caller must then block).

    Raises KeyError for an address state the tables do not know.
    """
    sources: list[ZoneSource] = []
    for state in address_states:
        for zone in geography.zones_for_address(state, postal_code):
            sources.append(ZoneSource(zone, f"address {state}"))
    if phone.geographic:
        zones, prefix_known = number_zones(phone.e164)
        for zone in zones:
            sources.append(ZoneSource(zone, "number prefix" if prefix_known else "area code default"))
        split = geography.split_area_codes.get(phone.area_code or "")
        if split and not prefix_known:
            for zone in split:
                sources.append(ZoneSource(zone, f"split area code {phone.area_code}"))
    keys = sorted({s.zone for s in sources})
    return CandidateZones(zones=tuple(ZoneInfo(k) for k in keys), sources=tuple(sources))


def number_zones(e164: str) -> tuple[tuple[str, ...], bool]:
    """The zones ``phonenumbers`` assigns to ``e164``, and whether it knew the number's prefix.

    "Knew the prefix" means a table entry longer than the area code matched; otherwise the zones are the area
    code's single default (or nothing, for a country-level fallback, which names every zone of the NANP).
    """
    table = _prefix_table()
    if table is None:
        # phonenumbers no longer exposes its table: take its answer without knowing how precise it was.
        parsed = phonenumbers.parse(e164)
        return _known(phonenumbers_timezone.time_zones_for_geographical_number(parsed)), False
    digits = e164.lstrip("+")
    if len(digits) == 11 and digits.startswith("1") and digits.isdigit():
        # The answer reads no more digits than the longest key starting with the number's "1" + area code: it is
        # memoised per that prefix (most area codes have only their own key, so four digits).
        area = digits[:_AREA_CODE_KEY_LENGTH]
        return _nanp_prefix_zones(digits[: _nanp_key_lengths().get(area, _AREA_CODE_KEY_LENGTH)])
    return _table_zones(table, digits)


@lru_cache(maxsize=1 << 16)
def _nanp_prefix_zones(digits: str) -> tuple[tuple[str, ...], bool]:
    table = _prefix_table()
    return _table_zones(table, digits) if table is not None else ((), False)


@lru_cache(maxsize=1)
def _nanp_key_lengths() -> dict[str, int]:
    """For each "1" + area code among the prefix table's keys, the length of the longest key starting with it.
    Every shorter key that can match a NANP number is a prefix of its "1" + area code."""
    lengths: dict[str, int] = {}
    for key in _prefix_table() or {}:
        if key.startswith("1") and len(key) >= _AREA_CODE_KEY_LENGTH:
            area = key[:_AREA_CODE_KEY_LENGTH]
            lengths[area] = max(lengths.get(area, _AREA_CODE_KEY_LENGTH), len(key))
    return lengths


def _table_zones(table: Mapping[str, tuple[str, ...]], digits: str) -> tuple[tuple[str, ...], bool]:
    for length in range(min(len(digits), _longest_prefix()), 0, -1):
        zones = table.get(digits[:length])
        if zones is None:
            continue
        if length == 1 and digits.startswith("1"):
            return (), False
        return _known(zones), length > _AREA_CODE_KEY_LENGTH
    return (), False


def _known(zones: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(z for z in zones if z != _UNKNOWN_ZONE)


def _prefix_table() -> Mapping[str, tuple[str, ...]] | None:
    table = getattr(phonenumbers_timezone, "TIMEZONE_DATA", None)
    return table if isinstance(table, dict) else None


def _longest_prefix() -> int:
    longest = getattr(phonenumbers_timezone, "TIMEZONE_LONGEST_PREFIX", 10)
    return longest if isinstance(longest, int) else 10
