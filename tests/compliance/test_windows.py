"""Calling windows on daylight-saving change days, including windows that start or end in a skipped or
repeated hour (US rules never do, so these use made-up windows)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from importlib.resources import files
from zoneinfo import ZoneInfo

import pytest

from compliance.decision import Verdict
from compliance.facts import GateFacts
from compliance.gate import evaluate
from compliance.rulebook import DATA_FILES, RuleBook
from compliance.vocabulary import Channel, Purpose, VoiceKind
from compliance.windows import (
    DailyWindow,
    NotBefore,
    WeeklySchedule,
    ZonedWindow,
    earliest_allowed,
    local_instants,
    transitions_on,
)

NEW_YORK = ZoneInfo("America/New_York")
PHOENIX = ZoneInfo("America/Phoenix")


def every_day(start: str, end: str, **kwargs: object) -> WeeklySchedule:
    window = DailyWindow(time.fromisoformat(start), time.fromisoformat(end))
    return WeeklySchedule(hours=(window,) * 7, **kwargs)  # type: ignore[arg-type]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_transitions_found_on_change_days_only() -> None:
    assert list(transitions_on(date(2025, 3, 9), NEW_YORK)) == [utc(2025, 3, 9, 7, 0)]
    assert list(transitions_on(date(2025, 11, 2), NEW_YORK)) == [utc(2025, 11, 2, 6, 0)]
    assert list(transitions_on(date(2025, 3, 10), NEW_YORK)) == []
    assert list(transitions_on(date(2025, 3, 9), PHOENIX)) == []


def test_repeated_hour_has_two_instants() -> None:
    assert local_instants(date(2025, 11, 2), time(1, 30), NEW_YORK) == (
        utc(2025, 11, 2, 5, 30),
        utc(2025, 11, 2, 6, 30),
    )
    assert local_instants(date(2025, 11, 3), time(1, 30), NEW_YORK) == (utc(2025, 11, 3, 6, 30),)


def test_window_starting_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    schedule = every_day("02:30", "05:00")
    # 01:59 EST on 2025-03-09; the clock then jumps to 03:00 EDT (07:00 UTC), which is inside the window.
    assert schedule.next_opening(utc(2025, 3, 9, 6, 59), NEW_YORK) == utc(2025, 3, 9, 7, 0)


def test_window_ending_in_the_repeated_hour_reopens_after_fall_back() -> None:
    schedule = every_day("00:30", "01:30")
    start = utc(2025, 11, 2, 5, 30)  # 01:30 EDT: window just closed
    assert schedule.closed_reason(start, NEW_YORK) is not None
    # At 06:00 UTC the clock falls back to 01:00 EST, inside 00:30-01:30 again.
    assert schedule.next_opening(start, NEW_YORK) == utc(2025, 11, 2, 6, 0)


def test_window_starting_in_the_repeated_hour_opens_at_its_first_occurrence() -> None:
    schedule = every_day("01:30", "03:00")
    assert schedule.next_opening(utc(2025, 11, 2, 4, 0), NEW_YORK) == utc(2025, 11, 2, 5, 30)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2025, 3, 9, 11, 30), utc(2025, 3, 9, 12, 0)),  # spring forward: 08:00 EDT
        (utc(2025, 3, 8, 13, 30), utc(2025, 3, 8, 13, 30)),  # already open: 08:30 EST
        (utc(2025, 11, 2, 12, 30), utc(2025, 11, 2, 13, 0)),  # fall back: 08:00 EST
        (utc(2025, 11, 2, 1, 30), utc(2025, 11, 2, 13, 0)),  # 21:30 EDT the night before
    ],
)
def test_next_opening_of_the_federal_window(after: datetime, expected: datetime) -> None:
    assert every_day("08:00", "21:00").next_opening(after, NEW_YORK) == expected


def test_banned_weekdays_are_skipped() -> None:
    schedule = every_day("08:00", "20:00", banned_weekdays=frozenset({5, 6}))
    friday_night = utc(2025, 6, 14, 1, 0)  # Fri 21:00 EDT
    assert schedule.next_opening(friday_night, NEW_YORK) == utc(2025, 6, 16, 12, 0)
    assert schedule.next_opening(friday_night, NEW_YORK, honour_bans=False) == utc(2025, 6, 14, 12, 0)


def test_no_opening_within_the_horizon() -> None:
    schedule = every_day("08:00", "20:00", banned_weekdays=frozenset(range(7)))
    assert schedule.next_opening(utc(2025, 6, 10), NEW_YORK) is None


def test_earliest_allowed_meets_every_constraint() -> None:
    eastern = ZonedWindow(every_day("08:00", "21:00"), NEW_YORK)
    phoenix = ZonedWindow(every_day("08:00", "21:00"), PHOENIX)
    cap = NotBefore(utc(2025, 6, 11, 2, 0), "cap")
    # 8:00 Phoenix (15:00 UTC) is the first moment both zones are open after the cap lifts at 22:00 EDT.
    assert earliest_allowed([eastern, phoenix, cap], utc(2025, 6, 10, 23, 0)) == utc(2025, 6, 11, 15, 0)


def test_disjoint_windows_have_no_common_moment() -> None:
    morning = ZonedWindow(every_day("08:00", "09:00"), NEW_YORK)
    evening = ZonedWindow(every_day("19:00", "20:00"), NEW_YORK)
    assert earliest_allowed([morning, evening], utc(2025, 6, 10), horizon=timedelta(days=3)) is None


def test_window_must_start_before_it_ends() -> None:
    with pytest.raises(ValueError):
        DailyWindow(time(21), time(8))


def test_memoised_window_verdicts_are_not_shared_between_rule_books() -> None:
    """Two rule books with the same rule id but other hours: each verdict comes from its own rule."""
    shipped = RuleBook.load()
    texts = {name: (files("compliance") / "data" / name).read_text(encoding="utf-8") for name in DATA_FILES}
    texts["rules.json"] = texts["rules.json"].replace(
        '"hours": {"default": ["08:00", "21:00"]}}', '"hours": {"default": ["08:00", "12:00"]}}', 1
    )
    edited = RuleBook.from_texts(texts)
    facts = GateFacts(
        phone="+12125550134",
        channel=Channel.VOICE,
        voice=VoiceKind.LIVE,
        purpose=Purpose.INFORMATIONAL,
        at=datetime(2026, 11, 24, 18, 30, tzinfo=UTC),  # a Tuesday, 13:30 in New York
    )

    def verdict(book: RuleBook) -> Verdict:
        return next(c.result for c in evaluate(facts, book).checks if c.rule == "US.calling_hours")

    for _ in range(2):
        assert verdict(shipped) is Verdict.PASS
        assert verdict(edited) is Verdict.BLOCK
