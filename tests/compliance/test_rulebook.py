"""The shipped tables load, agree with phonenumbers' own data, and malformed tables are refused."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers import geocoder
from phonenumbers import timezone as phonenumbers_timezone

from compliance.errors import RuleDataError
from compliance.rulebook import DATA_FILES, RuleBook
from compliance.rules import CallingWindowRule, FederalRule, FrequencyCapRule

STATE_NAMES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
    "Connecticut": "CT", "Delaware": "DE", "Washington D.C.": "DC", "Florida": "FL", "Georgia": "GA", "Hawaii": "HI",
    "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY",
    "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
    "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX",
    "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington State": "WA", "West Virginia": "WV",
    "Wisconsin": "WI", "Wyoming": "WY",
}  # fmt: skip
# phonenumbers assigns one Alaska prefix (907-581, Unalaska) to Honolulu; Unalaska keeps Alaska time.
KNOWN_LIBRARY_QUIRKS = {("907", "Pacific/Honolulu")}
PREFIX_ZONES: dict[str, tuple[str, ...]] = vars(phonenumbers_timezone)["TIMEZONE_DATA"]


def shipped_texts() -> dict[str, str]:
    folder = resources.files("compliance") / "data"
    return {name: (folder / name).read_text(encoding="utf-8") for name in DATA_FILES}


def test_loads_with_a_versioned_digest(rulebook: RuleBook) -> None:
    assert re.fullmatch(r"\d{4}\.\d+\+[0-9a-f]{12}", rulebook.version)
    assert RuleBook.load().version == rulebook.version
    assert all(rulebook.meta(rule).citation for rule in FederalRule)


def test_required_states_have_rules(rulebook: RuleBook) -> None:
    for state in ("FL", "OK", "MD", "WA", "TX", "LA", "MS", "AL", "CT", "NJ", "NY", "CA", "UT", "KY", "RI", "PA"):
        assert any(isinstance(r, CallingWindowRule) for r in rulebook.by_jurisdiction[state]), state
    capped = {
        r.jurisdiction for rules in rulebook.by_jurisdiction.values() for r in rules if isinstance(r, FrequencyCapRule)
    }
    assert capped == {"FL", "OK", "MD"}


def test_federal_rules_come_first(rulebook: RuleBook) -> None:
    rules = rulebook.rules_for(["FL", "FL", "ZZ"])
    assert rules[0].meta.rule_id == "US.calling_hours"
    assert {r.jurisdiction for r in rules} == {"US", "FL"}


def test_area_code_states_agree_with_phonenumbers(rulebook: RuleBook) -> None:
    checked = 0
    for area_code, state in rulebook.geography.area_code_states.items():
        number = phonenumbers.parse(f"+1{area_code}2345678")
        if phonenumbers.region_code_for_number(number) != "US":
            continue
        description = geocoder.description_for_number(number, "en")
        assert STATE_NAMES.get(description, description[-2:]) == state, (area_code, description)
        checked += 1
    assert checked > 300


def test_every_us_geographic_area_code_has_a_state(rulebook: RuleBook) -> None:
    missing = []
    for npa in range(200, 1000):
        code = str(npa)
        if code[1:] == "11" or code in rulebook.geography.area_code_states:
            continue
        for exchange in ("234", "555", "456", "987"):
            number = phonenumbers.parse(f"+1{code}{exchange}4567")
            if (
                phonenumbers.is_valid_number(number)
                and phonenumbers.region_code_for_number(number) == "US"
                and phonenumbers.is_number_type_geographical(phonenumbers.number_type(number), 1)
            ):
                missing.append(code)
                break
    assert missing == []


def test_split_table_covers_every_zone_phonenumbers_knows_for_the_area_code(rulebook: RuleBook) -> None:
    def offsets(zone: str) -> tuple[object, object]:
        info = ZoneInfo(zone)
        return datetime(2025, 1, 15, tzinfo=info).utcoffset(), datetime(2025, 7, 15, tzinfo=info).utcoffset()

    for area_code, zones in rulebook.geography.split_area_codes.items():
        table = {offsets(z) for z in zones}
        library = {z for key, found in PREFIX_ZONES.items() if key.startswith("1" + area_code) for z in found}
        uncovered = {z for z in library if offsets(z) not in table and (area_code, z) not in KNOWN_LIBRARY_QUIRKS}
        assert not uncovered, (area_code, uncovered)
        assert len(table) > 1, f"{area_code} is listed as split but all its zones keep the same time"


def test_every_state_and_territory_has_zones(rulebook: RuleBook) -> None:
    assert set(STATE_NAMES.values()) | {"PR", "VI", "GU", "AS", "MP"} <= set(rulebook.geography.state_zones)


def _edit(name: str, edit: Callable[[dict[str, Any]], object]) -> dict[str, str]:
    texts = shipped_texts()
    document = json.loads(texts[name])
    edit(document)
    texts[name] = json.dumps(document)
    return texts


def _rules(d: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = d["jurisdictional"]
    return rules


MALFORMED = {
    "bad json": ({**shipped_texts(), "rules.json": "{not json"}, "not valid JSON"),
    "missing federal": (_edit("rules.json", lambda d: d["federal"].pop("federal.national_dnc")), "lacks metadata"),
    "unknown kind": (_edit("rules.json", lambda d: _rules(d)[0].update(kind="curfew")), "unknown kind"),
    "inverted window": (
        _edit("rules.json", lambda d: _rules(d)[0].update(hours={"default": ["21:00", "08:00"]})),
        "not before",
    ),
    "duplicate id": (_edit("rules.json", lambda d: _rules(d).append(_rules(d)[0])), "duplicate rule id"),
    "unknown calendar": (
        _edit("rules.json", lambda d: _rules(d)[1].update(holiday_calendar="XX")),
        "malformed rule data",
    ),
    "calendar cycle": (_edit("holidays.json", lambda d: d["calendars"]["US"].update(extends="AL")), "extends itself"),
    "impossible holiday": (
        _edit("holidays.json", lambda d: d["holidays"]["mlk_day"].update(n=6)),
        "malformed holiday data",
    ),
    "unknown zone": (
        _edit("state_zones.json", lambda d: d["states"]["HI"].update(zones=["Pacific/Atlantis"])),
        "unknown time zone",
    ),
    "zip3 of another state": (
        _edit("state_zones.json", lambda d: d["states"]["FL"]["zip3"].update({"750": ["America/Chicago"]})),
        "belongs to TX",
    ),
    "split without zones": (
        _edit("split_area_codes.json", lambda d: d["area_codes"]["850"].pop("zones")),
        "malformed geography",
    ),
}


@pytest.mark.parametrize(("texts", "message"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_tables_are_refused(texts: dict[str, str], message: str) -> None:
    with pytest.raises(RuleDataError, match=message):
        RuleBook.from_texts(texts)


def test_rule_versions_change_the_digest() -> None:
    edited = _edit("rules.json", lambda d: d["jurisdictional"][0].update(version="2099.1"))
    assert RuleBook.from_texts(edited).version != RuleBook.from_texts(shipped_texts()).version
