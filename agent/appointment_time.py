"""When a caller wants to meet: "tomorrow at 3 pm", "Tuesday morning", "next Friday at ten thirty".

Resolved in the organization's time zone against an injected "now", never the server's clock or zone.
A day without a time means the morning slot; a time without a day means today if it is still ahead, else
tomorrow; an hour without am/pm is read the way people book appointments (1-7 afternoon, 8-11 morning).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agent.intents import normalize
from agent.spoken_numbers import words_to_digits

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)  # fmt: skip
_PARTS_OF_DAY = {"morning": time(10), "noon": time(12), "lunch": time(12), "lunchtime": time(12),
                 "afternoon": time(14), "evening": time(17), "tonight": time(18)}  # fmt: skip
_DEFAULT_TIME = time(10)
_MIN_LEAD = timedelta(minutes=30)

_CLOCK = re.compile(
    r"\b(?:at|@|around|about|by)?\s*(?P<hour>\d{1,2})(?!\d)(?:(?::|\s)(?P<minute>[0-5]\d))?\s*"
    r"(?P<meridiem>a\.?\s?m\.?|p\.?\s?m\.?|o'?clock)?(?!\s*(?:days?|weeks?|months?|years?|minutes?|hours?))"
)
_HALF_PAST = re.compile(r"\bhalf past (?P<hour>\d{1,2})\b")
_WEEKDAY = re.compile(r"\b(?P<day>" + "|".join(_WEEKDAYS) + r")\b")
_MONTH_DAY = re.compile(r"\b(?P<month>" + "|".join(_MONTHS) + r")\s+(?:the\s+)?(?P<day>\d{1,2})(?:st|nd|rd|th)?\b")
_RELATIVE_DAY = re.compile(r"\b(?P<rel>today|tonight|tomorrow|day after tomorrow)\b")
_ORDINALS = {"first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5", "sixth": "6",
             "seventh": "7", "eighth": "8", "ninth": "9", "tenth": "10"}  # fmt: skip


def parse_appointment_time(text: str, *, now: datetime, timezone: str) -> datetime | None:
    """The appointment start the caller asked for, in ``timezone``; None without a day or time, or if past."""
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    t = words_to_digits(normalize(text))
    t = re.sub(r"\b(" + "|".join(_ORDINALS) + r")\b", lambda m: _ORDINALS[m.group(1)], t)

    day = _day(t, local_now.date())
    clock = _clock(t)
    if day is None and clock is None:
        return None
    if clock is None:
        clock = _DEFAULT_TIME
    if day is None:
        day = local_now.date()
        if datetime.combine(day, clock, zone) < local_now + _MIN_LEAD:
            day += timedelta(days=1)
    start = datetime.combine(day, clock, zone)
    if start < local_now:
        return None
    return start


def _day(t: str, today: date) -> date | None:
    rel = _RELATIVE_DAY.search(t)
    if rel:
        offset = {"today": 0, "tonight": 0, "tomorrow": 1, "day after tomorrow": 2}[rel.group("rel")]
        return today + timedelta(days=offset)
    weekday = _WEEKDAY.search(t)
    if weekday:
        target = _WEEKDAYS.index(weekday.group("day"))
        # "tuesday" and "next tuesday" both mean the coming one; said on a tuesday, a week from today
        ahead = (target - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    month_day = _MONTH_DAY.search(t)
    if month_day:
        month = _MONTHS.index(month_day.group("month")) + 1
        try:
            candidate = date(today.year, month, int(month_day.group("day")))
        except ValueError:
            return None
        if candidate < today:
            candidate = candidate.replace(year=today.year + 1)
        return candidate
    return None


def _clock(t: str) -> time | None:
    half = _HALF_PAST.search(t)
    if half:
        hour = int(half.group("hour"))
        return _with_meridiem(hour, 30, None, t) if 1 <= hour <= 12 else None
    for match in _CLOCK.finditer(t):
        text = match.group(0).strip()
        meridiem = match.group("meridiem")
        explicit = meridiem is not None or match.group("minute") is not None or text.startswith(("at", "@"))
        if not explicit:
            continue
        hour = int(match.group("hour"))
        minute = int(match.group("minute") or 0)
        if hour > 23:
            continue
        return _with_meridiem(hour, minute, meridiem, t)
    for word, at in _PARTS_OF_DAY.items():
        if re.search(rf"\b{word}\b", t):
            return at
    return None


def _with_meridiem(hour: int, minute: int, meridiem: str | None, t: str) -> time:
    mark = (meridiem or "").replace(".", "").replace(" ", "")
    if hour > 12:
        return time(hour, minute)
    if mark == "am":
        return time(0 if hour == 12 else hour, minute)
    if mark == "pm" or re.search(r"\b(?:afternoon|evening|tonight)\b", t):
        return time(12 if hour == 12 else hour + 12, minute)
    if re.search(r"\bmorning\b", t):
        return time(hour % 12, minute)
    return time(hour + 12 if 1 <= hour <= 7 else hour, minute)
