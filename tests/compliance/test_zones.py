from __future__ import annotations

import pytest

from compliance.geography import zip3_of
from compliance.phones import parse_phone
from compliance.rulebook import RuleBook
from compliance.zones import candidate_zones, number_zones


def zones_for(rulebook: RuleBook, phone: str, *states: str, postal: str | None = None) -> set[str]:
    found = candidate_zones(parse_phone(phone), address_states=states, postal_code=postal, geography=rulebook.geography)
    return {z.key for z in found.zones}


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("+18505550134", {"America/New_York", "America/Chicago"}),  # unknown prefix: both halves of the panhandle
        ("+18504330134", {"America/Chicago"}),  # Pensacola prefix known to phonenumbers
        ("+18125550134", {"America/New_York", "America/Indiana/Indianapolis", "America/Chicago"}),
        ("+14235550134", {"America/Chicago", "America/New_York"}),  # library default Central, table adds Eastern
        ("+17015550134", {"America/Denver", "America/North_Dakota/Center", "America/Chicago"}),
        ("+19285550134", {"America/Phoenix", "America/Denver"}),  # Navajo Nation keeps DST
        ("+16025550134", {"America/Phoenix"}),  # Phoenix: no DST, not split
        ("+18085550134", {"Pacific/Honolulu"}),
        ("+19075550134", {"America/Anchorage", "America/Adak"}),
        ("+19155550134", {"America/Denver"}),  # El Paso: Mountain, not split
        ("+19315550134", {"America/Chicago"}),  # Middle Tennessee: not split
    ],
)
def test_number_zones(rulebook: RuleBook, phone: str, expected: set[str]) -> None:
    assert zones_for(rulebook, phone) == expected


def test_prefix_knowledge_is_reported() -> None:
    assert number_zones("+18504330134") == (("America/Chicago",), True)
    assert number_zones("+18505550134") == (("America/New_York",), False)


def test_toll_free_number_gives_no_zone(rulebook: RuleBook) -> None:
    assert zones_for(rulebook, "+18005550134") == set()
    assert zones_for(rulebook, "+18005550134", "HI") == {"Pacific/Honolulu"}


def test_address_zone_is_added(rulebook: RuleBook) -> None:
    assert zones_for(rulebook, "+12125550134", "CA") == {"America/New_York", "America/Los_Angeles"}


@pytest.mark.parametrize(
    ("state", "postal", "expected"),
    [
        ("FL", "32501", {"America/Chicago"}),  # Pensacola
        ("FL", "32301", {"America/New_York"}),  # Tallahassee
        ("FL", "32456", {"America/New_York", "America/Chicago"}),  # Gulf County straddles the line
        ("FL", None, {"America/New_York", "America/Chicago"}),
        ("FL", "75001", {"America/New_York", "America/Chicago"}),  # a Texas ZIP does not narrow Florida
        ("TX", "79901", {"America/Denver"}),  # El Paso
        ("TX", "75201", {"America/Chicago"}),
        ("AZ", "85004", {"America/Phoenix"}),
        ("AZ", "86515", {"America/Phoenix", "America/Denver"}),  # Window Rock, Navajo Nation
        ("IN", "46204", {"America/Indiana/Indianapolis"}),
        ("IN", "46320", {"America/Chicago"}),  # Hammond
        ("AK", "99546", {"America/Anchorage", "America/Adak"}),  # Adak
        ("HI", "96813", {"Pacific/Honolulu"}),
    ],
)
def test_address_zones(rulebook: RuleBook, state: str, postal: str | None, expected: set[str]) -> None:
    assert set(rulebook.geography.zones_for_address(state, postal)) == expected


def test_unknown_state_raises_key_error(rulebook: RuleBook) -> None:
    with pytest.raises(KeyError):
        rulebook.geography.zones_for_address("ZZ", None)


@pytest.mark.parametrize(
    ("postal", "zip3"),
    [("32501", "325"), ("32501-1234", "325"), (" 02903 ", "029"), ("3250", None), ("K1A 0B1", None),
     ("32501-12", None), (None, None)],
)  # fmt: skip
def test_zip3(postal: str | None, zip3: str | None) -> None:
    assert zip3_of(postal) == zip3


def test_state_of_area_code_and_postal_code(rulebook: RuleBook) -> None:
    geography = rulebook.geography
    assert geography.state_for_area_code("850") == "FL"
    assert geography.state_for_area_code("787") == "PR"
    assert geography.state_for_area_code("416") is None
    assert geography.state_for_postal_code("73301") == "TX"  # Austin's IRS ZIP inside Oklahoma's range
    assert geography.state_for_postal_code("00901") == "PR"


def test_memoised_number_zones_equal_the_table_lookup() -> None:
    import random

    from compliance.zones import _prefix_table, _table_zones

    table = _prefix_table()
    assert table is not None
    rng = random.Random(5)
    for _ in range(3000):
        e164 = f"+1{rng.randrange(200, 1000)}{rng.randrange(1000):03d}{rng.randrange(10_000):04d}"
        assert number_zones(e164) == _table_zones(table, e164[1:]), e164
    # Every longer NANP key, with digits after it and a neighbour that differs in the key's last digit: the memo
    # per area code's longest key must answer as the table does.
    for key in [k for k in table if k.startswith("1") and 4 < len(k) <= 11]:
        tail = f"{rng.randrange(10**10):010d}"
        for digits in (key + tail, key[:-1] + str((int(key[-1]) + 1) % 10) + tail):
            e164 = "+" + digits[:11]
            assert number_zones(e164) == _table_zones(table, e164[1:]), e164
    assert number_zones("+442079460958") == _table_zones(table, "442079460958")
