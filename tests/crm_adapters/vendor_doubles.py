"""Stateful doubles of Salesforce, Zoho CRM and Pipedrive at the HTTP level, in their documented shapes.

Each is a Starlette app holding the records written to it, so a test can count what arrived; served through
``httpx.ASGITransport`` (see :class:`LosingAnswers` for losing an answer after the write). Only what the
adapters use is served. Salesforce and Zoho also serve their token endpoints (the same app answers for the
login or accounts host) and refuse a stale access token the way each vendor does.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crm_adapters.salesforce import DATA_PATH

Hook = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Double:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        """Object type -> id -> stored fields."""
        self._ids = itertools.count(1001)
        self.app = Starlette(routes=self.routes())

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def store(self, kind: str, fields: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
        record = {**fields, "id": f"{prefix}{next(self._ids)}", "update_time": _stamp()}
        self.records.setdefault(kind, {})[record["id"]] = record
        return record

    def count(self, kind: str) -> int:
        return len(self.records.get(kind, {}))


class _OAuthDouble(_Double):
    """A vendor that refreshes tokens: ``token_hook`` runs inside each token request, before it answers."""

    def __init__(self, *, access_token: str, refresh_token: str) -> None:
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.token_hook: Hook = _nothing
        self.refreshes = 0
        super().__init__()

    async def _refresh(self, request: Request) -> dict[str, str] | None:
        form = parse_qs((await request.body()).decode())
        if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [self.refresh_token]:
            return None
        await self.token_hook()
        self.refreshes += 1
        self.access_token = f"fresh-token-{self.refreshes}"
        return {"access_token": self.access_token, "token_type": "Bearer"}


class FakeSalesforce(_OAuthDouble):
    """Lead upserts by External ID, Task and Event creates, SOQL queries of the forms the adapter sends."""

    def __init__(self, *, base_url: str, access_token: str = "sf-token", refresh_token: str = "sf-refresh") -> None:
        self.base_url = base_url
        super().__init__(access_token=access_token, refresh_token=refresh_token)

    def routes(self) -> list[Route]:
        return [
            Route("/services/oauth2/token", self._token, methods=["POST"]),
            Route(DATA_PATH + "/sobjects/Lead/describe", self._authed(self._describe), methods=["GET"]),
            Route(DATA_PATH + "/sobjects/Lead/{field}/{value}", self._authed(self._upsert), methods=["PATCH"]),
            Route(DATA_PATH + "/sobjects/{sobject}", self._authed(self._create), methods=["POST"]),
            Route(DATA_PATH + "/query", self._authed(self._query), methods=["GET"]),
        ]

    async def _token(self, request: Request) -> Response:
        token = await self._refresh(request)
        if token is None:
            return JSONResponse({"error": "invalid_grant", "error_description": "expired access/refresh token"}, 400)
        return JSONResponse({**token, "instance_url": self.base_url, "issued_at": "1767225600000", "signature": "x"})

    def _authed(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def checked(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {self.access_token}":
                return JSONResponse([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], 401)
            return await handler(request)

        return checked

    async def _describe(self, request: Request) -> Response:
        fields = [{"name": "LastName", "externalId": False}, {"name": "Seiketsu_Lead_Id__c", "externalId": True}]
        return JSONResponse({"name": "Lead", "fields": fields})

    async def _upsert(self, request: Request) -> Response:
        field, value = request.path_params["field"], request.path_params["value"]
        body = await request.json()
        for lead in self.records.get("Lead", {}).values():
            if lead.get(field) == value:
                lead.update(body)
                return JSONResponse({"id": lead["id"], "success": True, "errors": [], "created": False})
        lead = self.store("Lead", {**body, field: value}, prefix="00Q")
        return JSONResponse({"id": lead["id"], "success": True, "errors": [], "created": True}, 201)

    async def _create(self, request: Request) -> Response:
        sobject = request.path_params["sobject"]
        record = self.store(sobject, await request.json(), prefix="00T" if sobject == "Task" else "00U")
        return JSONResponse({"id": record["id"], "success": True, "errors": []}, 201)

    async def _query(self, request: Request) -> Response:
        soql = request.query_params["q"]
        parsed = re.fullmatch(r"SELECT Id FROM (\w+) WHERE (.+?) LIMIT (\d+)", soql)
        if parsed is None:
            return JSONResponse([{"message": f"unexpected query: {soql}", "errorCode": "MALFORMED_QUERY"}], 400)
        sobject, where, limit = parsed.groups()
        conditions = [
            (name, re.sub(r"\\(.)", r"\1", literal))
            for name, literal in re.findall(r"(\w+) = '((?:[^'\\]|\\.)*)'", where)
        ]
        found = [
            {"attributes": {"type": sobject, "url": f"{DATA_PATH}/sobjects/{sobject}/{r['id']}"}, "Id": r["id"]}
            for r in self.records.get(sobject, {}).values()
            if all(r.get(name) == value for name, value in conditions)
        ][: int(limit)]
        return JSONResponse({"totalSize": len(found), "done": True, "records": found})


class FakeZoho(_OAuthDouble):
    """Upsert with duplicate checks, record creates, ``criteria`` search (``equals``), module listing."""

    def __init__(self, *, access_token: str = "zoho-token", refresh_token: str = "zoho-refresh") -> None:
        super().__init__(access_token=access_token, refresh_token=refresh_token)

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/v2/token", self._token, methods=["POST"]),
            Route("/crm/v8/{module}/upsert", self._authed(self._upsert), methods=["POST"]),
            Route("/crm/v8/{module}/search", self._authed(self._search), methods=["GET"]),
            Route("/crm/v8/{module}", self._authed(self._create), methods=["POST"]),
            Route("/crm/v8/{module}", self._authed(self._list), methods=["GET"]),
        ]

    async def _token(self, request: Request) -> Response:
        token = await self._refresh(request)
        if token is None:
            return JSONResponse({"error": "invalid_code"})  # Zoho refuses with a 200 and an ``error`` member
        return JSONResponse({**token, "api_domain": "https://www.zohoapis.com", "expires_in": 3600})

    def _authed(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def checked(request: Request) -> Response:
            if request.headers.get("authorization") != f"Zoho-oauthtoken {self.access_token}":
                body = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}
                return JSONResponse(body, 401)
            return await handler(request)

        return checked

    @staticmethod
    def _success(record: dict[str, Any], *, action: str | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = {"code": "SUCCESS", "details": {"id": record["id"]}, "status": "success"}
        if action:
            answer["action"] = action
        answer["message"] = "record updated" if action == "update" else "record added"
        return {"data": [answer]}

    async def _upsert(self, request: Request) -> Response:
        module, body = request.path_params["module"], await request.json()
        [fields] = body["data"]
        for name in body.get("duplicate_check_fields") or []:
            for record in self.records.get(module, {}).values():
                if name in fields and record.get(name) == fields[name]:
                    record.update(fields)
                    return JSONResponse(self._success(record, action="update"))
        return JSONResponse(self._success(self.store(module, fields, prefix="41508680"), action="insert"))

    async def _create(self, request: Request) -> Response:
        module, body = request.path_params["module"], await request.json()
        [fields] = body["data"]
        return JSONResponse(self._success(self.store(module, fields, prefix="41508680")), 201)

    async def _search(self, request: Request) -> Response:
        module = request.path_params["module"]
        parsed = re.fullmatch(r"\((\w+):equals:(.*)\)", request.query_params.get("criteria", ""))
        if parsed is None:
            return JSONResponse({"code": "INVALID_QUERY", "message": "invalid criteria", "status": "error"}, 400)
        name, value = parsed.group(1), re.sub(r"\\(.)", r"\1", parsed.group(2))
        found = [r for r in self.records.get(module, {}).values() if str(r.get(name)) == value]
        if not found:
            return Response(status_code=204)
        return JSONResponse({"data": found, "info": {"per_page": 200, "count": len(found), "page": 1}})

    async def _list(self, request: Request) -> Response:
        records = list(self.records.get(request.path_params["module"], {}).values())[:1]
        return JSONResponse({"data": records, "info": {"per_page": 1, "count": len(records), "page": 1}})


class FakePipedrive(_Double):
    """Persons (v2, a search index that lags writes), call logs (v1) and activities (v2), with paging."""

    def __init__(self, *, api_token: str = "pd-token") -> None:
        self.api_token = api_token
        self.indexed: set[str] = set()
        """Persons the search index holds: none written during a test, unless :meth:`index` is called."""
        super().__init__()

    def index(self) -> None:
        self.indexed = set(self.records.get("persons", {}))

    def routes(self) -> list[Route]:
        return [
            Route("/api/v2/persons/search", self._authed(self._search), methods=["GET"]),
            Route("/api/v2/persons", self._authed(self._creator("persons")), methods=["POST"]),
            Route("/api/v2/persons", self._authed(self._v2_list("persons")), methods=["GET"]),
            Route("/api/v2/persons/{record_id}", self._authed(self._patch_person), methods=["PATCH"]),
            Route("/api/v2/activities", self._authed(self._creator("activities")), methods=["POST"]),
            Route("/api/v2/activities", self._authed(self._v2_list("activities")), methods=["GET"]),
            Route("/api/v1/callLogs", self._authed(self._creator("callLogs")), methods=["POST"]),
            Route("/api/v1/callLogs", self._authed(self._call_logs), methods=["GET"]),
            Route("/api/v1/users/me", self._authed(self._me), methods=["GET"]),
        ]

    def _authed(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def checked(request: Request) -> Response:
            if request.headers.get("x-api-token") != self.api_token:
                body = {"success": False, "error": "unauthorized access", "errorCode": 401}
                return JSONResponse(body, 401)
            return await handler(request)

        return checked

    def _creator(self, kind: str) -> Callable[[Request], Awaitable[Response]]:
        async def create(request: Request) -> Response:
            fields = await request.json()
            if kind == "activities":
                fields["person_id"] = fields["participants"][0]["person_id"]  # read-only in v2: from participants
            record = self.store(kind, fields)
            if kind != "callLogs":  # call log ids are strings; the rest are numbers
                record["id"] = int(record["id"])
            return JSONResponse({"success": True, "data": record}, 201)

        return create

    async def _patch_person(self, request: Request) -> Response:
        person = self.records.get("persons", {}).get(request.path_params["record_id"])
        if person is None:
            return JSONResponse({"success": False, "error": "Person not found"}, 404)
        person.update(await request.json())
        return JSONResponse({"success": True, "data": person})

    async def _search(self, request: Request) -> Response:
        query = request.query_params
        key = "emails" if query.get("fields") == "email" else "phones"
        items = [
            {"result_score": 1, "item": {**person, key: [e["value"] for e in person.get(key, [])], "type": "person"}}
            for person_id, person in self.records.get("persons", {}).items()
            if person_id in self.indexed and query["term"] in {e["value"] for e in person.get(key, [])}
        ]
        return JSONResponse({"success": True, "data": {"items": items}, "additional_data": {"next_cursor": None}})

    def _v2_list(self, kind: str) -> Callable[[Request], Awaitable[Response]]:
        async def list_records(request: Request) -> Response:
            query = request.query_params
            found = [
                r
                for r in self.records.get(kind, {}).values()
                if r["update_time"] >= query.get("updated_since", "")
                and ("person_id" not in query or str(r.get("person_id")) == query["person_id"])
            ]
            start, limit = int(query.get("cursor", "0")), int(query.get("limit", "100"))
            following = str(start + limit) if start + limit < len(found) else None
            return JSONResponse(
                {"success": True, "data": found[start : start + limit], "additional_data": {"next_cursor": following}}
            )

        return list_records

    async def _call_logs(self, request: Request) -> Response:
        logs = list(self.records.get("callLogs", {}).values())
        start, limit = int(request.query_params.get("start", "0")), int(request.query_params.get("limit", "50"))
        more = start + limit < len(logs)
        pagination = {"start": start, "limit": limit, "more_items_in_collection": more, "next_start": start + limit}
        body = {
            "success": True,
            "data": logs[start : start + limit] or None,
            "additional_data": {"pagination": pagination},
        }
        return JSONResponse(body)

    async def _me(self, request: Request) -> Response:
        return JSONResponse({"success": True, "data": {"id": 1, "company_domain": "acme"}})


class LosingAnswers(httpx.AsyncBaseTransport):
    """Passes requests to a double; the ``lose``-th write (a request ``is_write`` accepts) takes effect at the
    double, then its answer is lost as ``how`` says: ``timeout``, ``reset`` (connection dropped) or ``500``."""

    def __init__(self, app: Any, *, is_write: Callable[[httpx.Request], bool], lose: int, how: str) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._is_write = is_write
        self._lose = lose
        self._how = how
        self.writes: list[str] = []
        self.lost: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not self._is_write(request):
            return response
        self.writes.append(f"{request.method} {request.url.path}")
        if len(self.writes) != self._lose:
            return response
        await response.aread()
        self.lost.append(self.writes[-1])
        if self._how == "timeout":
            raise httpx.ReadTimeout("the answer never came", request=request)
        if self._how == "reset":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return httpx.Response(500, json={"error": "internal error"}, request=request)

    async def aclose(self) -> None:
        """Shared by every client the runtime opens; it outlives them."""
