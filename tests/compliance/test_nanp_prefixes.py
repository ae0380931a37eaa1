"""The memoised parse of NANP E.164 numbers gives exactly the careful parse's answer."""

from __future__ import annotations

import random

import pytest

from compliance.errors import InvalidPhoneNumberError
from compliance.nanp_prefixes import _by_prefix, _leading_literals, _prefix_lengths
from compliance.phones import PhoneNumber, parse_phone, parse_phone_carefully


def _answer(parse: object, raw: str) -> PhoneNumber | str:
    try:
        result = parse(raw)  # type: ignore[operator]
    except InvalidPhoneNumberError as exc:
        return f"invalid: {exc}"
    assert isinstance(result, PhoneNumber)
    return result


def _sample() -> list[str]:
    rng = random.Random(20261125)
    numbers = [
        "+18005550134",  # toll-free
        "+18335550134",
        "+19005550134",  # premium rate
        "+14165550134",  # Canada
        "+16045550134",
        "+17872001234",  # Puerto Rico
        "+19392001234",
        "+13407731234",  # US Virgin Islands
        "+16714771234",  # Guam
        "+16846331234",  # American Samoa
        "+16702341234",  # Northern Mariana Islands
        "+12465210123",  # Barbados, whose patterns read seven digits
        "+12465219123",
        "+12465214123",
        "+18766060123",  # Jamaica, likewise
        "+18766061123",
        "+12125550100",
        "+12115550100",  # N11 area code
        "+12121110100",  # N11 exchange
        "+12120550100",  # exchange starting 0
        "+19995550100",
        "+15005550100",  # personal communications service
    ]
    for area_code in range(200, 1000):
        for _ in range(3):
            exchange = rng.randrange(200, 1000) if rng.random() < 0.9 else rng.randrange(0, 200)
            numbers.append(f"+1{area_code}{exchange:03d}{rng.randrange(10_000):04d}")
    return numbers


def test_memoised_parse_equals_careful_parse() -> None:
    for raw in _sample():
        assert _answer(parse_phone, raw) == _answer(parse_phone_carefully, raw), raw
        # a second reading comes from the memo
        assert _answer(parse_phone, raw) == _answer(parse_phone_carefully, raw), raw


def test_numbers_under_one_exchange_share_every_fact_but_their_own_digits() -> None:
    rng = random.Random(7)
    for area_code in ("212", "416", "787", "800", "246", "876"):
        for exchange in ("200", "521", "606", "555"):
            for _ in range(20):
                raw = f"+1{area_code}{exchange}{rng.randrange(10_000):04d}"
                assert _answer(parse_phone, raw) == _answer(parse_phone_carefully, raw), raw


@pytest.mark.parametrize("raw", ["(212) 555-0100", "+1 212 555 0100", "2125550100", "+44 20 7946 0958"])
def test_other_forms_take_the_careful_path_with_the_same_answer(raw: str) -> None:
    assert _answer(parse_phone, raw) == _answer(parse_phone_carefully, raw)


def test_numbers_under_one_prefix_of_four_digits_share_every_fact() -> None:
    lengths = _prefix_lengths()
    assert lengths is not None
    rng = random.Random(11)
    _by_prefix.cache_clear()  # each prefix's answer is memoised from the first number read under it
    for area_code in rng.sample(sorted(a for a, length in lengths.items() if length == 4), 40):
        for first in "0123456789":
            for _ in range(4):
                raw = f"+1{area_code}{first}{rng.randrange(1_000_000):06d}"
                assert _answer(parse_phone, raw) == _answer(parse_phone_carefully, raw), raw


def test_the_metadata_allows_memoising_by_four_or_six_digits() -> None:
    lengths = _prefix_lengths()
    assert lengths is not None, "phonenumbers' NANP patterns can no longer be read: nothing is memoised"
    assert 800 - len(lengths) < 20  # area codes read number by number
    assert sum(1 for length in lengths.values() if length == 4) > 500, "most area codes are decided by 4 digits"
    assert {"246", "876"}.isdisjoint(lengths)  # Barbados and Jamaica: patterns reading seven digits


@pytest.mark.parametrize(
    ("alternative", "literals"),
    [
        ("268(?:4(?:6[0-38]|84)|56[0-2])\\d{4}", ["268"]),
        ("(?:246976|900[2-9]\\d\\d)\\d{4}", ["246976", "900"]),
        ("(?:1)?2\\d{9}", [""]),  # an optional group: the match may start anywhere
        ("52?3\\d{7}", ["5"]),  # an optional digit is no literal
        ("[2-9]\\d{9}", [""]),
    ],
)
def test_leading_literals_are_read_conservatively(alternative: str, literals: list[str]) -> None:
    assert _leading_literals(alternative) == literals
