from __future__ import annotations

import pytest

from compliance.errors import InvalidPhoneNumberError
from compliance.phones import mask_phone, nanp_e164, parse_phone, to_e164


@pytest.mark.parametrize(
    "raw", ["(850) 555-0134", "850.555.0134", "+1 850 555 0134", "18505550134", "8505550134", "+18505550134"]
)
def test_us_formats_normalise_to_e164(raw: str) -> None:
    assert to_e164(raw) == "+18505550134"


def test_parse_extracts_nanp_parts() -> None:
    phone = parse_phone("+1 (907) 555-0134")
    assert (phone.area_code, phone.exchange, phone.region, phone.geographic) == ("907", "555", "US", True)
    assert phone.in_us_jurisdiction


def test_canadian_number_is_nanp_but_not_us() -> None:
    phone = parse_phone("+1 416 555 0134")
    assert phone.area_code == "416"
    assert phone.region == "CA"
    assert not phone.in_us_jurisdiction


def test_territories_are_us_jurisdiction() -> None:
    assert parse_phone("+1 787 200 1234").region == "PR"
    assert parse_phone("+1 787 200 1234").in_us_jurisdiction


def test_toll_free_is_not_geographic() -> None:
    phone = parse_phone("+1 800 555 1234")
    assert not phone.geographic


def test_non_nanp_number_has_no_area_code() -> None:
    phone = parse_phone("+44 20 7946 0958")
    assert phone.area_code is None and phone.region == "GB"


@pytest.mark.parametrize("raw", ["", "hello", "555-1234", "+1 211 555 1234", "+1 999 999 9999"])
def test_invalid_numbers_raise(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumberError):
        parse_phone(raw)


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("8505550134", "+18505550134"),
        ("0505550134", None),  # area code starts with 0
        ("1505550134", None),  # area code starts with 1
        ("8501550134", None),  # exchange starts with 1
        ("9115550134", None),  # N11 area code
        ("8504110134", None),  # N11 exchange
        ("850555013", None),
        ("85055501345", None),
        ("85055501a4", None),
        ("８５０５５５０１３４", None),  # full-width digits are not ASCII
    ],
)
def test_nanp_structural_check(digits: str, expected: str | None) -> None:
    assert nanp_e164(digits) == expected


def test_mask_keeps_only_last_four_digits() -> None:
    assert mask_phone("+18505550134") == "+1******0134"
    assert mask_phone("850-555-0134") == "******0134"
    assert mask_phone("123") == "***"
