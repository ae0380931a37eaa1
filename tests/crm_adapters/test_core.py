"""The pure core: values, rendering, field mapping and Retry-After parsing."""

from datetime import UTC, datetime

import pytest

from crm_adapters.errors import CRMConfigError, parse_retry_after, parse_seconds
from crm_adapters.field_mapping import FieldMapping, outcome_values
from crm_adapters.rendering import (
    call_duration_mm_ss,
    call_note_html,
    call_note_text,
    iso_utc,
    iso_utc_offset,
    qualification_text,
)
from crm_adapters.values import CallLog, CallOutcome, Contact, Qualification

from .samples import CALL, CONTACT, QUALIFICATION


def test_contact_needs_a_phone_or_an_email():
    with pytest.raises(ValueError, match="phone number or an email"):
        Contact(lead_id="lead-1")


def test_call_times_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        CallLog(
            call_id="c",
            direction=CALL.direction,
            outcome=CALL.outcome,
            started_at=datetime(2026, 5, 1, 15, 0),
            duration_seconds=1,
            from_number="+1",
            to_number="+2",
        )


def test_contact_field_values_include_qualification_and_skip_unknowns():
    values = Contact(lead_id="l", phone="+15551234567", qualification=Qualification(budget=1)).field_values()
    assert values == {"lead_id": "l", "phone": "+15551234567", "budget": 1}


def test_qualification_text_is_ordered_and_formats_the_budget():
    assert qualification_text(QUALIFICATION) == (
        "Intent: buy; Location: Austin, TX; Timeline: 0-3 months; Budget: 550,000; Financing: pre-approved"
    )
    assert qualification_text(Qualification()) == ""


def test_call_note_text_carries_summary_outcome_qualification_recording_and_call_id():
    assert call_note_text(CALL).splitlines() == [
        "Buyer relocating to Austin.",
        "Outcome: connected",
        "Qualification: Intent: buy; Location: Austin, TX; Timeline: 0-3 months; Budget: 550,000; "
        "Financing: pre-approved",
        "Recording: https://recordings.example.com/abc.mp3",
        "Call ID: call-7f3a",
    ]


def test_call_note_html_escapes_values_and_links_the_recording():
    call = CallLog(
        call_id="c<1>",
        direction=CALL.direction,
        outcome=CallOutcome.NO_ANSWER,
        started_at=CALL.started_at,
        duration_seconds=0,
        from_number="+1",
        to_number="+2",
        summary="<script>x</script>",
        recording_url="https://r.example.com/a.mp3?x=1&y=2",
    )
    assert call_note_html(call) == (
        "<p>&lt;script&gt;x&lt;/script&gt;</p><p>Outcome: no answer</p>"
        '<p>Recording: <a href="https://r.example.com/a.mp3?x=1&amp;y=2">https://r.example.com/a.mp3?x=1&amp;y=2</a></p>'
        "<p>Call ID: c&lt;1&gt;</p>"
    )


def test_timestamps_are_rendered_in_utc():
    moment = datetime.fromisoformat("2026-05-01T10:00:00.123-05:00")
    assert iso_utc(moment) == "2026-05-01T15:00:00Z"
    assert iso_utc_offset(moment) == "2026-05-01T15:00:00+00:00"
    assert call_duration_mm_ss(185) == "03:05"
    assert call_duration_mm_ss(3725) == "62:05"


def test_field_mapping_applies_overrides_and_unmaps_with_none():
    mapping = FieldMapping.build(
        vendor="x",
        defaults={"email": "Email", "phone": "Phone"},
        mappable=frozenset({"email", "phone", "budget"}),
        overrides={"phone": None, "budget": "Budget__c"},
    )
    assert mapping.apply(CONTACT.field_values()) == {"Email": "jane@example.com", "Budget__c": 550000}


def test_field_mapping_rejects_fields_the_vendor_cannot_map():
    with pytest.raises(CRMConfigError, match="cannot map fields call_id"):
        FieldMapping.build(vendor="x", defaults={}, mappable=frozenset({"email"}), overrides={"call_id": "c"})


def test_outcome_values_merge_and_reject_unknown_outcomes():
    values = outcome_values(
        vendor="x",
        defaults={CallOutcome.BUSY: "Busy"},
        overrides={"connected": "Interested", "busy": None},
    )
    assert dict(values) == {CallOutcome.CONNECTED: "Interested"}
    with pytest.raises(CRMConfigError, match="cannot map outcomes hung_up"):
        outcome_values(vendor="x", defaults={}, overrides={"hung_up": "x"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Fri, 01 May 2026 15:00:30 GMT", 30.0),
        ("Fri, 01 May 2026 14:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(value, expected):
    now = datetime(2026, 5, 1, 15, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(value, now=now) == expected


def test_parse_seconds_rejects_negative_and_garbage():
    assert parse_seconds("10") == 10.0
    assert parse_seconds("-1") is None
    assert parse_seconds("x") is None
