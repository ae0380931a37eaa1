"""Holiday calendars computed per year from rule definitions (fixed dates, nth weekdays, Easter offsets)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from compliance.errors import RuleDataError

# Years precomputed when a calendar is built; dates outside are computed on demand.
PRECOMPUTED_YEARS = range(2020, 2061)


class HolidayKind(StrEnum):
    FIXED = "fixed"
    NTH_WEEKDAY = "nth_weekday"
    EASTER = "easter"


@dataclass(frozen=True, slots=True)
class HolidayRule:
    """How to find one holiday in a given year."""

    key: str
    name: str
    kind: HolidayKind
    month: int = 0
    day: int = 0
    weekday: int = 0
    """0 = Monday, as ``date.weekday()``."""
    n: int = 0
    """1..5 for the nth weekday of the month, -1 for the last."""
    offset_days: int = 0
    observed: bool = False
    """Also the Friday before a Saturday date and the Monday after a Sunday date (5 U.S.C. 6103(b))."""
    since: int | None = None

    def dates(self, year: int) -> tuple[date, ...]:
        """The date(s) this holiday bans in ``year``'s calendar (the date itself and its observed weekday)."""
        if self.since is not None and year < self.since:
            return ()
        if self.kind is HolidayKind.FIXED:
            base = date(year, self.month, self.day)
        elif self.kind is HolidayKind.NTH_WEEKDAY:
            base = nth_weekday(year, self.month, self.weekday, self.n)
        else:
            base = easter_sunday(year)
        base += timedelta(days=self.offset_days)
        if not self.observed:
            return (base,)
        if base.weekday() == 5:
            return (base, base - timedelta(days=1))
        if base.weekday() == 6:
            return (base, base + timedelta(days=1))
        return (base,)


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """A named set of holidays, with dates precomputed for PRECOMPUTED_YEARS."""

    key: str
    citation: str
    rules: tuple[HolidayRule, ...]
    _by_year: Mapping[int, Mapping[date, str]] = field(repr=False, compare=False)

    @classmethod
    def build(cls, *, key: str, citation: str, rules: tuple[HolidayRule, ...]) -> HolidayCalendar:
        by_year = {year: MappingProxyType(_compute(rules, year)) for year in PRECOMPUTED_YEARS}
        return cls(key=key, citation=citation, rules=rules, _by_year=MappingProxyType(by_year))

    def holiday_on(self, day: date) -> str | None:
        """The name of the holiday that falls (or is observed) on ``day``, or None."""
        table = self._by_year.get(day.year)
        if table is None:
            table = _compute(self.rules, day.year)
        return table.get(day)

    def dates_in(self, year: int) -> dict[date, str]:
        """Every banned date of ``year`` mapped to its holiday's name."""
        table = self._by_year.get(year)
        return dict(table) if table is not None else _compute(self.rules, year)


def _compute(rules: tuple[HolidayRule, ...], year: int) -> dict[date, str]:
    # An observed date can cross the year boundary (New Year's Day on a Saturday is observed on Dec 31).
    out: dict[date, str] = {}
    for rule in rules:
        for y in (year - 1, year, year + 1):
            for day in rule.dates(y):
                if day.year == year:
                    out.setdefault(day, rule.name)
    return out


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``th ``weekday`` (0 = Monday) of ``month``; ``n`` = -1 is the last one."""
    if n > 0:
        first = date(year, month, 1)
        day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
        if day.month != month:
            raise ValueError(f"no weekday #{n} in {year}-{month:02d}")
        return day
    next_month = date(year + month // 12, month % 12 + 1, 1)
    last = next_month - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday, by the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def load_calendars(document: Mapping[str, Any]) -> Mapping[str, HolidayCalendar]:
    """Build every calendar of a holidays.json document. Raises RuleDataError on malformed data."""
    try:
        rules = {key: _rule(key, spec) for key, spec in document["holidays"].items()}
        specs: Mapping[str, Any] = document["calendars"]
        calendars: dict[str, HolidayCalendar] = {}
        for key in specs:
            keys = _calendar_holidays(key, specs, seen=())
            calendars[key] = HolidayCalendar.build(
                key=key, citation=str(specs[key]["citation"]), rules=tuple(rules[k] for k in keys)
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise RuleDataError(f"malformed holiday data: {exc!r}") from exc
    return MappingProxyType(calendars)


def _calendar_holidays(key: str, specs: Mapping[str, Any], *, seen: tuple[str, ...]) -> tuple[str, ...]:
    if key in seen:
        raise ValueError(f"calendar {key} extends itself")
    spec = specs[key]
    inherited = _calendar_holidays(spec["extends"], specs, seen=(*seen, key)) if "extends" in spec else ()
    own = tuple(str(k) for k in spec["holidays"])
    return tuple(dict.fromkeys((*inherited, *own)))


def _rule(key: str, spec: Mapping[str, Any]) -> HolidayRule:
    rule = HolidayRule(
        key=key,
        name=str(spec["name"]),
        kind=HolidayKind(spec["kind"]),
        month=int(spec.get("month", 0)),
        day=int(spec.get("day", 0)),
        weekday=int(spec.get("weekday", 0)),
        n=int(spec.get("n", 0)),
        offset_days=int(spec.get("offset_days", 0)),
        observed=bool(spec.get("observed", False)),
        since=int(spec["since"]) if "since" in spec else None,
    )
    rule.dates(2024)  # fails on an impossible definition (month 13, weekday #6, ...)
    return rule
