"""``WS /twilio/media``: one Twilio Media Stream, bridged to one agent :class:`~agent.session.CallSession`.

The stream is admitted by the short-lived token our TwiML put in ``start.customParameters`` (and, when Twilio
sends one on the upgrade, a valid ``X-Twilio-Signature``). A malformed, unknown or out-of-order message is
logged and skipped: it never ends the call. When the stream ends, the agent's account of the call is stored
in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, cast

from fastapi import APIRouter, WebSocket
from sqlalchemy import CursorResult, select, update
from sqlmodel import col
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from agent.records import CallResult
from agent.session import CallSession
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import system_session, tenant_session
from telephony.audio import ulaw_to_pcm16
from telephony.call_actions import CallContext, TwilioCallActions
from telephony.calls import CALL_STARTED, completed_payload, record_result
from telephony.codec import (
    Connected,
    Dtmf,
    MalformedMessage,
    Mark,
    Media,
    Start,
    Stop,
    encode_clear,
    encode_mark,
    encode_media,
    parse_inbound,
)
from telephony.models import Call
from telephony.runtime import MEDIA_PATH, TelephonyRuntime, telephony_runtime
from telephony.session_setup import CallSetup, build_setup, take_setup
from telephony.signatures import StreamTokenError, verify_stream_token

logger = logging.getLogger(__name__)

router = APIRouter()

START_TIMEOUT_SECONDS = 10.0
POLICY_VIOLATION = 1008


class TwilioMediaTransport:
    """The agent's audio path (``agent.CallTransport``) as Twilio Media Stream messages."""

    def __init__(
        self, websocket: WebSocket, stream_sid: str, *, on_first_audio: Callable[[], None] | None = None
    ) -> None:
        self._websocket = websocket
        self._sid = stream_sid
        self._on_first_audio = on_first_audio
        self.closed = False

    async def send_audio(self, ulaw: bytes) -> None:
        if ulaw:
            await self._send(encode_media(self._sid, ulaw))
            if self._on_first_audio is not None:
                self._on_first_audio()
                self._on_first_audio = None

    async def send_mark(self, name: str) -> None:
        await self._send(encode_mark(self._sid, name))

    async def clear(self) -> None:
        await self._send(encode_clear(self._sid))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._websocket.application_state is WebSocketState.CONNECTED:
            try:
                await self._websocket.close()
            except (WebSocketDisconnect, RuntimeError, OSError):
                pass  # the peer closed first

    async def _send(self, text: str) -> None:
        if self.closed:
            return
        try:
            await self._websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            # The caller hung up while we were speaking; the receive loop ends the call.
            self.closed = True


class MediaStreamHandler:
    def __init__(self, websocket: WebSocket, container: Container, runtime: TelephonyRuntime) -> None:
        self._ws = websocket
        self._container = container
        self._runtime = runtime
        self._skipped = 0
        self._session: CallSession | None = None
        self._voicemail: asyncio.Task[None] | None = None

    def leave_voicemail(self, text: str) -> bool:
        """An answering machine took this call: the agent leaves ``text`` and hangs up. False when the call is
        already over or a message is being left."""
        session = self._session
        if session is None or session.finished.is_set() or self._voicemail is not None:
            return False
        self._voicemail = asyncio.ensure_future(session.leave_voicemail(text))
        self._voicemail.add_done_callback(self._voicemail_done)
        return True

    def _voicemail_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("leaving a voicemail failed", exc_info=task.exception())

    async def run(self) -> None:
        start = await self._await_start()
        if start is None:
            return
        started = time.perf_counter()
        call_id = self._admit(start)
        if call_id is None:
            await self._ws.close(code=POLICY_VIOLATION)
            return
        # The voice webhook usually prepared this call in this process moments ago: the greeting can then start
        # at once, while the stream's start is recorded in the background.
        setup = take_setup(self._runtime, call_id)
        marking: asyncio.Task[bool] | None = None
        if setup is None:
            setup = await run_in_threadpool(self._load, call_id)
            if setup is None or not await run_in_threadpool(self._mark_started, setup.context):
                await self._ws.close(code=POLICY_VIOLATION)
                return
        else:
            marking = asyncio.ensure_future(run_in_threadpool(self._mark_started, setup.context))
        greeting = self._runtime.metrics.greeting
        transport = TwilioMediaTransport(
            self._ws, start.stream_sid, on_first_audio=lambda: greeting.observe(time.perf_counter() - started)
        )
        actions = TwilioCallActions(
            container=self._container, context=setup.context, rest=self._runtime.rest, close_stream=transport.close
        )
        session = CallSession(
            config=setup.config,
            transport=transport,
            actions=actions,
            providers=setup.providers,
            greetings=self._runtime.greetings,
        )
        self._session = session
        key = str(call_id)
        self._runtime.live_calls[key] = self
        self._runtime.metrics.live_calls.inc()
        try:
            await session.start()
            if marking is not None and not await marking:
                await transport.close()  # another stream already took this call
            await self._pump(session)
        finally:
            self._runtime.live_calls.pop(key, None)
            self._runtime.metrics.live_calls.dec()
            if self._voicemail is not None and not self._voicemail.done():
                self._voicemail.cancel()
                await asyncio.wait([self._voicemail])
            await session.stop()
            result = session.result()
            self._runtime.metrics.observe_call(result)
            await self._runtime.call_ends.run(self._finish, setup.context, result)
            await transport.close()
            self._runtime.memory_freed()

    async def _await_start(self) -> Start | None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                logger.warning("media stream closed: no start message within %.0f s", START_TIMEOUT_SECONDS)
                await self._ws.close(code=POLICY_VIOLATION)
                return None
            try:
                message = await asyncio.wait_for(self._ws.receive(), remaining)
            except TimeoutError:
                continue
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            if text is None:
                self._skip("binary frame")
                continue
            try:
                parsed = parse_inbound(text)
            except MalformedMessage as exc:
                self._skip(exc.reason)
                continue
            if isinstance(parsed, Start):
                return parsed
            if not isinstance(parsed, Connected):
                self._skip(f"{type(parsed).__name__.lower()} before start")

    def _admit(self, start: Start) -> uuid.UUID | None:
        params = start.custom_parameters
        try:
            secret = self._container.settings.secret_key
            admitted = verify_stream_token(secret, params.get("token", ""), now=time.time())
            call_id = uuid.UUID(admitted)
        except (StreamTokenError, ValueError) as exc:
            logger.warning("media stream refused: %s", exc)
            return None
        if params.get("callId") not in (None, admitted):
            logger.warning("media stream refused: callId parameter does not match its token")
            return None
        return call_id

    def _load(self, call_id: uuid.UUID) -> CallSetup | None:
        with system_session(self._container.sessions) as session:
            organization_id = session.scalars(select(col(Call.organization_id)).where(col(Call.id) == call_id)).first()
        if organization_id is None:
            return None
        with tenant_session(self._container.sessions, organization_id) as session:
            call = session.get(Call, call_id)
            org = session.get(Organization, organization_id)
            if call is None or org is None:
                return None
            return build_setup(call, org, self._runtime)

    def _mark_started(self, context: CallContext) -> bool:
        """Record that the stream reached the agent and publish ``call.started``; False if one already had."""
        with tenant_session(self._container.sessions, context.organization_id) as session:
            claimed = session.execute(
                update(Call)
                .where(
                    col(Call.id) == context.call_id, col(Call.stream_started_at).is_(None), col(Call.outcome).is_(None)
                )
                .values(stream_started_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if cast(CursorResult[Any], claimed).rowcount != 1:
                logger.warning("media stream refused: call %s is not waiting for a stream", context.call_id)
                return False
            call = session.get(Call, context.call_id)
            assert call is not None
            self._container.events.publish(session, CALL_STARTED, completed_payload(call))
            session.commit()
            return True

    async def _pump(self, session: CallSession) -> None:
        loop = asyncio.get_running_loop()
        metrics = self._runtime.metrics
        origin: float | None = None
        while True:
            try:
                message = await self._ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self._skip("binary frame")
                continue
            try:
                parsed = parse_inbound(text)
            except MalformedMessage as exc:
                self._skip(exc.reason)
                continue
            if isinstance(parsed, Media):
                now = loop.time()
                if origin is None:
                    origin = now - parsed.timestamp / 1000
                metrics.frames.inc()
                metrics.frame_lag.observe(max(0.0, now - origin - parsed.timestamp / 1000))
                await session.feed_audio(ulaw_to_pcm16(parsed.payload))
            elif isinstance(parsed, Mark):
                await session.on_mark(parsed.name)
            elif isinstance(parsed, Dtmf):
                await session.on_dtmf(parsed.digit)
            elif isinstance(parsed, Stop):
                return
            else:
                self._skip(f"{type(parsed).__name__.lower()} after start")

    def _skip(self, reason: str) -> None:
        self._skipped += 1
        self._runtime.metrics.skipped.inc()
        if self._skipped <= 20 or self._skipped % 1000 == 0:
            logger.warning("media stream message skipped (%d so far): %s", self._skipped, reason)

    def _finish(self, context: CallContext, result: CallResult) -> None:
        with tenant_session(self._container.sessions, context.organization_id) as session:
            call = session.get(Call, context.call_id, with_for_update=True)
            if call is None:
                return
            record_result(session, self._container.events, call=call, result=result)
            session.commit()
            outcome = call.outcome
        logger.info("call %s ended: %s", context.call_id, outcome)


@router.websocket(MEDIA_PATH)
async def media_stream(websocket: WebSocket) -> None:
    runtime = telephony_runtime(websocket.app)
    container: Container = websocket.app.state.container
    signature = websocket.headers.get("x-twilio-signature")
    if signature is not None and not runtime.stream_signature_valid(signature):
        logger.warning("media stream upgrade refused: invalid X-Twilio-Signature")
        await websocket.close(code=POLICY_VIOLATION)
        return
    await websocket.accept()
    await MediaStreamHandler(websocket, container, runtime).run()
