from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agent.appointment_time import parse_appointment_time

NOW = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)  # Tuesday, 11:00 in New York
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow at 3 pm", datetime(2025, 6, 4, 15, 0, tzinfo=NY)),
        ("tomorrow at three", datetime(2025, 6, 4, 15, 0, tzinfo=NY)),
        ("Tuesday morning", datetime(2025, 6, 10, 10, 0, tzinfo=NY)),
        ("how about thursday afternoon", datetime(2025, 6, 5, 14, 0, tzinfo=NY)),
        ("next friday at ten thirty", datetime(2025, 6, 6, 10, 30, tzinfo=NY)),
        ("friday at 8", datetime(2025, 6, 6, 8, 0, tzinfo=NY)),
        ("at noon", datetime(2025, 6, 3, 12, 0, tzinfo=NY)),
        ("three o'clock", datetime(2025, 6, 3, 15, 0, tzinfo=NY)),
        ("june 5th at 2", datetime(2025, 6, 5, 14, 0, tzinfo=NY)),
        ("half past four tomorrow", datetime(2025, 6, 4, 16, 30, tzinfo=NY)),
        ("tomorrow at 10:30 am", datetime(2025, 6, 4, 10, 30, tzinfo=NY)),
        ("at 9 am", datetime(2025, 6, 4, 9, 0, tzinfo=NY)),  # already past today: tomorrow
    ],
)
def test_times_in_the_organizations_zone(text: str, expected: datetime) -> None:
    assert parse_appointment_time(text, now=NOW, timezone="America/New_York") == expected


@pytest.mark.parametrize("text", ["sometime next week", "i live at 345 main street", "in two months", "today at 9 am"])
def test_no_usable_time(text: str) -> None:
    assert parse_appointment_time(text, now=NOW, timezone="America/New_York") is None


def test_zone_matters() -> None:
    la = parse_appointment_time("tomorrow at 3 pm", now=NOW, timezone="America/Los_Angeles")
    assert la == datetime(2025, 6, 4, 15, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert la is not None and la.utcoffset() != datetime(2025, 6, 4, 15, tzinfo=NY).utcoffset()
