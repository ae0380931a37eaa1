"""Where a number or an address is: area code and ZIP code to state, state and ZIP code to time zones."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from compliance.errors import RuleDataError


@dataclass(frozen=True, slots=True)
class Geography:
    """Immutable lookup tables, built once from the shipped data files (see ``RuleBook``)."""

    area_code_states: Mapping[str, str]
    zip3_states: Mapping[str, str]
    state_zones: Mapping[str, tuple[str, ...]]
    zip3_zones: Mapping[str, tuple[str, ...]]
    """Zones of a ZIP3 in a multi-zone state, where known with confidence."""
    split_area_codes: Mapping[str, tuple[str, ...]]

    def state_for_area_code(self, area_code: str | None) -> str | None:
        return self.area_code_states.get(area_code) if area_code else None

    def state_for_postal_code(self, postal_code: str | None) -> str | None:
        zip3 = zip3_of(postal_code)
        return self.zip3_states.get(zip3) if zip3 else None

    def zones_for_address(self, state: str, postal_code: str | None) -> tuple[str, ...]:
        """Zones a resident of ``state`` may live in, narrowed by the ZIP code when it is in that state.

        Raises KeyError for a state code the tables do not know.
        """
        zones = self.state_zones[state]
        zip3 = zip3_of(postal_code)
        if zip3 is not None and len(zones) > 1 and self.zip3_states.get(zip3) == state:
            return self.zip3_zones.get(zip3, zones)
        return zones


def zip3_of(postal_code: str | None) -> str | None:
    """The first three digits of a US ZIP or ZIP+4 code, or None for anything else."""
    if postal_code is None:
        return None
    code = postal_code.strip()
    five = code[:5]
    if len(five) != 5 or not five.isdigit() or not five.isascii():
        return None
    if len(code) > 5 and not (code[5] == "-" and code[6:].isdigit() and len(code) == 10):
        return None
    return five[:3]


def load_geography(
    *,
    area_code_csv: str,
    zip3_csv: str,
    state_zones_doc: Mapping[str, Any],
    split_area_codes_doc: Mapping[str, Any],
) -> Geography:
    """Build the tables from the data files' contents. Raises RuleDataError on malformed data."""
    try:
        area_codes = {row["area_code"]: row["state"] for row in csv.DictReader(io.StringIO(area_code_csv))}
        zip3_states: dict[str, str] = {}
        for row in csv.DictReader(io.StringIO(zip3_csv)):
            for zip3 in _expand(f"{row['first']}-{row['last']}"):
                zip3_states[zip3] = row["state"]
        state_zones: dict[str, tuple[str, ...]] = {}
        zip3_zones: dict[str, tuple[str, ...]] = {}
        for state, spec in state_zones_doc["states"].items():
            state_zones[state] = tuple(spec["zones"])
            for ranges, zones in spec.get("zip3", {}).items():
                if not set(zones) <= set(spec["zones"]):
                    raise ValueError(f"{state} ZIP3 {ranges} names a zone the state does not have")
                for zip3 in _expand(ranges):
                    if zip3_states.get(zip3) != state:
                        raise ValueError(f"ZIP3 {zip3} listed under {state} belongs to {zip3_states.get(zip3)}")
                    zip3_zones[zip3] = tuple(zones)
        split = {code: tuple(spec["zones"]) for code, spec in split_area_codes_doc["area_codes"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise RuleDataError(f"malformed geography data: {exc!r}") from exc
    return Geography(
        area_code_states=MappingProxyType(area_codes),
        zip3_states=MappingProxyType(zip3_states),
        state_zones=MappingProxyType(state_zones),
        zip3_zones=MappingProxyType(zip3_zones),
        split_area_codes=MappingProxyType(split),
    )


def _expand(ranges: str) -> list[str]:
    first, _, last = ranges.partition("-")
    low, high = int(first), int(last or first)
    if not 0 <= low <= high <= 999:
        raise ValueError(f"bad ZIP3 range {ranges!r}")
    return [f"{n:03d}" for n in range(low, high + 1)]
