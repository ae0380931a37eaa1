"""Calling windows: weekly schedules in a time zone, and the earliest moment every window is open.

All instants are aware datetimes; "local" means wall-clock time in an IANA zone, so daylight-saving days come out
right: an instant is inside a window when its own local wall time is, and the next opening is searched among the
instants where a window can open (its start on either side of a repeated hour, a zone transition, or now).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from compliance.holidays import HolidayCalendar

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_HORIZON = timedelta(days=35)
_MAX_ROUNDS = 500


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """Calls allowed from ``start`` (inclusive) to ``end`` (exclusive), local wall-clock time."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"window start {self.start} is not before its end {self.end}")

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    """Hours per weekday plus whole days without calls (banned weekdays, holidays)."""

    hours: tuple[DailyWindow, ...]
    """Seven windows, Monday first."""
    banned_weekdays: frozenset[int] = frozenset()
    holidays: HolidayCalendar | None = None

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise ValueError("a weekly schedule needs seven daily windows")

    def closed_reason(self, instant: datetime, zone: ZoneInfo, *, honour_bans: bool = True) -> str | None:
        """Why no call may be made at ``instant`` in ``zone``, or None when the window is open."""
        local = instant.astimezone(zone)
        weekday = local.weekday()
        if honour_bans:
            if weekday in self.banned_weekdays:
                return f"no calls on {WEEKDAY_NAMES[weekday]}s ({zone.key}, {local:%Y-%m-%d})"
            if self.holidays is not None:
                holiday = self.holidays.holiday_on(local.date())
                if holiday is not None:
                    return f"no calls on {holiday} ({zone.key}, {local:%Y-%m-%d})"
        window = self.hours[weekday]
        if not window.start <= local.time() < window.end:
            return f"{local:%a %H:%M} {zone.key} is outside {window}"
        return None

    def next_opening(
        self,
        after: datetime,
        zone: ZoneInfo,
        *,
        honour_bans: bool = True,
        horizon: timedelta = DEFAULT_HORIZON,
    ) -> datetime | None:
        """The earliest instant at or after ``after`` when the window is open, or None within ``horizon``."""
        first_day = after.astimezone(zone).date()
        for offset in range(horizon.days + 1):
            day = first_day + timedelta(days=offset)
            candidates = {after} if offset == 0 else set()
            candidates.update(local_instants(day, self.hours[day.weekday()].start, zone))
            candidates.update(transitions_on(day, zone))
            for candidate in sorted(c for c in candidates if c >= after):
                if self.closed_reason(candidate, zone, honour_bans=honour_bans) is None:
                    return candidate
        return None


class TimeConstraint(Protocol):
    """Something that allows calls at some instants only."""

    def closed_reason(self, instant: datetime) -> str | None:
        """Why no call may be made at ``instant``, or None."""
        ...

    def next_opening(self, after: datetime) -> datetime | None:
        """The earliest allowed instant at or after ``after``, or None if there is none in reach."""
        ...


@dataclass(frozen=True, slots=True)
class ZonedWindow:
    """A weekly schedule applied in one zone."""

    schedule: WeeklySchedule
    zone: ZoneInfo
    honour_bans: bool = True

    def closed_reason(self, instant: datetime) -> str | None:
        return self.schedule.closed_reason(instant, self.zone, honour_bans=self.honour_bans)

    def next_opening(self, after: datetime) -> datetime | None:
        return self.schedule.next_opening(after, self.zone, honour_bans=self.honour_bans)


@dataclass(frozen=True, slots=True)
class NotBefore:
    """Closed until ``opens_at`` (a frequency cap waiting for its oldest attempt to age out)."""

    opens_at: datetime
    reason: str

    def closed_reason(self, instant: datetime) -> str | None:
        return self.reason if instant < self.opens_at else None

    def next_opening(self, after: datetime) -> datetime | None:
        return max(after, self.opens_at)


def earliest_allowed(
    constraints: Sequence[TimeConstraint], after: datetime, *, horizon: timedelta = DEFAULT_HORIZON
) -> datetime | None:
    """The earliest instant at or after ``after`` that every constraint allows, or None within ``horizon``.

    Jumps to the latest next-opening among the constraints still closed until all are open at once.
    """
    limit = after + horizon
    candidate = after
    for _ in range(_MAX_ROUNDS):
        closed = [c for c in constraints if c.closed_reason(candidate) is not None]
        if not closed:
            return candidate
        openings = [c.next_opening(candidate) for c in closed]
        if any(o is None for o in openings):
            return None
        candidate = max(o for o in openings if o is not None)
        if candidate > limit:
            return None
    return None


def local_instants(day: date, wall: time, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The UTC instants whose local wall time in ``zone`` is ``day`` ``wall`` (two in a repeated hour).

    In a skipped hour there is no such instant; both readings are returned and ``transitions_on`` supplies the
    moment the clock jumps.
    """
    readings = {datetime.combine(day, wall, tzinfo=zone).replace(fold=fold).astimezone(UTC) for fold in (0, 1)}
    return tuple(sorted(readings))


def transitions_on(day: date, zone: ZoneInfo) -> Iterable[datetime]:
    """UTC instants during local ``day`` at which ``zone``'s offset changes (at most one for US zones)."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    before = start.astimezone(zone).utcoffset()
    if end.astimezone(zone).utcoffset() == before:
        return ()
    low, high = 0, int((end - start).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if (start + timedelta(seconds=middle)).astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return (start + timedelta(seconds=high),)
