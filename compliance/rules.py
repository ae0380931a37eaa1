"""Typed rules read from rules.json: rule metadata, and the table-driven jurisdictional rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from compliance.decision import Check, Verdict
from compliance.holidays import HolidayCalendar
from compliance.vocabulary import Channel, Purpose, VoiceKind
from compliance.windows import DailyWindow, WeeklySchedule

_DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class FederalRule(StrEnum):
    """Rules implemented in code; their citations and versions live in rules.json's "federal" table."""

    INPUT = "gate.input"
    ERROR = "gate.error"
    PHONE = "phone.valid"
    JURISDICTION = "jurisdiction"
    TIME_ZONE = "time_zone"
    WRITTEN_CONSENT = "federal.consent.written"
    EXPRESS_CONSENT = "federal.consent.express"
    REVOCATION = "federal.consent.revocation"
    INTERNAL_DNC = "federal.internal_dnc"
    NATIONAL_DNC = "federal.national_dnc"
    REGISTRY_COPY = "federal.dnc_registry_copy"
    REASSIGNED_NUMBERS = "federal.reassigned_numbers"
    OPT_OUT_CONFIRMATION = "federal.opt_out_confirmation"


# Distinct checks a rule keeps for sharing; when more are asked for, it starts again (sharing is never required).
_ISSUED_PER_RULE = 4096


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """A rule's identity in decisions and audit logs."""

    rule_id: str
    citation: str
    version: str
    _issued: dict[tuple[Verdict, str], Check] = field(default_factory=dict, init=False, compare=False, repr=False)

    def check(self, result: Verdict, detail: str) -> Check:
        """This rule's check with ``result`` and ``detail``. Checks are values; equal ones are shared, so that a
        batch's decisions keep (and the garbage collector walks) one object per distinct verdict, and the audit
        log encodes each once."""
        key = (result, detail)
        issued = self._issued.get(key)
        if issued is None:
            if len(self._issued) >= _ISSUED_PER_RULE:
                self._issued.clear()
            issued = self._issued[key] = Check(
                rule=self.rule_id, result=result, citation=self.citation, detail=detail, version=self.version
            )
        return issued


@dataclass(frozen=True, slots=True)
class Scope:
    """The calls and texts a rule governs."""

    channels: frozenset[Channel]
    voices: frozenset[VoiceKind]
    purposes: frozenset[Purpose]
    effective_from: date | None = None

    def covers(self, *, channel: Channel, voice: VoiceKind | None, purpose: Purpose, on: date) -> bool:
        if channel not in self.channels or purpose not in self.purposes:
            return False
        if self.effective_from is not None and on < self.effective_from:
            return False
        # A voice call of unknown kind is covered by any voice rule: the gate blocks it for the gap anyway.
        return channel is Channel.SMS or voice is None or voice in self.voices

    def describe(self) -> str:
        parts = [
            "/".join(sorted(self.channels)),
            "/".join(sorted(self.voices)) + " voice",
            "/".join(sorted(self.purposes)),
        ]
        if self.effective_from is not None:
            parts.append(f"from {self.effective_from}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class CallingWindowRule:
    meta: RuleMeta
    jurisdiction: str
    scope: Scope
    schedule: WeeklySchedule
    also_in_zones: tuple[ZoneInfo, ...] = ()
    """Zones the window is also applied in, whatever the called party's zone (MS: Central Standard Time)."""
    bans_waived_by_consent: bool = False
    """Sunday and holiday bans do not apply when prior express consent is in force (UT)."""


@dataclass(frozen=True, slots=True)
class FrequencyCapRule:
    meta: RuleMeta
    jurisdiction: str
    scope: Scope
    max_attempts: int
    period: timedelta


@dataclass(frozen=True, slots=True)
class StateDncListRule:
    meta: RuleMeta
    jurisdiction: str
    scope: Scope
    max_copy_age_days: int


@dataclass(frozen=True, slots=True)
class EbrRequiredRule:
    """Calls in scope need an established business relationship (MS recorded-voice solicitations)."""

    meta: RuleMeta
    jurisdiction: str
    scope: Scope


JurisdictionalRule = CallingWindowRule | FrequencyCapRule | StateDncListRule | EbrRequiredRule


def parse_meta(rule_id: str, spec: Mapping[str, Any]) -> RuleMeta:
    return RuleMeta(rule_id=rule_id, citation=str(spec["citation"]), version=str(spec["version"]))


def parse_jurisdictional(spec: Mapping[str, Any], calendars: Mapping[str, HolidayCalendar]) -> JurisdictionalRule:
    """One entry of rules.json's "jurisdictional" list. Raises KeyError/ValueError/TypeError on bad data."""
    meta = parse_meta(str(spec["id"]), spec)
    jurisdiction = str(spec["jurisdiction"])
    scope_spec = spec["scope"]
    scope = Scope(
        channels=frozenset(Channel(c) for c in scope_spec["channels"]),
        voices=frozenset(VoiceKind(v) for v in scope_spec["voices"]),
        purposes=frozenset(Purpose(p) for p in scope_spec["purposes"]),
        effective_from=date.fromisoformat(spec["effective_from"]) if "effective_from" in spec else None,
    )
    kind = spec["kind"]
    if kind == "calling_window":
        calendar_key = spec.get("holiday_calendar")
        return CallingWindowRule(
            meta=meta,
            jurisdiction=jurisdiction,
            scope=scope,
            schedule=_schedule(spec["hours"], calendars[calendar_key] if calendar_key else None),
            also_in_zones=tuple(ZoneInfo(z) for z in spec.get("also_in_zones", ())),
            bans_waived_by_consent=bool(spec.get("bans_waived_by_consent", False)),
        )
    if kind == "frequency_cap":
        return FrequencyCapRule(
            meta=meta,
            jurisdiction=jurisdiction,
            scope=scope,
            max_attempts=_positive(spec["max_attempts"]),
            period=timedelta(hours=_positive(spec["period_hours"])),
        )
    if kind == "dnc_list":
        return StateDncListRule(
            meta=meta, jurisdiction=jurisdiction, scope=scope, max_copy_age_days=_positive(spec["max_copy_age_days"])
        )
    if kind == "ebr_required":
        return EbrRequiredRule(meta=meta, jurisdiction=jurisdiction, scope=scope)
    raise ValueError(f"rule {meta.rule_id}: unknown kind {kind!r}")


def _schedule(hours: Mapping[str, Any], holidays: HolidayCalendar | None) -> WeeklySchedule:
    unknown = set(hours) - {"default", *_DAY_KEYS}
    if unknown:
        raise ValueError(f"unknown day keys {sorted(unknown)}")
    default = hours.get("default")
    windows: list[DailyWindow] = []
    banned: set[int] = set()
    for index, key in enumerate(_DAY_KEYS):
        if key in hours and hours[key] is None:
            banned.add(index)
            spec = default
        else:
            spec = hours.get(key, default)
        if spec is None:
            raise ValueError(f"no hours for {key}")
        start, end = spec
        windows.append(DailyWindow(time.fromisoformat(start), time.fromisoformat(end)))
    return WeeklySchedule(hours=tuple(windows), banned_weekdays=frozenset(banned), holidays=holidays)


def _positive(value: Any) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"expected a positive number, got {value!r}")
    return number
