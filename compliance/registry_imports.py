"""Registry imports as the product runs them: a record per file, from the CLI or from an upload and a job.

The CLI imports files in its own process (``import_file``). An upload through the API is stored in the database
(``store_upload``, in 1 MiB chunks: web and worker processes may run on different machines) and imported by the
``compliance.import_registry_file`` job, which copies it to a local temporary file, imports it and drops the
stored chunks. Every import leaves a ``RegistryImport`` row: the record of registry copies the DNC safe harbor
asks for, with counts and the first rejected lines.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from compliance.errors import RegistryFileError
from compliance.imports import ImportRefused, ImportResult, ImportSpec, RegistryImporter
from compliance.models import ImportStatus, RegistryImport, RegistryUploadChunk
from compliance.registry_files import ListKind
from compliance.registry_staging import Progress
from seiketsu.db import utcnow
from seiketsu.jobs.registry import JobContext, PermanentFailure
from seiketsu.tenancy.scoping import tenant_session

logger = logging.getLogger(__name__)

JOB_NAME = "compliance.import_registry_file"
CHUNK_BYTES = 1 << 20
MAX_UPLOAD_BYTES = 512 << 20
KEPT_REJECTIONS = 100


class UploadTooLarge(ValueError):
    pass


def new_import(
    session: Session,
    *,
    list_name: str,
    kind: ListKind,
    as_of: date,
    file_name: str,
    declared_area_codes: frozenset[str],
    requested_by: str,
) -> RegistryImport:
    """Record a queued import in the session's organization (the caller commits)."""
    record = RegistryImport(
        list_name=list_name,
        kind=kind.value,
        as_of=as_of,
        file_name=file_name[:255],
        declared_area_codes=sorted(declared_area_codes),
        requested_by=requested_by[:80],
    )
    session.add(record)
    session.flush()
    return record


def store_upload(
    session: Session, record: RegistryImport, stream: IO[bytes], *, max_bytes: int = MAX_UPLOAD_BYTES
) -> int:
    """Store an uploaded file with its import record; returns its size. Raises UploadTooLarge."""
    size = 0
    seq = 0
    while chunk := stream.read(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise UploadTooLarge(f"larger than {max_bytes >> 20} MiB")
        stored = RegistryUploadChunk(import_id=record.id, seq=seq, data=chunk)
        session.add(stored)
        session.flush()
        session.expunge(stored)  # written: let it go, so memory stays bounded
        seq += 1
    return size


def import_file(
    *,
    engine: Engine,
    sessions: sessionmaker[Session],
    organization_id: uuid.UUID,
    import_id: uuid.UUID,
    source: str | Path | IO[bytes],
    progress: Progress | None = None,
) -> RegistryImport:
    """Run a recorded import and record its outcome. A refused or unreadable file ends ``failed`` (nothing
    changed); an unexpected error is recorded and raised again."""
    with tenant_session(sessions, organization_id) as session:
        record = session.get(RegistryImport, import_id)
        if record is None:
            raise LookupError(f"registry import {import_id} not found")
        record.status = ImportStatus.RUNNING
        record.started_at = utcnow()
        session.commit()
        spec = ImportSpec(
            organization_id=organization_id,
            list_name=record.list_name,
            kind=ListKind(record.kind),
            as_of=record.as_of,
            declared_area_codes=frozenset(record.declared_area_codes),
        )
        name = record.file_name
    try:
        result = RegistryImporter(engine).run(spec, source, name=name, progress=progress)
    except (RegistryFileError, ImportRefused) as exc:
        return _finish(sessions, organization_id, import_id, error=str(exc))
    except Exception as exc:
        logger.exception("registry import %s failed", import_id)
        _finish(sessions, organization_id, import_id, error=f"internal error: {type(exc).__name__}")
        raise
    return _finish(sessions, organization_id, import_id, result=result)


def _finish(
    sessions: sessionmaker[Session],
    organization_id: uuid.UUID,
    import_id: uuid.UUID,
    *,
    result: ImportResult | None = None,
    error: str | None = None,
) -> RegistryImport:
    with tenant_session(sessions, organization_id) as session:
        record = session.get(RegistryImport, import_id)
        assert record is not None
        record.finished_at = utcnow()
        if result is None:
            record.status = ImportStatus.FAILED
            record.error = error
        else:
            report = result.report
            record.status = ImportStatus.SUCCEEDED
            record.accepted = report.accepted
            record.additions = report.additions
            record.deletions = report.deletions
            record.rejected = report.rejected
            record.rejected_lines = [asdict(line) for line in report.rejected_lines[:KEPT_REJECTIONS]]
            record.area_codes = list(result.area_codes)
            record.numbers_added = result.numbers_added
            record.numbers_removed = result.numbers_removed
        session.commit()
        return record


def import_job(context: JobContext) -> None:
    """The job behind ``POST /api/v1/dnc/imports``: import the stored upload, then drop it."""
    container = context.container
    try:
        import_id = uuid.UUID(str(context.payload["import_id"]))
    except (KeyError, ValueError) as exc:
        raise PermanentFailure(f"bad payload: {exc}") from exc
    with _stored_upload(container.sessions, context.organization_id, import_id) as upload:
        record = import_file(
            engine=container.engine,
            sessions=container.sessions,
            organization_id=context.organization_id,
            import_id=import_id,
            source=upload,
        )
    with tenant_session(container.sessions, context.organization_id) as session:
        session.execute(sa.delete(RegistryUploadChunk).where(col(RegistryUploadChunk.import_id) == import_id))
        session.commit()
    logger.info("registry import %s: %s", import_id, record.status.value)


@contextmanager
def _stored_upload(
    sessions: sessionmaker[Session], organization_id: uuid.UUID, import_id: uuid.UUID
) -> Iterator[IO[bytes]]:
    with tempfile.TemporaryFile() as spool, tenant_session(sessions, organization_id) as session:
        rows = session.execute(
            sa.select(col(RegistryUploadChunk.data))
            .where(col(RegistryUploadChunk.import_id) == import_id)
            .order_by(col(RegistryUploadChunk.seq))
            .execution_options(yield_per=4)
        )
        for (data,) in rows:
            spool.write(data)
        session.close()
        spool.seek(0)
        yield spool
