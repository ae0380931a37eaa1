"""Calling schedules and pacing slots: pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from telephony.campaigns.pacing import dial_interval, plan_slots, tick_due
from telephony.campaigns.schedule import CallingSchedule, InvalidSchedule, default_schedule

NY = "America/New_York"
WEEKDAYS_9_TO_5 = CallingSchedule.build(
    timezone=NY, days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="17:00"
)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_open_now_is_now_and_closing_is_local_five_pm() -> None:
    at = utc(2025, 6, 10, 15, 0)  # Tuesday 11:00 in New York (EDT)
    assert WEEKDAYS_9_TO_5.next_open(at) == at
    assert WEEKDAYS_9_TO_5.closes_at(at) == utc(2025, 6, 10, 21, 0)


def test_before_opening_waits_for_nine_local() -> None:
    assert WEEKDAYS_9_TO_5.next_open(utc(2025, 6, 10, 11, 0)) == utc(2025, 6, 10, 13, 0)


def test_friday_evening_waits_for_monday_morning() -> None:
    friday_evening = utc(2025, 6, 13, 22, 30)  # 18:30 in New York
    assert WEEKDAYS_9_TO_5.next_open(friday_evening) == utc(2025, 6, 16, 13, 0)
    assert WEEKDAYS_9_TO_5.closes_at(friday_evening) == friday_evening


def test_local_hours_follow_daylight_saving_time() -> None:
    # Monday 3 November 2025 is the first weekday after New York leaves daylight time: 9:00 is 14:00 UTC.
    assert WEEKDAYS_9_TO_5.next_open(utc(2025, 11, 1, 12, 0)) == utc(2025, 11, 3, 14, 0)
    assert WEEKDAYS_9_TO_5.next_open(utc(2025, 10, 31, 12, 0)) == utc(2025, 10, 31, 13, 0)


def test_a_window_to_midnight_and_the_wire_form_round_trips() -> None:
    late = CallingSchedule.build(timezone="America/Los_Angeles", days=["sat"], start="18:00", end="24:00")
    saturday_night = utc(2025, 6, 15, 6, 0)  # Saturday 23:00 in Los Angeles
    assert late.next_open(saturday_night) == saturday_night
    assert late.closes_at(saturday_night) == utc(2025, 6, 15, 7, 0)
    assert CallingSchedule.from_dict(late.as_dict()) == late
    assert default_schedule(NY).as_dict() == {
        "timezone": NY,
        "days": ["mon", "tue", "wed", "thu", "fri", "sat"],
        "start": "09:00",
        "end": "19:00",
    }


@pytest.mark.parametrize(
    ("days", "start", "end", "zone"),
    [([], "09:00", "17:00", NY), (["funday"], "09:00", "17:00", NY), (["mon"], "17:00", "09:00", NY),
     (["mon"], "9am", "17:00", NY), (["mon"], "09:00", "17:00", "Mars/Olympus")],
)  # fmt: skip
def test_invalid_schedules_are_refused(days: list[str], start: str, end: str, zone: str) -> None:
    with pytest.raises(InvalidSchedule):
        CallingSchedule.build(timezone=zone, days=days, start=start, end=end)


def test_slots_follow_the_pace_within_the_window_and_before_closing() -> None:
    start = utc(2025, 6, 10, 15, 0)
    interval = dial_interval(600)
    assert interval == timedelta(milliseconds=100)
    second, hour = timedelta(seconds=1), timedelta(hours=1)
    slots = plan_slots(start, interval=interval, window=second, closes_at=start + hour)
    assert len(slots) == 10 and slots[0] == start and slots[-1] == start + timedelta(milliseconds=900)
    closing = plan_slots(start, interval=interval, window=second, closes_at=start + timedelta(seconds=0.25))
    assert len(closing) == 3
    assert plan_slots(start, interval=dial_interval(6), window=second, closes_at=start + hour) == [start]


def test_a_tick_runs_its_lead_before_the_first_slot_never_in_the_past() -> None:
    now = utc(2025, 6, 10, 15, 0)
    lead = timedelta(seconds=2)
    assert tick_due(now + timedelta(seconds=10), now=now, lead=lead) == now + timedelta(seconds=8)
    assert tick_due(now + timedelta(seconds=1), now=now, lead=lead) == now
