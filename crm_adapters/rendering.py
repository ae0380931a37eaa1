"""Pure functions that turn our values into the text and timestamps CRMs store."""

from __future__ import annotations

import hashlib
import html
from datetime import UTC, datetime

from crm_adapters.values import CallLog, Qualification

_QUALIFICATION_LABELS = (
    ("intent", "Intent"),
    ("location", "Location"),
    ("timeline", "Timeline"),
    ("budget", "Budget"),
    ("financing", "Financing"),
)


def iso_utc(moment: datetime) -> str:
    """``2026-05-01T15:00:00Z``: second precision, UTC, the form every one of these CRMs accepts."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_utc_offset(moment: datetime) -> str:
    """``2026-05-01T15:00:00+00:00``: the numeric-offset form Zoho requires."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def utc_date(moment: datetime) -> str:
    """``2026-05-01``, the calendar day in UTC."""
    return moment.astimezone(UTC).date().isoformat()


def utc_time(moment: datetime) -> str:
    """``15:00``, the time of day in UTC to the minute."""
    return moment.astimezone(UTC).strftime("%H:%M")


def qualification_text(qualification: Qualification) -> str:
    """``Intent: buy; Budget: 550,000``: the answers given, in a fixed order; empty when none."""
    values = qualification.field_values()
    parts = []
    for name, label in _QUALIFICATION_LABELS:
        if name in values:
            value = values[name]
            shown = f"{value:,}" if isinstance(value, int) else value
            parts.append(f"{label}: {shown}")
    return "; ".join(parts)


def _note(call: CallLog) -> list[tuple[str, str | None]]:
    """The note's lines as (text, link): the link, if any, follows the text."""
    lines: list[tuple[str, str | None]] = []
    if call.summary.strip():
        lines.append((call.summary.strip(), None))
    lines.append((f"Outcome: {call.outcome.value.replace('_', ' ')}", None))
    if qualification := qualification_text(call.qualification):
        lines.append((f"Qualification: {qualification}", None))
    if call.recording_url:
        lines.append(("Recording: ", call.recording_url))
    lines.append((call_id_line(call), None))
    return lines


def call_note_text(call: CallLog) -> str:
    """The call's summary, outcome, qualification, recording link and our call id, one per line."""
    return "\n".join(text + (link or "") for text, link in _note(call))


def call_note_html(call: CallLog) -> str:
    """The same note as HTML paragraphs, the recording as a link; every value is escaped."""
    paragraphs = []
    for text, link in _note(call):
        if link:
            href = html.escape(link, quote=True)
            paragraphs.append(f'<p>{html.escape(text)}<a href="{href}">{href}</a></p>')
        else:
            paragraphs.append(f"<p>{html.escape(text)}</p>")
    return "".join(paragraphs)


def call_duration_mm_ss(seconds: int) -> str:
    """``03:05`` for 185 seconds; minutes run past 59 rather than rolling into hours."""
    minutes, rest = divmod(seconds, 60)
    return f"{minutes:02d}:{rest:02d}"


def record_ref(local_id: str) -> str:
    """``sk-3f2a9c1b7d4e``: a short, stable tag of our id for a record, written where the CRM lets us search.

    48 bits of a hash: records are looked up by it only among one contact's, where a collision is out of reach.
    """
    return "sk-" + hashlib.sha256(local_id.encode()).hexdigest()[:12]


def tagged(title: str, local_id: str) -> str:
    """``Follow up with Jane Doe [sk-3f2a9c1b7d4e]``: a subject that finds its record again after a lost answer."""
    return f"{title} [{record_ref(local_id)}]"


def call_id_line(call: CallLog) -> str:
    """The note line that names our call id, by which a call log is found again."""
    return f"Call ID: {call.call_id}"
