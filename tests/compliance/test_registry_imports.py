"""Registry imports on PostgreSQL (COPY and set-based merge) and SQLite: formats, full and change lists, bad lines,
atomic failure, copy dates and the date each number was first listed in the copies held (a record of the imports,
never a registration date)."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from compliance.errors import RegistryFileError
from compliance.imports import (
    ImportRefused,
    ImportResult,
    ImportSpec,
    RegistryImporter,
    parse_area_codes,
    parse_list_name,
)
from compliance.models import RegistryArea, RegistryList, RegistryNumber
from compliance.registry_files import ListKind
from seiketsu.container import Container
from seiketsu.db import table_of
from tests.factories import make_org

DAY1 = date(2025, 5, 1)
DAY2 = date(2025, 6, 1)


def _spec(org_id: uuid.UUID, *, kind: ListKind = ListKind.FULL, as_of: date = DAY1, **kwargs: object) -> ImportSpec:
    return ImportSpec(organization_id=org_id, list_name="national", kind=kind, as_of=as_of, **kwargs)  # type: ignore[arg-type]


def _run(container: Container, spec: ImportSpec, content: bytes, name: str = "list.txt") -> ImportResult:
    return RegistryImporter(container.engine, batch_size=3).run(spec, io.BytesIO(content), name=name)


LISTS = table_of(RegistryList)
AREAS = table_of(RegistryArea)
NUMBERS = table_of(RegistryNumber)


def _numbers(container: Container, org_id: uuid.UUID, list_name: str = "national") -> dict[str, date]:
    query = (
        sa.select(NUMBERS.c.number, NUMBERS.c.first_listed_on)
        .join(LISTS, LISTS.c.id == NUMBERS.c.list_id)
        .where(LISTS.c.organization_id == org_id, LISTS.c.name == list_name)
    )
    with container.engine.connect() as connection:
        return {str(number): first for number, first in connection.execute(query)}


def _copies(container: Container, org_id: uuid.UUID) -> dict[str, date]:
    query = (
        sa.select(AREAS.c.area_code, AREAS.c.as_of)
        .join(LISTS, LISTS.c.id == AREAS.c.list_id)
        .where(LISTS.c.organization_id == org_id)
    )
    with container.engine.connect() as connection:
        return {code: as_of for code, as_of in connection.execute(query)}


def _zip(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


MIXED = b"""2125550134
212,5550135
(212) 555-0136
+1 646 555 0100

abc
12345
212,555013
0125550137
2125550134
"""


@pytest.fixture(params=["postgresql", "sqlite"])
def any_container(request: pytest.FixtureRequest) -> Container:
    fixture = "container" if request.param == "postgresql" else "sqlite_container"
    container: Container = request.getfixturevalue(fixture)
    return container


def test_a_full_list_in_both_formats_skips_and_reports_bad_lines(any_container: Container) -> None:
    org = make_org(any_container, "acme")
    result = _run(any_container, _spec(org.id), MIXED)
    report = result.report
    assert report.accepted == 5 and report.rejected == 4
    assert [(r.line, r.reason) for r in report.rejected_lines] == [
        (6, "number field holds letters"),
        (7, "expected 10 digits, found 5"),
        (8, "area code and number do not make 10 digits"),
        (9, "not a valid NANP number"),
    ]
    assert _numbers(any_container, org.id) == {
        "2125550134": DAY1, "2125550135": DAY1, "2125550136": DAY1, "6465550100": DAY1,
    }  # fmt: skip
    assert _copies(any_container, org.id) == {"212": DAY1, "646": DAY1}
    assert result.numbers_added == 4 and result.numbers_removed == 0


def test_a_zipped_list_reads_every_member(container: Container) -> None:
    org = make_org(container, "acme")
    archive = _zip(("part1.txt", b"2125550134\n2125550135\n"), ("part2.txt", b"646,5550100\nbad\n"))
    result = _run(container, _spec(org.id), archive, name="national.zip")
    assert result.report.accepted == 3 and result.report.rejected == 1
    assert result.report.rejected_lines[0].source == "national.zip:part2.txt"
    assert set(_numbers(container, org.id)) == {"2125550134", "2125550135", "6465550100"}


def test_a_full_list_replaces_its_area_codes_only_and_keeps_first_listed_dates(any_container: Container) -> None:
    org = make_org(any_container, "acme")
    _run(any_container, _spec(org.id), b"2125550001\n2125550002\n6465550001\n")
    result = _run(any_container, _spec(org.id, as_of=DAY2), b"2125550002\n2125550003\n")
    assert (result.numbers_added, result.numbers_removed) == (1, 1)
    assert _numbers(any_container, org.id) == {
        "2125550002": DAY1,  # listed in both copies: first listed in the first
        "2125550003": DAY2,
        "6465550001": DAY1,  # another area code: untouched
    }
    assert _copies(any_container, org.id) == {"212": DAY2, "646": DAY1}


def test_a_change_list_adds_and_deletes_the_last_action_winning(any_container: Container) -> None:
    org = make_org(any_container, "acme")
    _run(any_container, _spec(org.id), b"2125550001\n2125550002\n")
    changes = b"2125550003,A\n212,5550001,D\n2125550004,A\n2125550004,D\n2125550002,2025-05-20,A\n"
    result = _run(any_container, _spec(org.id, kind=ListKind.CHANGES, as_of=DAY2), changes)
    assert (result.report.additions, result.report.deletions) == (3, 2)
    assert _numbers(any_container, org.id) == {"2125550002": DAY1, "2125550003": DAY2}
    assert _copies(any_container, org.id) == {"212": DAY2}


def test_a_number_deleted_then_listed_again_is_first_listed_in_the_later_copy(container: Container) -> None:
    org = make_org(container, "acme")
    _run(container, _spec(org.id), b"2125550001\n")
    _run(container, _spec(org.id, kind=ListKind.CHANGES, as_of=DAY1 + timedelta(days=7)), b"2125550001,D\n")
    _run(container, _spec(org.id, kind=ListKind.CHANGES, as_of=DAY2), b"2125550001,A\n")
    assert _numbers(container, org.id) == {"2125550001": DAY2}


def test_an_unsorted_first_list_with_duplicates_is_loaded_once_each(container: Container) -> None:
    # In-order numbers of new area codes go straight to the list, the rest through staging: both end up once.
    org = make_org(container, "acme")
    content = b"2125550005\n2125550009\n2125550001\n2125550009\n2125550007\n6465550001\n2125550001\n6465550002\n"
    result = _run(container, _spec(org.id), content)
    assert result.numbers_added == 6
    assert set(_numbers(container, org.id)) == {
        "2125550001", "2125550005", "2125550007", "2125550009", "6465550001", "6465550002",
    }  # fmt: skip


def test_a_change_list_needs_a_full_copy_of_its_area_codes(container: Container) -> None:
    org = make_org(container, "acme")
    _run(container, _spec(org.id), b"2125550001\n")
    with pytest.raises(ImportRefused, match="646"):
        _run(container, _spec(org.id, kind=ListKind.CHANGES, as_of=DAY2), b"2125550002,A\n6465550001,A\n")
    assert _numbers(container, org.id) == {"2125550001": DAY1}
    assert _copies(container, org.id) == {"212": DAY1}


def test_an_older_copy_than_the_one_held_is_refused(container: Container) -> None:
    org = make_org(container, "acme")
    _run(container, _spec(org.id, as_of=DAY2), b"2125550001\n")
    with pytest.raises(ImportRefused, match="newer copy"):
        _run(container, _spec(org.id, as_of=DAY1), b"2125550002\n")
    assert _numbers(container, org.id) == {"2125550001": DAY2}


def test_a_file_failing_midway_changes_nothing(any_container: Container) -> None:
    org = make_org(any_container, "acme")
    _run(any_container, _spec(org.id), b"2125550001\n2125550002\n")
    # The first member is read and staged before the second turns out to be XML.
    archive = _zip(("a.txt", b"2125550009\n2125550008\n2125550007\n2125550006\n"), ("b.xml", b"<numbers/>"))
    with pytest.raises(RegistryFileError, match="XML"):
        _run(any_container, _spec(org.id, as_of=DAY2), archive, name="bad.zip")
    assert _numbers(any_container, org.id) == {"2125550001": DAY1, "2125550002": DAY1}
    assert _copies(any_container, org.id) == {"212": DAY1}


def test_an_unreadable_file_is_refused(container: Container) -> None:
    org = make_org(container, "acme")
    with pytest.raises(ImportRefused, match="no line"):
        _run(container, _spec(org.id), b"hello\nworld\n")
    with pytest.raises(ImportRefused, match="lists no numbers"):
        _run(container, _spec(org.id), b"")


def test_an_empty_full_list_of_a_declared_area_code_clears_it(container: Container) -> None:
    org = make_org(container, "acme")
    _run(container, _spec(org.id), b"2125550001\n")
    result = _run(container, _spec(org.id, as_of=DAY2, declared_area_codes=frozenset({"212"})), b"")
    assert result.numbers_removed == 1
    assert _numbers(container, org.id) == {}
    assert _copies(container, org.id) == {"212": DAY2}


def test_organizations_and_lists_are_kept_apart(container: Container) -> None:
    a = make_org(container, "alpha")
    b = make_org(container, "beta")
    _run(container, _spec(a.id), b"2125550001\n")
    _run(container, ImportSpec(organization_id=a.id, list_name="state:TX", kind=ListKind.FULL, as_of=DAY1),
         b"5125550001\n")  # fmt: skip
    _run(container, _spec(b.id, as_of=DAY2), b"2125550002\n")
    assert _numbers(container, a.id) == {"2125550001": DAY1}
    assert _numbers(container, a.id, "state:TX") == {"5125550001": DAY1}
    assert _numbers(container, b.id) == {"2125550002": DAY2}


def test_list_names_and_area_codes_are_checked() -> None:
    assert parse_list_name("National") == "national"
    assert parse_list_name("state:tx") == "state:TX"
    with pytest.raises(ValueError):
        parse_list_name("state:Texas")
    assert parse_area_codes(" 212, 850 ") == {"212", "850"}
    with pytest.raises(ValueError, match="112"):
        parse_area_codes("212,112")
