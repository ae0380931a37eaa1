"""Moving a registry file's entries into the database, inside the import's transaction.

On PostgreSQL, entries stream through ``COPY`` while the file is still being parsed. A full list's numbers go
straight into ``dnc_registry_numbers`` while they come in increasing order and belong to area codes the list does
not hold yet (no row can conflict, and the primary-key index grows at its end); every other entry goes to a
temporary staging table that the set-based merge reads. Registry files are sorted, so a first import of a full
list never touches the staging table. On SQLite every entry is staged with batched inserts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from compliance.registry_files import ListAction, ListKind, RegistryFileReader

STAGE = "dnc_stage"

Progress = Callable[[int], None]
"""Called with the number of entries just written."""


def create_stage(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {STAGE} (number bigint NOT NULL, is_delete boolean NOT NULL, seq bigint NOT NULL)"
            " ON COMMIT DROP"
        )
    else:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{STAGE}")
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {STAGE} (number INTEGER NOT NULL, is_delete BOOLEAN NOT NULL, seq INTEGER NOT NULL)"
        )


class Loaded:
    """How many entries went where."""

    def __init__(self) -> None:
        self.direct = 0
        """Numbers written straight into the list."""
        self.staged = 0


def load_postgres(
    conn: Connection,
    reader: RegistryFileReader,
    *,
    kind: ListKind,
    list_id: int,
    as_of: date,
    held_area_codes: frozenset[str],
    batch_size: int,
    progress: Progress | None,
) -> Loaded:
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        loader = _CopyLoader(
            cursor,
            direct_allowed=kind is ListKind.FULL,
            prefix=f"{list_id}\t",
            suffix=f"\t{as_of.isoformat()}\n",
            held=held_area_codes,
            batch_size=batch_size,
            progress=progress,
        )
        return loader.run(reader)


class _CopyLoader:
    def __init__(
        self,
        cursor: Any,
        *,
        direct_allowed: bool,
        prefix: str,
        suffix: str,
        held: frozenset[str],
        batch_size: int,
        progress: Progress | None,
    ) -> None:
        self._cursor = cursor
        self._direct_allowed = direct_allowed
        self._prefix = prefix
        self._joiner = suffix + prefix
        self._suffix = suffix
        self._held = held
        self._batch_size = batch_size
        self._progress = progress
        self._direct: list[str] = []
        self._staged: list[str] = []
        self._open: ExitStack | None = None
        self._copy: Any = None
        self.loaded = Loaded()

    def run(self, reader: RegistryFileReader) -> Loaded:
        try:
            self._read(reader)
            self._write_direct()
            self._write_staged()
        except BaseException:
            self._close_direct(sys.exc_info())
            raise
        self._close_direct((None, None, None))
        return self.loaded

    def _read(self, reader: RegistryFileReader) -> None:
        last = ""
        direct, staged = self._direct, self._staged
        batch = self._batch_size
        for seq, entry in enumerate(reader):
            digits = entry.phone[2:]
            # Ten digits each: comparing the strings compares the numbers.
            if self._direct_allowed and digits > last and digits[:3] not in self._held:
                last = digits
                direct.append(digits)
                if len(direct) >= batch:
                    self._write_direct()
            else:
                staged.append(f"{digits}\t{'t' if entry.action is ListAction.DELETE else 'f'}\t{seq}\n")
                if len(staged) >= batch:
                    self._write_staged()

    def _write_direct(self) -> None:
        if not self._direct:
            return
        if self._copy is None:
            self._open = ExitStack()
            statement = "COPY dnc_registry_numbers (list_id, number, first_listed_on) FROM STDIN"
            self._copy = self._open.enter_context(self._cursor.copy(statement))
        self._copy.write((self._prefix + self._joiner.join(self._direct) + self._suffix).encode())
        self.loaded.direct += len(self._direct)
        _tick(self._progress, len(self._direct))
        self._direct.clear()

    def _write_staged(self) -> None:
        if not self._staged:
            return
        self._close_direct((None, None, None))  # one COPY at a time on a connection
        with self._cursor.copy(f"COPY {STAGE} (number, is_delete, seq) FROM STDIN") as copy:
            copy.write("".join(self._staged).encode())
        self.loaded.staged += len(self._staged)
        _tick(self._progress, len(self._staged))
        self._staged.clear()

    def _close_direct(self, exc_info: tuple[Any, Any, Any]) -> None:
        if self._open is not None:
            opened, self._open, self._copy = self._open, None, None
            opened.__exit__(*exc_info)


def load_sqlite(
    conn: Connection, reader: RegistryFileReader, *, batch_size: int, progress: Progress | None
) -> Loaded:
    loaded = Loaded()
    statement = f"INSERT INTO {STAGE} (number, is_delete, seq) VALUES (?, ?, ?)"
    rows: list[tuple[int, bool, int]] = []
    for seq, entry in enumerate(reader):
        rows.append((int(entry.phone[2:]), entry.action is ListAction.DELETE, seq))
        if len(rows) >= batch_size:
            conn.exec_driver_sql(statement, rows)
            loaded.staged += len(rows)
            _tick(progress, len(rows))
            rows.clear()
    if rows:
        conn.exec_driver_sql(statement, rows)
        loaded.staged += len(rows)
        _tick(progress, len(rows))
    return loaded


def _tick(progress: Progress | None, count: int) -> None:
    if progress is not None:
        progress(count)
