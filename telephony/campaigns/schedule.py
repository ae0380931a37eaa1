"""A campaign's calling schedule: the days and hours it may dial, in one time zone. Pure.

This is the brokerage's own choice (business hours); the compliance gate still applies the legal calling windows
of each called party on top of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_SEARCH_DAYS = 8


class InvalidSchedule(ValueError):
    """A schedule that names an unknown day or zone, or hours that do not make a window."""


@dataclass(frozen=True, slots=True)
class CallingSchedule:
    """Dial on ``days`` between ``start`` and ``end`` (minutes after local midnight, end exclusive)."""

    timezone: str
    days: frozenset[int]
    """0 = Monday ... 6 = Sunday."""
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidSchedule(f"unknown time zone {self.timezone!r}") from exc
        if not self.days or not self.days <= set(range(7)):
            raise InvalidSchedule("at least one day, each 0-6")
        if not 0 <= self.start_minute < self.end_minute <= 24 * 60:
            raise InvalidSchedule("start must come before end, within one day")

    @classmethod
    def build(cls, *, timezone: str, days: Iterable[str], start: str, end: str) -> CallingSchedule:
        """From wire values: day names ("mon".."sun") and "HH:MM" times (end may be "24:00")."""
        numbers = set()
        for day in days:
            if day not in WEEKDAYS:
                raise InvalidSchedule(f"unknown day {day!r}; use {', '.join(WEEKDAYS)}")
            numbers.add(WEEKDAYS.index(day))
        return cls(timezone=timezone, days=frozenset(numbers), start_minute=_minutes(start), end_minute=_minutes(end))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallingSchedule:
        return cls.build(timezone=data["timezone"], days=data["days"], start=data["start"], end=data["end"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "days": [WEEKDAYS[d] for d in sorted(self.days)],
            "start": _hhmm(self.start_minute),
            "end": _hhmm(self.end_minute),
        }

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when the schedule is open then, else the next moment it opens (UTC)."""
        for opens, closes in self._windows(at):
            if at < closes:
                return max(at, opens)
        raise AssertionError("a schedule with at least one day opens within a week")

    def closes_at(self, at: datetime) -> datetime:
        """When the window that is open at ``at`` closes (``at`` itself when closed)."""
        for opens, closes in self._windows(at):
            if opens <= at < closes:
                return closes
        return at

    def _windows(self, at: datetime) -> Iterable[tuple[datetime, datetime]]:
        zone = ZoneInfo(self.timezone)
        local_day = at.astimezone(zone).date() - timedelta(days=1)
        for offset in range(_SEARCH_DAYS + 1):
            day = local_day + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            midnight = datetime.combine(day, time(0), tzinfo=zone)
            opens = _local(midnight, self.start_minute, zone)
            closes = _local(midnight, self.end_minute, zone)
            yield opens, closes


def _local(midnight: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    """Local wall-clock ``minutes`` after midnight, as UTC (a time skipped by a DST change moves forward)."""
    day = midnight.date() + timedelta(days=minutes // (24 * 60))
    minute = minutes % (24 * 60)
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return wall.astimezone(UTC)


def _minutes(value: str) -> int:
    match = _HHMM.match(value)
    if not match:
        raise InvalidSchedule(f"expected HH:MM, got {value!r}")
    if value == "24:00":
        return 24 * 60
    return int(match.group(1)) * 60 + int(match.group(2))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def default_schedule(timezone: str) -> CallingSchedule:
    """Monday to Saturday, 9:00 to 19:00, in the organization's zone."""
    return CallingSchedule(timezone=timezone, days=frozenset(range(6)), start_minute=9 * 60, end_minute=19 * 60)
