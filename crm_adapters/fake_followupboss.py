"""A local fake of Follow Up Boss's v1 API, for delivery tests and the delivery benchmark.

It serves what :mod:`crm_adapters.followupboss` uses, in FUB's shapes: leads arrive as ``POST /v1/events`` and
are deduplicated on email and phone (200 with the existing person, 201 with a new one); people, calls, tasks
and appointments are listed with ``_metadata`` and offset paging (calls, tasks and appointments filtered by
``personId``); errors are ``{"errorMessage": ...}``. Requests need HTTP Basic with the API key and
``X-System-Key``. The shared gate (:class:`crm_adapters.fake_server.FakeCRM`) adds the sliding-window limit
with FUB's ``X-RateLimit-*`` headers and ``Retry-After``, and injected faults.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crm_adapters.fake_server import FakeCRM, FaultPlan, RateLimit

COLLECTIONS = ("people", "calls", "tasks", "appointments")
_REQUIRED = {"calls": ("personId",), "tasks": ("personId", "name"), "appointments": ("title", "start", "end")}
_CALL_ID = re.compile(r"Call ID: (\S+)")
MAX_LIMIT = 100


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _values(entries: Any) -> set[str]:
    return {str(entry.get("value")) for entry in entries or [] if isinstance(entry, dict) and entry.get("value")}


class FakeFollowUpBoss(FakeCRM):
    """Follow Up Boss's people, events, calls, tasks and appointments; see the module docstring."""

    def __init__(
        self,
        *,
        api_key: str = "fake-fub-key",
        system_key: str = "fake-fub-system-key",
        rate_limit: RateLimit | None = None,
        faults: FaultPlan | None = None,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_key = api_key
        self.system_key = system_key
        self.records: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in COLLECTIONS}
        """Collection -> id -> record, as FUB would answer it."""
        self.created: list[tuple[str, int]] = []
        """Every record created, as (collection, id), in order."""
        super().__init__(rate_limit=rate_limit, faults=faults, seed=seed, clock=clock)

    @property
    def credentials(self) -> dict[str, str]:
        """What an integration needs to reach this fake."""
        return {"api_key": self.api_key, "system_key": self.system_key}

    def duplicates(self) -> int:
        """Records beyond one person per email, one call per call id and one task or appointment per name."""
        keys: Counter[tuple[str, object]] = Counter()
        for person in self.records["people"].values():
            keys.update(("person", email) for email in _values(person.get("emails")))
        for call in self.records["calls"].values():
            found = _CALL_ID.search(str(call.get("note")))
            keys[("call", found.group(1) if found else call["id"])] += 1
        for task in self.records["tasks"].values():
            keys[("task", (task["personId"], task["name"]))] += 1
        for appointment in self.records["appointments"].values():
            keys[("appointment", appointment["title"])] += 1
        return sum(n - 1 for n in keys.values())

    def _routes(self) -> list[Route]:
        routes = [
            Route("/v1/events", self._guard(self._event), methods=["POST"]),
            Route("/v1/identity", self._guard(self._identity), methods=["GET"]),
            Route("/v1/people/{record_id:int}", self._guard(self._person), methods=["GET"]),
        ]
        for name in COLLECTIONS:
            routes.append(Route(f"/v1/{name}", self._guard(self._lister(name)), methods=["GET"]))
            if name != "people":
                routes.append(Route(f"/v1/{name}", self._guard(self._creator(name)), methods=["POST"]))
        return routes

    # --- FUB's answers at the gate

    def _authorized(self, request: Request) -> bool:
        basic = "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode("ascii")
        return request.headers.get("authorization") == basic and request.headers.get("x-system-key") == self.system_key

    def _unauthorized(self) -> Response:
        return self._answer(401, {"errorMessage": "Invalid API key or system key."})

    def _server_error(self) -> Response:
        return self._answer(500, {"errorMessage": "Internal server error."})

    def _limit_headers(self) -> dict[str, str]:
        if self.rate_limit is None:
            return {}
        return {
            "X-RateLimit-Limit": str(self.rate_limit.max_requests),
            "X-RateLimit-Remaining": str(self._remaining()),
            "X-RateLimit-Window": str(math.ceil(self.rate_limit.window_seconds)),
            "X-RateLimit-Context": "global",
        }

    def _rate_limited(self, *, policy: str, retry_after: float | None) -> Response:
        headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else {}
        return self._answer(429, {"errorMessage": "Too many requests."}, headers)

    # --- the API

    def _store(self, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        stored = {**record, "id": self._next_id(), "created": now, "updated": now}
        self.records[collection][stored["id"]] = stored
        self.created.append((collection, stored["id"]))
        return stored

    def _matching_person(self, person: dict[str, Any]) -> dict[str, Any] | None:
        emails = {email.lower() for email in _values(person.get("emails"))}
        phones = _values(person.get("phones"))
        for stored in self.records["people"].values():
            stored_emails = {email.lower() for email in _values(stored.get("emails"))}
            if emails & stored_emails or phones & _values(stored.get("phones")):
                return stored
        return None

    async def _event(self, request: Request) -> Response:
        body = await request.json()
        person = body.get("person") if isinstance(body, dict) else None
        if not isinstance(person, dict) or not (_values(person.get("emails")) or _values(person.get("phones"))):
            return self._answer(400, {"errorMessage": "An event needs a person with an email or a phone."})
        existing = self._matching_person(person)
        if existing is not None:
            return self._answer(200, existing)
        name = " ".join(part for part in (person.get("firstName"), person.get("lastName")) if part)
        stored = self._store(
            "people", {**person, "name": name, "source": body.get("source"), "stage": "Lead", "assignedUserId": 1}
        )
        return self._answer(201, stored)

    async def _identity(self, request: Request) -> Response:
        return self._answer(200, {"account": 1, "user": {"id": 1, "name": "Broker"}})

    async def _person(self, request: Request) -> Response:
        person = self.records["people"].get(request.path_params["record_id"])
        if person is None:
            return self._answer(404, {"errorMessage": "Person not found."})
        return self._answer(200, person)

    def _lister(self, collection: str) -> Callable[[Request], Any]:
        async def list_records(request: Request) -> Response:
            query = request.query_params
            found: Iterable[dict[str, Any]] = self.records[collection].values()
            if collection == "people":
                for key, field in (("email", "emails"), ("phone", "phones")):
                    if key in query:
                        found = [p for p in found if query[key].lower() in {v.lower() for v in _values(p.get(field))}]
            elif "personId" in query:
                found = [r for r in found if str(r.get("personId", _invitee(r))) == query["personId"]]
            records = list(found)
            offset = int(query.get("offset", "0"))
            limit = min(int(query.get("limit", "10")), MAX_LIMIT)
            metadata = {"collection": collection, "offset": offset, "limit": limit, "total": len(records)}
            return self._answer(200, {"_metadata": metadata, collection: records[offset : offset + limit]})

        return list_records

    def _creator(self, collection: str) -> Callable[[Request], Any]:
        async def create(request: Request) -> Response:
            body = await request.json()
            missing = [name for name in _REQUIRED[collection] if not body.get(name)]
            if missing:
                return self._answer(400, {"errorMessage": f"Missing required field: {missing[0]}"})
            person_id = body.get("personId", _invitee(body))
            if person_id not in self.records["people"]:
                return self._answer(404, {"errorMessage": "Person not found."})
            return self._answer(201, self._store(collection, body))

        return create


def _invitee(record: dict[str, Any]) -> int | None:
    """An appointment's person: its first invitee with a ``personId``."""
    for invitee in record.get("invitees") or []:
        if isinstance(invitee, dict) and "personId" in invitee:
            return int(invitee["personId"])
    return None
