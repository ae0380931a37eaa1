"""The application's error tree, and its one mapping to RFC 7807 problem+json responses.

AppError
 ├── BadRequest            400
 ├── Unauthorized          401
 ├── Forbidden             403
 │    └── PasswordChangeRequired  (its own problem type: set your own password first)
 ├── NotFound              404  (also for another organization's rows: their existence is never revealed)
 ├── Conflict              409
 ├── PayloadTooLarge       413  (names the limit)
 ├── ValidationFailed      422  (names the path of each invalid field)
 ├── RateLimited           429  (carries Retry-After)
 └── ServiceUnavailable    503  (carries Retry-After: a dependency is missing or down)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class AppError(Exception):
    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail

    def extra(self) -> dict[str, Any]:
        return {}

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(AppError):
    status = 400
    title = "Bad Request"


class Unauthorized(AppError):
    status = 401
    title = "Unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(AppError):
    status = 403
    title = "Forbidden"


class PasswordChangeRequired(Forbidden):
    """A user signed in with a password someone else chose (a one-time or admin-set one)."""

    TYPE = "urn:seiketsu:problem:password-change-required"

    def __init__(self) -> None:
        super().__init__("set your own password first: PUT /api/v1/auth/profile with currentPassword and newPassword")

    def extra(self) -> dict[str, Any]:
        return {"type": self.TYPE}


class NotFound(AppError):
    status = 404
    title = "Not Found"


class Conflict(AppError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(AppError):
    status = 413
    title = "Content Too Large"

    def __init__(self, detail: str, *, limit_bytes: int) -> None:
        super().__init__(detail)
        self.limit_bytes = limit_bytes

    def extra(self) -> dict[str, Any]:
        return {"limitBytes": self.limit_bytes}


class ValidationFailed(AppError):
    status = 422
    title = "Unprocessable Entity"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = tuple(errors)

    def extra(self) -> dict[str, Any]:
        return {"errors": [{"field": e.field, "message": e.message} for e in self.errors]}

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in an import process and raised again in the web process (see seiketsu.bulk_imports).
        return (type(self), (self.errors, self.detail))


class RateLimited(AppError):
    status = 429
    title = "Too Many Requests"

    def __init__(self, retry_after: float, detail: str | None = None) -> None:
        super().__init__(detail or "rate limit exceeded")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


class ServiceUnavailable(AppError):
    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: float = 30.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


def problem_response(
    *,
    status: int,
    title: str,
    detail: str | None,
    instance: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "instance": instance}
    if detail:
        body["detail"] = detail
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field_path(location: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in location)


_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def _field_error(error: Mapping[str, Any]) -> dict[str, str]:
    """One of pydantic's errors as the API shows it: the field's path and a message meant for a person."""
    location = tuple(error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "json_invalid":
        # pydantic puts the character offset where the field would be: ("body", 13)
        offset = location[1] if len(location) > 1 else None
        reason = (error.get("ctx") or {}).get("error", "not valid JSON")
        where = f" at character {offset}" if isinstance(offset, int) else ""
        return {"field": "body", "message": f"the body is not valid JSON: {reason}{where}"}
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    return {"field": _field_path(location), "message": message}


def install_error_handlers(app: FastAPI) -> None:
    async def app_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return problem_response(
            status=exc.status,
            title=exc.title,
            detail=exc.detail,
            instance=request.url.path,
            extra=exc.extra(),
            headers=exc.headers(),
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [_field_error(err) for err in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(
            status=422,
            title="Unprocessable Entity",
            detail=detail,
            instance=request.url.path,
            extra={"errors": errors},
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
        return problem_response(
            status=exc.status_code,
            title=title,
            detail=str(exc.detail),
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # A lost or refused connection, a cancelled query: transient, so the client is told to retry.
        logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return problem_response(
            status=503,
            title="Service Unavailable",
            detail="the database is unavailable; try again shortly",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            status=500,
            title="Internal Server Error",
            detail=None,
            instance=request.url.path,
        )

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(sa_exc.OperationalError, database_unavailable)
    app.add_exception_handler(Exception, unexpected)
