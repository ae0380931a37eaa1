from __future__ import annotations

from datetime import UTC, datetime

from compliance.ebr import BusinessRelationship, add_months, ebr_status


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def test_add_months_clamps_the_day() -> None:
    assert add_months(at(2024, 11, 30), 3) == at(2025, 2, 28)
    assert add_months(at(2023, 11, 30), 3) == at(2024, 2, 29)
    assert add_months(at(2024, 1, 31), 18) == at(2025, 7, 31)


def test_inquiry_lasts_three_months_to_the_instant() -> None:
    relationship = BusinessRelationship(last_inquiry_at=at(2025, 1, 15))
    assert ebr_status(relationship, at=at(2025, 4, 15).replace(hour=11)).active
    assert not ebr_status(relationship, at=at(2025, 4, 15)).active


def test_transaction_outlasts_an_older_inquiry() -> None:
    relationship = BusinessRelationship(last_inquiry_at=at(2024, 1, 1), last_transaction_at=at(2024, 6, 1))
    status = ebr_status(relationship, at=at(2025, 6, 1))
    assert status.active
    assert "transaction" in status.detail


def test_dnc_request_ends_the_relationship_but_a_later_inquiry_starts_a_new_one() -> None:
    ended = BusinessRelationship(last_inquiry_at=at(2025, 3, 1), last_dnc_request_at=at(2025, 3, 2))
    assert not ebr_status(ended, at=at(2025, 3, 10)).active
    renewed = BusinessRelationship(last_inquiry_at=at(2025, 3, 5), last_dnc_request_at=at(2025, 3, 2))
    assert ebr_status(renewed, at=at(2025, 3, 10)).active


def test_internal_dnc_entry_also_ends_it() -> None:
    relationship = BusinessRelationship(last_inquiry_at=at(2025, 3, 1))
    assert not ebr_status(relationship, at=at(2025, 3, 10), dnc_requested_at=at(2025, 3, 5)).active


def test_future_basis_is_not_a_relationship_yet() -> None:
    relationship = BusinessRelationship(last_transaction_at=at(2025, 3, 1))
    assert not ebr_status(relationship, at=at(2025, 2, 1)).active
