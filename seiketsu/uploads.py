"""An uploaded file, streamed: a ``multipart/form-data`` body read chunk by chunk into a temporary file, bounded.

Starlette's ``request.form()`` spools a file part of any size before the endpoint can look at it, and writes it on
the worker threads that also serve Twilio's webhooks. :func:`receive_upload` refuses a body as soon as it is known
to pass its limit (413 naming it: from ``Content-Length`` before reading, else while reading), bounds the text
fields, and writes the file's bytes to disk on the bulk imports' file lane, at most ``_FLUSH_BYTES`` held in memory.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from seiketsu.bulk_imports import BulkImports
from seiketsu.errors import FieldError, PayloadTooLarge, ValidationFailed

MAX_FIELD_BYTES = 64 << 10
_FLUSH_BYTES = 256 << 10
_FORM_OVERHEAD = 16 << 10
"""Room for the parts' boundaries and headers beyond the file and the text fields."""


@dataclass
class Upload:
    file: IO[bytes]
    """The file part's bytes, positioned at the start."""
    path: str
    """Where the file is on disk, for another process to open while the block runs."""
    filename: str
    fields: dict[str, str] = field(default_factory=dict)


class _Form:
    """python-multipart's callbacks, collecting text fields and the file part's bytes to write."""

    def __init__(self, *, file_field: str, fields: Collection[str], max_bytes: int, limit_name: str) -> None:
        self.file_field, self.known, self.max_bytes, self.limit_name = file_field, fields, max_bytes, limit_name
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_bytes = 0
        self.pending = bytearray()
        self._name = ""
        self._is_file = False
        self._data = bytearray()
        self._header = b""
        self._value = b""
        self._disposition = b""

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._begin,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
        }

    def too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"form.{self.file_field}: larger than {self.max_bytes:,} bytes, the limit ({self.limit_name})",
            limit_bytes=self.max_bytes,
        )

    def _begin(self) -> None:
        self._name, self._is_file, self._data, self._disposition = "", False, bytearray(), b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name == self.file_field and b"filename" in options:
            if self.filename is not None:
                raise ValidationFailed([FieldError(f"form.{self.file_field}", "one file only")])
            self._is_file = True
            self.filename = options[b"filename"].decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.file_bytes += end - start
            if self.file_bytes > self.max_bytes:
                raise self.too_large()
            self.pending += data[start:end]
        elif self._name in self.known:
            if len(self._data) + end - start > MAX_FIELD_BYTES:
                raise ValidationFailed([FieldError(f"form.{self._name}", f"longer than {MAX_FIELD_BYTES:,} bytes")])
            self._data += data[start:end]

    def _part_end(self) -> None:
        if not self._is_file and self._name in self.known:
            self.fields[self._name] = self._data.decode("utf-8", "replace")


@asynccontextmanager
async def receive_upload(
    request: Request,
    imports: BulkImports,
    *,
    organization_id: uuid.UUID,
    fields: Collection[str],
    max_bytes: int,
    limit_name: str,
    file_field: str = "file",
) -> AsyncIterator[Upload]:
    """Admitted as one of the organization's imports while the block runs (else RateLimited, 429, before the body
    is read): the form's file (``file_field``, at most ``max_bytes``) in a temporary file, and its text ``fields``
    (others are skipped); the file is deleted when the block ends. Raises PayloadTooLarge (413) naming
    ``limit_name``, or ValidationFailed (422) for a body that is not such a form."""
    with imports.admit(organization_id):
        async with _received(
            request, imports, file_field=file_field, fields=fields, max_bytes=max_bytes, limit_name=limit_name
        ) as upload:
            yield upload


@asynccontextmanager
async def _received(
    request: Request,
    imports: BulkImports,
    *,
    file_field: str,
    fields: Collection[str],
    max_bytes: int,
    limit_name: str,
) -> AsyncIterator[Upload]:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ValidationFailed([FieldError("body", "expected multipart/form-data with a boundary")])
    form = _Form(file_field=file_field, fields=fields, max_bytes=max_bytes, limit_name=limit_name)
    ceiling = max_bytes + len(fields) * MAX_FIELD_BYTES + _FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > ceiling:
        raise form.too_large()
    spool: IO[bytes] = await imports.files.run(tempfile.NamedTemporaryFile)
    try:
        parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
        received = 0
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > ceiling:
                    raise form.too_large()
                parser.write(chunk)
                if len(form.pending) >= _FLUSH_BYTES:
                    await imports.files.run(spool.write, bytes(form.pending))
                    form.pending.clear()
            parser.finalize()
        except FormParserError as exc:
            raise ValidationFailed([FieldError("body", "malformed multipart/form-data")]) from exc
        if form.filename is None:
            raise ValidationFailed([FieldError(f"form.{file_field}", "a file is required")])
        await imports.files.run(spool.write, bytes(form.pending))
        form.pending.clear()
        await imports.files.run(spool.seek, 0)
        yield Upload(file=spool, path=spool.name, filename=form.filename, fields=form.fields)
    finally:
        await imports.files.run(spool.close)
