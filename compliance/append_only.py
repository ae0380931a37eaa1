"""The application never changes or removes a row of the append-only tables.

The consent ledger, the internal Do-Not-Call list and its withdrawals, and the gate's audit log (decisions and their
check sets) are records the law asks to keep (47 CFR 64.1200(d)(6): five years). ``install_append_only_guard`` makes
every session of a factory refuse ORM UPDATE and DELETE statements on them and refuse to flush a changed or deleted
row. On PostgreSQL the migration adds a trigger that raises on UPDATE and DELETE whatever the client.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from compliance.errors import ComplianceError
from compliance.models import ConsentRecord, DoNotCallRequest, DoNotCallWithdrawal, GateCheckSet, GateDecision

APPEND_ONLY_MODELS: tuple[type[Any], ...] = (
    ConsentRecord,
    DoNotCallRequest,
    DoNotCallWithdrawal,
    GateDecision,
    GateCheckSet,
)
APPEND_ONLY_TABLES = frozenset(model.__tablename__ for model in APPEND_ONLY_MODELS)


class AppendOnlyViolation(ComplianceError):
    """Code tried to update or delete a row of an append-only table."""


def _refuse_statements(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in APPEND_ONLY_TABLES:
        verb = "UPDATE" if state.is_update else "DELETE"
        raise AppendOnlyViolation(f"{verb} on {name} refused: the table is append-only")


def _refuse_changes(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, APPEND_ONLY_MODELS):
            raise AppendOnlyViolation(f"deleting a {type(obj).__name__} refused: the table is append-only")
    for obj in session.dirty:
        if isinstance(obj, APPEND_ONLY_MODELS) and session.is_modified(obj, include_collections=False):
            raise AppendOnlyViolation(f"changing a {type(obj).__name__} refused: the table is append-only")


def install_append_only_guard(factory: sessionmaker[Session]) -> None:
    """Make every session of ``factory`` refuse to change or remove append-only rows (idempotent)."""
    if not event.contains(factory, "do_orm_execute", _refuse_statements):
        event.listen(factory, "do_orm_execute", _refuse_statements)
    if not event.contains(factory, "before_flush", _refuse_changes):
        event.listen(factory, "before_flush", _refuse_changes)
