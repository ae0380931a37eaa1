"""The RuleBook: every data table the gate reads, parsed and checked once, then immutable.

Build it once at start-up (``RuleBook.load()``) and hand it to every ``evaluate`` call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from compliance.errors import RuleDataError
from compliance.geography import Geography, load_geography
from compliance.holidays import HolidayCalendar, load_calendars
from compliance.memo import Memo
from compliance.rules import FederalRule, JurisdictionalRule, RuleMeta, parse_jurisdictional, parse_meta

FEDERAL_JURISDICTION = "US"
# Whole decisions memoised (``RuleBook.decisions``): about a kilobyte each with their keys.
DECISIONS_MEMO_SIZE = 8192

DATA_FILES = (
    "rules.json",
    "holidays.json",
    "state_zones.json",
    "split_area_codes.json",
    "area_code_states.csv",
    "zip3_states.csv",
)


@dataclass(frozen=True, slots=True)
class RuleBook:
    version: str
    """Declared rule-set version plus a digest of every data file, recorded with each decision."""
    federal: Mapping[str, RuleMeta]
    by_jurisdiction: Mapping[str, tuple[JurisdictionalRule, ...]]
    """"US" for federal table-driven rules, else the two-letter state code."""
    calendars: Mapping[str, HolidayCalendar]
    geography: Geography
    memo: Memo = field(default_factory=Memo, compare=False, repr=False)
    """Answers ``evaluate`` derives from these tables and reuses across decisions (see ``compliance.memo``)."""
    decisions: Memo = field(default_factory=lambda: Memo(DECISIONS_MEMO_SIZE), compare=False, repr=False)
    """Whole decisions by ``gate.decision_key``: numbers whose facts read alike (one situation, the same consent
    day or none) share one."""

    @classmethod
    def load(cls) -> RuleBook:
        """The rule book shipped in ``compliance/data``. Raises RuleDataError if a table is malformed."""
        folder = resources.files("compliance") / "data"
        return cls.from_texts({name: (folder / name).read_text(encoding="utf-8") for name in DATA_FILES})

    @classmethod
    def from_texts(cls, texts: Mapping[str, str]) -> RuleBook:
        """A rule book from the contents of the files named in DATA_FILES (tests use edited copies)."""
        try:
            rules_doc = _json(texts, "rules.json")
            calendars = load_calendars(_json(texts, "holidays.json"))
            geography = load_geography(
                area_code_csv=texts["area_code_states.csv"],
                zip3_csv=texts["zip3_states.csv"],
                state_zones_doc=_json(texts, "state_zones.json"),
                split_area_codes_doc=_json(texts, "split_area_codes.json"),
            )
            federal = {rule_id: parse_meta(rule_id, spec) for rule_id, spec in rules_doc["federal"].items()}
            grouped: dict[str, list[JurisdictionalRule]] = {}
            seen: set[str] = set()
            for spec in rules_doc["jurisdictional"]:
                rule = parse_jurisdictional(spec, calendars)
                if rule.meta.rule_id in seen or rule.meta.rule_id in federal:
                    raise ValueError(f"duplicate rule id {rule.meta.rule_id}")
                seen.add(rule.meta.rule_id)
                grouped.setdefault(rule.jurisdiction, []).append(rule)
            declared = str(rules_doc["version"])
        except RuleDataError:
            raise
        except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError) as exc:
            raise RuleDataError(f"malformed rule data: {exc!r}") from exc
        missing = [r.value for r in FederalRule if r.value not in federal]
        if missing:
            raise RuleDataError(f"rules.json lacks metadata for {missing}")
        _check_geography(geography)
        digest = hashlib.sha256()
        for name in DATA_FILES:
            digest.update(name.encode() + b"\0" + texts[name].encode() + b"\0")
        return cls(
            version=f"{declared}+{digest.hexdigest()[:12]}",
            federal=MappingProxyType(federal),
            by_jurisdiction=MappingProxyType({k: tuple(v) for k, v in grouped.items()}),
            calendars=calendars,
            geography=geography,
        )

    def meta(self, rule: FederalRule) -> RuleMeta:
        return self.federal[rule]  # a StrEnum member is its value as a key (and skips the ``value`` property)

    def rules_for(self, jurisdictions: Iterable[str]) -> tuple[JurisdictionalRule, ...]:
        """Table-driven rules of the federal jurisdiction and of each of ``jurisdictions``, in that order."""
        ordered = dict.fromkeys((FEDERAL_JURISDICTION, *jurisdictions))
        return tuple(rule for j in ordered for rule in self.by_jurisdiction.get(j, ()))


def _json(texts: Mapping[str, str], name: str) -> Mapping[str, Any]:
    try:
        document = json.loads(texts[name])
    except json.JSONDecodeError as exc:
        raise RuleDataError(f"{name} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise RuleDataError(f"{name} must hold a JSON object")
    return document


def _check_geography(geography: Geography) -> None:
    zones = {z for zs in geography.state_zones.values() for z in zs}
    zones |= {z for zs in geography.split_area_codes.values() for z in zs}
    for key in sorted(zones):
        try:
            ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise RuleDataError(f"unknown time zone {key!r}") from exc
    unknown = {s for s in geography.area_code_states.values() if s not in geography.state_zones}
    unknown |= {s for s in geography.zip3_states.values() if s not in geography.state_zones}
    if unknown:
        raise RuleDataError(f"states without zones: {sorted(unknown)}")
