"""A local Twilio double for ``seiketsu bench campaign``: the Calls resource as Twilio documents it.

``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` (form-encoded) answers 201 with Twilio's JSON for a queued
call and notes when the request arrived. ``call_seconds`` later it reports the call's end the way Twilio does: a
signed, form-encoded POST of ``CallStatus=completed`` to the ``StatusCallback`` URL it was given. It runs under
uvicorn in a thread of the benchmark process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from telephony.signatures import compute_twilio_signature

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Arrival:
    to: str
    at: float
    """``time.time()`` when the request arrived."""


@dataclass
class TwilioDouble:
    auth_token: str
    call_seconds: float
    arrivals: list[Arrival] = field(default_factory=list)
    callbacks_failed: int = 0
    _count: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _http: httpx.AsyncClient | None = None

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/2010-04-01/Accounts/{account}/Calls.json", self._create, methods=["POST"])])

    async def _create(self, request: Request) -> JSONResponse:
        arrived = time.time()
        form = await request.form()
        to, from_ = str(form.get("To", "")), str(form.get("From", ""))
        self._count += 1
        sid = f"CA{self._count:032x}"
        self.arrivals.append(Arrival(to=to, at=arrived))
        callback = form.get("StatusCallback")
        if isinstance(callback, str):
            task = asyncio.create_task(self._complete(callback, sid=sid, to=to, from_=from_))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        account = request.path_params["account"]
        body = {
            "sid": sid,
            "account_sid": account,
            "to": to,
            "from": from_,
            "status": "queued",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json",
        }
        return JSONResponse(body, status_code=201)

    async def _complete(self, url: str, *, sid: str, to: str, from_: str) -> None:
        await asyncio.sleep(self.call_seconds)
        params = {
            "CallSid": sid,
            "CallStatus": "completed",
            "CallDuration": str(round(self.call_seconds)),
            "To": to,
            "From": from_,
            "Direction": "outbound-api",
        }
        signature = compute_twilio_signature(self.auth_token, url, params)
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0)
        try:
            response = await self._http.post(url, data=params, headers={"X-Twilio-Signature": signature})
            if response.status_code != 204:
                self.callbacks_failed += 1
        except httpx.HTTPError:
            self.callbacks_failed += 1


class DoubleServer:
    """Runs a :class:`TwilioDouble` under uvicorn in a background thread."""

    def __init__(self, double: TwilioDouble, *, port: int) -> None:
        config = uvicorn.Config(double.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="twilio-double", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the Twilio double did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
