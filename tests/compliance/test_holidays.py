from __future__ import annotations

from datetime import date

import pytest

from compliance.holidays import easter_sunday, nth_weekday
from compliance.rulebook import RuleBook


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 5)), (2038, date(2038, 4, 25))],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_nth_and_last_weekday() -> None:
    assert nth_weekday(2025, 11, 3, 4) == date(2025, 11, 27)  # Thanksgiving
    assert nth_weekday(2025, 5, 0, -1) == date(2025, 5, 26)  # Memorial Day
    with pytest.raises(ValueError):
        nth_weekday(2025, 2, 0, 5)


def test_federal_calendar_2025(rulebook: RuleBook) -> None:
    dates = rulebook.calendars["US"].dates_in(2025)
    assert set(dates) == {
        date(2025, 1, 1), date(2025, 1, 20), date(2025, 2, 17), date(2025, 5, 26), date(2025, 6, 19),
        date(2025, 7, 4), date(2025, 9, 1), date(2025, 10, 13), date(2025, 11, 11), date(2025, 11, 27),
        date(2025, 12, 25),
    }  # fmt: skip


def test_observed_dates_are_banned_too(rulebook: RuleBook) -> None:
    us = rulebook.calendars["US"]
    # Independence Day 2026 is a Saturday (observed Friday 3rd); Christmas 2022 a Sunday (observed Monday 26th).
    assert us.holiday_on(date(2026, 7, 3)) == "Independence Day"
    assert us.holiday_on(date(2026, 7, 4)) == "Independence Day"
    assert us.holiday_on(date(2022, 12, 26)) == "Christmas Day"
    # New Year's Day 2028 is a Saturday: observed on Friday 31 December 2027.
    assert us.holiday_on(date(2027, 12, 31)) == "New Year's Day"


def test_juneteenth_only_since_2021(rulebook: RuleBook) -> None:
    us = rulebook.calendars["US"]
    assert us.holiday_on(date(2020, 6, 19)) is None
    assert us.holiday_on(date(2021, 6, 18)) == "Juneteenth National Independence Day"  # observed (Saturday 19th)


def test_state_calendars_extend_the_federal_one(rulebook: RuleBook) -> None:
    assert rulebook.calendars["LA"].holiday_on(date(2025, 3, 4)) == "Mardi Gras"
    assert rulebook.calendars["LA"].holiday_on(date(2025, 7, 4)) == "Independence Day"
    assert rulebook.calendars["UT"].holiday_on(date(2025, 7, 24)) == "Pioneer Day (UT)"
    assert rulebook.calendars["RI"].holiday_on(date(2025, 8, 11)) == "Victory Day (RI)"
    assert rulebook.calendars["PA"].holiday_on(date(2025, 11, 4)) == "General Election Day (PA)"
    assert rulebook.calendars["AL"].holiday_on(date(2025, 6, 2)) == "Jefferson Davis' Birthday (AL)"
    assert rulebook.calendars["US"].holiday_on(date(2025, 3, 4)) is None


def test_years_outside_the_precomputed_range_are_computed(rulebook: RuleBook) -> None:
    assert rulebook.calendars["US"].holiday_on(date(2199, 12, 25)) == "Christmas Day"
    assert rulebook.calendars["US"].dates_in(1999)[date(1999, 1, 18)] == "Birthday of Martin Luther King, Jr."
