"""A local fake of HubSpot's CRM object API, for fault-injection tests and the delivery benchmark, and the gate
every fake CRM shares (:class:`FakeCRM`; Follow Up Boss's is :mod:`crm_adapters.fake_followupboss`).

It serves the date-versioned paths :mod:`crm_adapters.hubspot` uses (contact search, create, update and
batch upsert; calls, tasks and meetings with associations), with HubSpot's request and answer shapes:
unique properties answer 409 ``CONFLICT`` on a duplicate create, batch upserts accept only unique
``idProperty`` values, and a call needs ``hs_timestamp``. On top it can

* enforce a rolling rate limit (HubSpot's ``TEN_SECONDLY_ROLLING``: 429 with HubSpot's body and
  ``X-HubSpot-RateLimit-*`` headers; every answer carries those headers);
* inject faults at random: 429 with or without ``Retry-After``, 500 before a write, 500 *after* a write
  (the ambiguous failure that tests exactly-once delivery), and slow answers;
* record every object it created, so a test can assert that each arrived exactly once.

Serve ``FakeHubSpot().app`` through ``httpx.ASGITransport`` or uvicorn; ``rate_limit`` and ``faults``
may be changed between requests. Only requests that pass the limiter count against it. State lives in
the instance and one event loop serves it, so no locking is needed. Through ``ASGITransport`` a slow
answer delays but never times out (httpx enforces timeouts in its network layer): serve the app with
uvicorn to exercise client timeouts.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crm_adapters.hubspot import OBJECTS_PATH

OBJECT_TYPES = frozenset({"contacts", "calls", "tasks", "meetings"})
_SINGULAR = {"contacts": "Contact", "calls": "Call", "tasks": "Task", "meetings": "Meeting"}

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class RateLimit:
    max_requests: int = 100
    window_seconds: float = 10.0
    send_retry_after: bool = False
    """Add ``Retry-After`` (seconds until a slot frees) to limiter 429s; HubSpot itself does not."""


class Fault(Enum):
    RATE_LIMITED_WITH_RETRY_AFTER = "429 with Retry-After"
    RATE_LIMITED_WITHOUT_RETRY_AFTER = "429 without Retry-After"
    SERVER_ERROR = "500 before the write"
    SERVER_ERROR_AFTER_WRITE = "500 after the write"
    SLOW = "slow answer"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Probabilities (each 0..1, summing to at most 1) of a fault instead of a normal answer."""

    rate_limited_with_retry_after: float = 0.0
    rate_limited_without_retry_after: float = 0.0
    server_error: float = 0.0
    server_error_after_write: float = 0.0
    """The request takes effect, then the answer is a 500."""
    slow: float = 0.0
    slow_seconds: float = 5.0
    retry_after_seconds: int = 1

    def __post_init__(self) -> None:
        chances = self.chances().values()
        if any(p < 0 for p in chances) or sum(chances) > 1:
            raise ValueError("fault probabilities must be non-negative and sum to at most 1")

    def chances(self) -> dict[Fault, float]:
        return {
            Fault.RATE_LIMITED_WITH_RETRY_AFTER: self.rate_limited_with_retry_after,
            Fault.RATE_LIMITED_WITHOUT_RETRY_AFTER: self.rate_limited_without_retry_after,
            Fault.SERVER_ERROR: self.server_error,
            Fault.SERVER_ERROR_AFTER_WRITE: self.server_error_after_write,
            Fault.SLOW: self.slow,
        }

    def pick(self, draw: float) -> Fault | None:
        """The fault a uniform ``draw`` in [0, 1) falls on, or ``None`` for a normal answer."""
        for fault, chance in self.chances().items():
            if draw < chance:
                return fault
            draw -= chance
        return None


@dataclass(slots=True)
class StoredObject:
    object_type: str
    id: str
    properties: dict[str, str]
    created_at: str
    updated_at: str
    associations: set[tuple[str, str]] = field(default_factory=set)

    def as_json(self, *, new: bool | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "properties": {**self.properties, "hs_object_id": self.id},
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": False,
        }
        if new is not None:
            body["new"] = new
        return body


def _error(message: str, category: str) -> dict[str, Any]:
    """HubSpot's error body."""
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeCRM:
    """What every fake CRM shares: the gate each request passes (authentication, a rolling rate limit,
    injected faults) and the count of statuses answered. A vendor's fake supplies its routes (wrapped in
    :meth:`_guard`), its credentials check and its error and rate-limit answers."""

    def __init__(
        self,
        *,
        rate_limit: RateLimit | None,
        faults: FaultPlan | None,
        seed: int,
        clock: Callable[[], float],
    ) -> None:
        self.rate_limit = rate_limit
        self.faults = faults or FaultPlan()
        self.answered: Counter[int] = Counter()
        """Statuses answered, counted."""
        self._random = random.Random(seed)
        self._clock = clock
        self._accepted: deque[float] = deque()
        self._ids = itertools.count(1001)
        self.app = Starlette(routes=self._routes())

    def duplicates(self) -> int:
        """Records beyond one per record a delivery means to write (one contact per lead, one call per call ...)."""
        raise NotImplementedError

    def _routes(self) -> list[Route]:
        raise NotImplementedError

    def _authorized(self, request: Request) -> bool:
        raise NotImplementedError

    def _unauthorized(self) -> Response:
        raise NotImplementedError

    def _server_error(self) -> Response:
        raise NotImplementedError

    def _rate_limited(self, *, policy: str, retry_after: float | None) -> Response:
        """The vendor's 429; ``policy`` names the limit hit (the rolling window, or a burst fault)."""
        raise NotImplementedError

    def _limit_headers(self) -> dict[str, str]:
        return {}

    def _next_id(self) -> int:
        return next(self._ids)

    def _answer(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
        return JSONResponse(body, status_code=status, headers={**self._limit_headers(), **(headers or {})})

    def _over_limit(self) -> float | None:
        """Seconds until a slot frees when the limit is reached, else ``None`` (and the request counts)."""
        if self.rate_limit is None:
            return None
        now = self._clock()
        while self._accepted and self._accepted[0] <= now - self.rate_limit.window_seconds:
            self._accepted.popleft()
        if len(self._accepted) >= self.rate_limit.max_requests:
            return self._accepted[0] + self.rate_limit.window_seconds - now
        self._accepted.append(now)
        return None

    def _remaining(self) -> int:
        assert self.rate_limit is not None
        return max(0, self.rate_limit.max_requests - len(self._accepted))

    def _guard(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            response = await self._gate(request, handler)
            self.answered[response.status_code] += 1
            return response

        return guarded

    async def _gate(self, request: Request, handler: Handler) -> Response:
        if not self._authorized(request):
            return self._unauthorized()
        wait = self._over_limit()
        if wait is not None:
            send = self.rate_limit is not None and self.rate_limit.send_retry_after
            return self._rate_limited(policy="TEN_SECONDLY_ROLLING", retry_after=wait if send else None)
        fault = self.faults.pick(self._random.random())
        if fault is Fault.RATE_LIMITED_WITH_RETRY_AFTER:
            return self._rate_limited(policy="SECONDLY", retry_after=self.faults.retry_after_seconds)
        if fault is Fault.RATE_LIMITED_WITHOUT_RETRY_AFTER:
            return self._rate_limited(policy="SECONDLY", retry_after=None)
        if fault is Fault.SERVER_ERROR:
            return self._server_error()
        if fault is Fault.SLOW:
            await asyncio.sleep(self.faults.slow_seconds)
        response = await handler(request)
        if fault is Fault.SERVER_ERROR_AFTER_WRITE:
            return self._server_error()
        return response


class FakeHubSpot(FakeCRM):
    """HubSpot's object API; see the module docstring."""

    def __init__(
        self,
        *,
        access_token: str = "fake-hubspot-token",
        rate_limit: RateLimit | None = None,
        faults: FaultPlan | None = None,
        unique_properties: Mapping[str, Collection[str]] | None = None,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.access_token = access_token
        self.unique_properties = {
            object_type: frozenset(names)
            for object_type, names in (unique_properties or {"contacts": ("email",)}).items()
        }
        self.objects: dict[str, dict[str, StoredObject]] = {name: {} for name in OBJECT_TYPES}
        self.created: list[StoredObject] = []
        """Every object created, in order."""
        super().__init__(rate_limit=rate_limit, faults=faults, seed=seed, clock=clock)

    def find(self, object_type: str, **properties: str) -> list[StoredObject]:
        """The stored objects of a type whose properties have the given values."""
        return [
            stored
            for stored in self.objects[object_type].values()
            if all(stored.properties.get(name) == value for name, value in properties.items())
        ]

    def duplicates(self) -> int:
        """Records beyond one contact per email and one call and one task per contact."""
        emails = Counter(c.properties.get("email") for c in self.objects["contacts"].values())
        extra = sum(n - 1 for n in emails.values())
        for object_type in ("calls", "tasks"):
            per_contact = Counter(to for stored in self.objects[object_type].values() for to in stored.associations)
            extra += sum(n - 1 for n in per_contact.values())
        return extra

    def _routes(self) -> list[Route]:
        base = OBJECTS_PATH
        return [
            Route(f"{base}/contacts/search", self._guard(self._search), methods=["POST"]),
            Route(f"{base}/{{object_type}}/batch/upsert", self._guard(self._batch_upsert), methods=["POST"]),
            Route(
                f"{base}/{{object_type}}/{{object_id}}/associations/default/{{to_type}}/{{to_id}}",
                self._guard(self._associate),
                methods=["PUT"],
            ),
            Route(f"{base}/{{object_type}}", self._guard(self._create), methods=["POST"]),
            Route(f"{base}/{{object_type}}", self._guard(self._list), methods=["GET"]),
            Route(f"{base}/{{object_type}}/{{object_id}}", self._guard(self._update), methods=["PATCH"]),
        ]

    # --- HubSpot's answers at the gate

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.access_token}"

    def _unauthorized(self) -> Response:
        return self._answer(401, _error("Authentication credentials not found.", "INVALID_AUTHENTICATION"))

    def _server_error(self) -> Response:
        return self._answer(500, _error("internal error", "INTERNAL_ERROR"))

    def _limit_headers(self) -> dict[str, str]:
        if self.rate_limit is None:
            return {}
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.rate_limit.window_seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.rate_limit.max_requests),
            "X-HubSpot-RateLimit-Remaining": str(self._remaining()),
        }

    def _rate_limited(self, *, policy: str, retry_after: float | None) -> Response:
        body = {
            "status": "error",
            "message": f"You have reached your {policy.lower()} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "requestId": str(uuid.uuid4()),
        }
        headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else {}
        return self._answer(429, body, headers)

    # --- the object API

    def _object_type(self, request: Request) -> str | None:
        object_type = request.path_params.get("object_type")
        return object_type if object_type in OBJECT_TYPES else None

    def _unknown_type(self) -> Response:
        return self._answer(400, _error("Unable to infer object type", "VALIDATION_ERROR"))

    def _store(self, object_type: str, properties: Mapping[str, Any]) -> StoredObject:
        now = _now()
        values = {name: str(value) for name, value in properties.items()}
        stored = StoredObject(object_type, str(self._next_id()), values, now, now)
        self.objects[object_type][stored.id] = stored
        self.created.append(stored)
        return stored

    def _duplicate_of(self, object_type: str, properties: Mapping[str, Any]) -> StoredObject | None:
        for name in self.unique_properties.get(object_type, ()):
            if name in properties:
                for stored in self.objects[object_type].values():
                    if stored.properties.get(name) == str(properties[name]):
                        return stored
        return None

    def _invalid(self, object_type: str, properties: Mapping[str, Any]) -> Response | None:
        if object_type in ("calls", "tasks", "meetings") and "hs_timestamp" not in properties:
            return self._answer(400, _error("Property values were not valid", "VALIDATION_ERROR"))
        return None

    async def _create(self, request: Request) -> Response:
        object_type = self._object_type(request)
        if object_type is None:
            return self._unknown_type()
        body = await request.json()
        properties = body.get("properties") or {}
        if invalid := self._invalid(object_type, properties):
            return invalid
        if duplicate := self._duplicate_of(object_type, properties):
            message = f"{_SINGULAR[object_type]} already exists. Existing ID: {duplicate.id}"
            return self._answer(409, _error(message, "CONFLICT"))
        stored = self._store(object_type, properties)
        for association in body.get("associations") or []:
            to_id = str(association["to"]["id"])
            stored.associations.add(("contacts", to_id))
        return self._answer(201, stored.as_json())

    async def _update(self, request: Request) -> Response:
        object_type = self._object_type(request)
        if object_type is None:
            return self._unknown_type()
        stored = self.objects[object_type].get(str(request.path_params["object_id"]))
        if stored is None:
            return self._answer(404, _error("resource not found", "OBJECT_NOT_FOUND"))
        body = await request.json()
        stored.properties.update({k: str(v) for k, v in (body.get("properties") or {}).items()})
        stored.updated_at = _now()
        return self._answer(200, stored.as_json())

    async def _batch_upsert(self, request: Request) -> Response:
        object_type = self._object_type(request)
        if object_type is None:
            return self._unknown_type()
        started = _now()
        results = []
        for entry in (await request.json()).get("inputs", []):
            id_property, id_value = entry.get("idProperty"), str(entry.get("id"))
            if id_property not in self.unique_properties.get(object_type, ()):
                message = f"{id_property} is not a unique property"
                return self._answer(400, _error(message, "VALIDATION_ERROR"))
            properties = {**(entry.get("properties") or {}), id_property: id_value}
            existing = self.find(object_type, **{id_property: id_value})
            if existing:
                stored = existing[0]
                stored.properties.update({k: str(v) for k, v in properties.items()})
                stored.updated_at = _now()
                results.append(stored.as_json(new=False))
            else:
                if invalid := self._invalid(object_type, properties):
                    return invalid
                results.append(self._store(object_type, properties).as_json(new=True))
        body = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}
        return self._answer(200, body)

    async def _associate(self, request: Request) -> Response:
        object_type = self._object_type(request)
        params = request.path_params
        stored = self.objects[object_type].get(str(params["object_id"])) if object_type else None
        to_type, to_id = str(params["to_type"]), str(params["to_id"])
        if stored is None or to_type not in OBJECT_TYPES or to_id not in self.objects[to_type]:
            return self._answer(404, _error("resource not found", "OBJECT_NOT_FOUND"))
        stored.associations.add((to_type, to_id))
        result = {"from": {"id": stored.id}, "to": {"id": to_id}}
        body = {"status": "COMPLETE", "results": [result], "startedAt": _now(), "completedAt": _now()}
        return self._answer(200, body)

    async def _list(self, request: Request) -> Response:
        object_type = self._object_type(request)
        if object_type is None:
            return self._unknown_type()
        limit = int(request.query_params.get("limit", "10"))
        results = [stored.as_json() for stored in list(self.objects[object_type].values())[:limit]]
        return self._answer(200, {"results": results})

    async def _search(self, request: Request) -> Response:
        body = await request.json()
        groups = body.get("filterGroups") or []
        limit = int(body.get("limit", 10))

        def satisfies(stored: StoredObject, condition: Mapping[str, Any]) -> bool:
            value = stored.properties.get(str(condition.get("propertyName")))
            return condition.get("operator") == "EQ" and value == str(condition.get("value"))

        def matches(stored: StoredObject) -> bool:
            return any(all(satisfies(stored, f) for f in group.get("filters", [])) for group in groups)

        found = [stored for stored in self.objects["contacts"].values() if matches(stored)]
        return self._answer(200, {"total": len(found), "results": [s.as_json() for s in found[:limit]]})
