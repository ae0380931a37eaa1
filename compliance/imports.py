"""Loading a Do-Not-Call registry file into an organization's copy of that registry, atomically.

One file is one transaction: its entries stream into a temporary staging table (PostgreSQL ``COPY``, batched
inserts on SQLite), then set-based statements merge them. A full list replaces the numbers of every area code it
covers; a change list adds and deletes numbers of area codes already held. Each covered area code's copy date
becomes the file's as-of date; each number keeps the date of the earliest copy it has been listed in since it was
last absent, a record of the imports only: registry files carry no registration dates, that date is not one, and
the gate never reads it. Any error rolls the whole file back.

Memory stays bounded: the parser reads line by line and at most ``batch_size`` entries are buffered.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from compliance.errors import ComplianceError
from compliance.facts import NATIONAL_REGISTRY
from compliance.models import RegistryArea, RegistryList
from compliance.registry_files import ListKind, ParseReport, RegistryFileReader
from compliance.registry_staging import STAGE, Progress, create_stage, load_postgres, load_sqlite
from seiketsu.db import table_of, utcnow

_LIST_NAME = re.compile(r"^(national|state:[A-Z]{2})$")
_AREA_CODE = re.compile(r"^[2-9]\d\d$")
_AREA_DIVISOR = 10_000_000
_LAST = "dnc_stage_last"
REANALYZE_AFTER = 10_000
"""Numbers added or removed beyond which an import refreshes the planner's statistics."""
MERGE_WORK_MEM = "256MB"
"""PostgreSQL memory for the merge's sorts and hashes, for this transaction only."""


class ImportRefused(ComplianceError):
    """The file cannot be applied to the organization's copy (nothing was changed)."""


def parse_list_name(raw: str) -> str:
    """"national" or "state:XX" (case-insensitive in, canonical out). Raises ValueError."""
    value = raw.strip()
    value = value.lower() if value.lower() == NATIONAL_REGISTRY else value[:6].lower() + value[6:].upper()
    if not _LIST_NAME.match(value):
        raise ValueError(f"list must be 'national' or 'state:XX', got {raw!r}")
    return value


def parse_area_codes(raw: str | None) -> frozenset[str]:
    """"212, 850" -> {"212", "850"}. Raises ValueError for anything but NANP area codes."""
    codes = frozenset(code.strip() for code in (raw or "").split(",") if code.strip())
    bad = sorted(code for code in codes if not _AREA_CODE.match(code))
    if bad:
        raise ValueError(f"not area codes: {', '.join(bad)}")
    return codes


@dataclass(frozen=True, slots=True)
class ImportSpec:
    organization_id: uuid.UUID
    list_name: str
    """"national" or "state:XX"."""
    kind: ListKind
    as_of: date
    declared_area_codes: frozenset[str] = frozenset()
    """Area codes the file covers beyond those it names (a full list of an area code without registrations,
    or a change list without changes for some area codes of the subscription)."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    report: ParseReport
    area_codes: tuple[str, ...]
    """Area codes whose copy the file set or advanced."""
    numbers_added: int
    numbers_removed: int


class RegistryImporter:
    """Applies registry files to organizations' copies; one instance serves any number of files."""

    def __init__(self, engine: Engine, *, batch_size: int = 50_000) -> None:
        self._engine = engine
        self._batch_size = batch_size

    def run(
        self, spec: ImportSpec, source: str | Path | IO[bytes], *, name: str, progress: Progress | None = None
    ) -> ImportResult:
        """Import one file. Raises RegistryFileError (unreadable file) or ImportRefused; either way nothing
        changed."""
        reader = RegistryFileReader(source, kind=spec.kind, name=name)
        with self._engine.connect() as conn, conn.begin():
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                conn.exec_driver_sql(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")
            list_id = _list_id(conn, spec)
            held = _held_copies(conn, list_id)
            create_stage(conn)
            if postgres:
                loaded = load_postgres(
                    conn,
                    reader,
                    kind=spec.kind,
                    list_id=list_id,
                    as_of=spec.as_of,
                    held_area_codes=frozenset(held),
                    batch_size=self._batch_size,
                    progress=progress,
                )
                if loaded.staged:
                    conn.exec_driver_sql(f"ANALYZE {STAGE}")
            else:
                loaded = load_sqlite(conn, reader, batch_size=self._batch_size, progress=progress)
            report = reader.report
            covered = sorted(report.area_codes | spec.declared_area_codes)
            _check_applicable(spec, held=held, covered=covered, report=report)
            if spec.kind is ListKind.FULL:
                replaced = sorted(set(covered) & set(held))
                removed, added = _replace(conn, spec, list_id=list_id, replaced=replaced, staged=loaded.staged)
            else:
                removed, added = _apply_changes(conn, spec, list_id=list_id)
            _set_copy_dates(conn, spec, list_id=list_id, covered=covered)
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_LAST}")
            conn.exec_driver_sql(f"DROP TABLE {STAGE}")
            added += loaded.direct
            if postgres and added + removed >= REANALYZE_AFTER:
                # Without fresh statistics the gate's lookups of a few thousand numbers can turn into scans.
                conn.exec_driver_sql("ANALYZE dnc_registry_numbers")
        return ImportResult(report=report, area_codes=tuple(covered), numbers_added=added, numbers_removed=removed)


def _list_id(conn: Connection, spec: ImportSpec) -> int:
    table = table_of(RegistryList)
    values = {"organization_id": spec.organization_id, "name": spec.list_name, "created_at": utcnow()}
    insert = _dialect_insert(conn, table).values(**values).on_conflict_do_nothing()
    conn.execute(insert)
    query = sa.select(table.c.id).where(
        table.c.organization_id == spec.organization_id, table.c.name == spec.list_name
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # one import per list at a time
    list_id: int = conn.execute(query).scalar_one()
    return list_id


def _held_copies(conn: Connection, list_id: int) -> dict[str, date]:
    """Area code -> copy date of every area code the list holds (only those can have numbers)."""
    areas = table_of(RegistryArea)
    rows = conn.execute(sa.select(areas.c.area_code, areas.c.as_of).where(areas.c.list_id == list_id))
    return {code: as_of for code, as_of in rows}


def _dialect_insert(conn: Connection, table: sa.Table) -> Any:
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


def _check_applicable(spec: ImportSpec, *, held: dict[str, date], covered: list[str], report: ParseReport) -> None:
    if not covered:
        if report.rejected:
            raise ImportRefused(f"no line of the file could be read ({report.rejected} rejected)")
        raise ImportRefused("the file lists no numbers; name the area codes it covers to record an empty copy")
    newer = sorted(code for code in covered if code in held and held[code] > spec.as_of)
    if newer:
        latest = max(held[code] for code in newer)
        raise ImportRefused(
            f"a newer copy (as of {latest}) is already held for area codes {', '.join(newer[:20])}; "
            f"this file is as of {spec.as_of}"
        )
    if spec.kind is ListKind.CHANGES:
        missing = sorted(set(covered) - set(held))
        if missing:
            raise ImportRefused(
                f"a change list applies to a full copy: import the full list of area codes {', '.join(missing[:20])}"
                " first"
            )


def _area_filter(covered: list[str]) -> tuple[str, dict[str, Any]]:
    names = [f"ac{i}" for i in range(len(covered))]
    clause = f"(dnc_registry_numbers.number / {_AREA_DIVISOR}) IN ({', '.join(':' + n for n in names)})"
    return clause, {name: int(code) for name, code in zip(names, covered, strict=True)}


def _replace(
    conn: Connection, spec: ImportSpec, *, list_id: int, replaced: list[str], staged: int
) -> tuple[int, int]:
    """Numbers of the held area codes the file covers that it no longer lists go; staged numbers come in."""
    removed = 0
    if replaced:
        clause, params = _area_filter(replaced)
        statement = (
            f"DELETE FROM dnc_registry_numbers WHERE dnc_registry_numbers.list_id = :list_id AND {clause} "
            f"AND NOT EXISTS (SELECT 1 FROM {STAGE} AS s WHERE s.number = dnc_registry_numbers.number)"
        )
        removed = _rowcount(conn.execute(sa.text(statement), {"list_id": list_id, **params}))
    added = _insert_numbers(conn, source=STAGE, where="", list_id=list_id, as_of=spec.as_of) if staged else 0
    return removed, added


def _apply_changes(conn: Connection, spec: ImportSpec, *, list_id: int) -> tuple[int, int]:
    # The last line about a number decides: "add then delete" in one change list is a deletion.
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {_LAST} AS SELECT s.number AS number, s.is_delete AS is_delete FROM {STAGE} AS s "
        f"JOIN (SELECT number, MAX(seq) AS seq FROM {STAGE} GROUP BY number) AS m "
        "ON m.number = s.number AND m.seq = s.seq"
    )
    removed = _rowcount(
        conn.execute(
            sa.text(
                "DELETE FROM dnc_registry_numbers WHERE list_id = :list_id "
                f"AND number IN (SELECT number FROM {_LAST} WHERE is_delete)"
            ),
            {"list_id": list_id},
        )
    )
    added = _insert_numbers(conn, source=_LAST, where="WHERE NOT is_delete", list_id=list_id, as_of=spec.as_of)
    return removed, added


def _insert_numbers(conn: Connection, *, source: str, where: str, list_id: int, as_of: date) -> int:
    """New numbers only, in order (the primary-key index grows at its end); held ones keep their earlier date."""
    statement = (
        "INSERT INTO dnc_registry_numbers (list_id, number, first_listed_on) "
        f"SELECT :list_id, s.number, :as_of FROM (SELECT DISTINCT number FROM {source} {where}) AS s "
        "WHERE NOT EXISTS (SELECT 1 FROM dnc_registry_numbers AS n WHERE n.list_id = :list_id AND n.number = s.number) "
        "ORDER BY s.number"
    )
    bound = sa.text(statement).bindparams(sa.bindparam("as_of", type_=sa.Date))
    return _rowcount(conn.execute(bound, {"list_id": list_id, "as_of": as_of}))


def _set_copy_dates(conn: Connection, spec: ImportSpec, *, list_id: int, covered: list[str]) -> None:
    table = table_of(RegistryArea)
    now = utcnow()
    rows = [
        {"organization_id": spec.organization_id, "list_id": list_id, "area_code": code, "as_of": spec.as_of,
         "updated_at": now}
        for code in covered
    ]  # fmt: skip
    insert = _dialect_insert(conn, table)
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.list_id, table.c.area_code],
        set_={"as_of": insert.excluded.as_of, "updated_at": insert.excluded.updated_at},
    )
    conn.execute(statement, rows)


def _rowcount(result: sa.Result[Any]) -> int:
    return max(0, cast(sa.CursorResult[Any], result).rowcount)
