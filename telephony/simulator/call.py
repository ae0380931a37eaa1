"""One simulated inbound call, start to finish: webhook, TwiML, media stream, recording, result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake

from telephony.audio import ULAW_BYTES_PER_SECOND, ulaw_to_pcm16, write_wav
from telephony.codec import DEFAULT_MAX_OUTBOUND_PAYLOAD
from telephony.signatures import SIGNATURE_HEADER, compute_twilio_signature
from telephony.simulator.results import CallResult
from telephony.simulator.script import Step
from telephony.simulator.stream import StreamCaller, StreamOutcome
from telephony.simulator.webhook import (
    CallIdentity,
    SimulatorError,
    WebhookTarget,
    new_sid,
    post_status_callback,
    post_voice_webhook,
    rewrite_stream_url,
)

log = logging.getLogger(__name__)

# A server message carries at most the codec's payload cap, base64-encoded, plus its JSON envelope.
_MAX_MESSAGE_BYTES = DEFAULT_MAX_OUTBOUND_PAYLOAD * 4 // 3 + 64 * 1024


class StreamRejected(SimulatorError):
    """The media-stream WebSocket could not be opened (refused upgrade, unreachable)."""


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Where and as whom to call.

    ``server_url`` is where the server listens (``http://127.0.0.1:8000``); ``public_base_url`` is the URL the
    server believes Twilio calls (its ``PUBLIC_BASE_URL``, which the webhook signature covers), by default the
    same. ``stream_base_url`` (``ws://127.0.0.1:8000``) replaces the scheme and host of the TwiML's
    ``wss://`` stream url, for a local server without TLS. ``status_path``, when set, is the number's status
    callback: ``in-progress`` is posted once the TwiML answered, ``completed`` with the duration once the stream
    has ended. ``compression`` offers the
    WebSocket per-message deflate extension on the media stream, as generic WebSocket clients do by default.
    """

    server_url: str
    auth_token: str
    from_number: str
    to_number: str
    public_base_url: str | None = None
    stream_base_url: str | None = None
    account_sid: str | None = None
    voice_path: str = "/twilio/voice"
    status_path: str | None = None
    compression: bool = False
    record_path: Path | None = None
    max_duration: float = 300.0
    open_timeout: float = 10.0


async def simulate_call(
    config: SimulatorConfig, script: Sequence[Step], *, http: httpx.AsyncClient | None = None
) -> CallResult:
    """Ring the server as Twilio would and act out ``script`` as the caller; raises :class:`SimulatorError`
    when the call cannot start. ``http`` may be shared across many simulated calls."""
    if http is None:
        async with httpx.AsyncClient(timeout=config.open_timeout) as own:
            return await simulate_call(config, script, http=own)
    call = CallIdentity(
        call_sid=new_sid("CA"),
        account_sid=config.account_sid or new_sid("AC"),
        from_number=config.from_number,
        to_number=config.to_number,
    )
    target = WebhookTarget(config.server_url, config.public_base_url or config.server_url, config.auth_token)
    answer = await post_voice_webhook(http, call, target, path=config.voice_path)
    if answer.stream_url is None:
        return CallResult(
            call_sid=call.call_sid,
            stream_sid=None,
            answer=answer,
            ended_by="no_stream",
            duration=0.0,
            greeting_latency=None,
        )
    if config.status_path is not None:
        await post_status_callback(http, call, target, path=config.status_path, status="in-progress")
    stream_sid = new_sid("MZ")
    outcome = await _stream(
        config,
        call,
        stream_sid=stream_sid,
        stream_url=answer.stream_url,
        parameters=answer.parameters,
        script=script,
    )
    if config.status_path is not None:
        await post_status_callback(
            http, call, target, path=config.status_path, status="completed", duration=outcome.duration
        )
    recording = None
    if config.record_path is not None and outcome.recording is not None:
        recording = config.record_path
        await asyncio.to_thread(write_wav, recording, ulaw_to_pcm16(outcome.recording))
    return CallResult(
        call_sid=call.call_sid,
        stream_sid=stream_sid,
        answer=answer,
        ended_by=outcome.ended_by,
        duration=outcome.duration,
        greeting_latency=outcome.greeting_latency,
        turns=outcome.turns,
        barge_ins=outcome.barge_ins,
        frames_sent=outcome.frames_sent,
        agent_audio_seconds=outcome.agent_audio_bytes / ULAW_BYTES_PER_SECOND,
        marks_received=outcome.marks_received,
        marks_echoed=outcome.marks_echoed,
        clears=outcome.clears,
        protocol_errors=outcome.protocol_errors,
        max_send_lag=outcome.max_send_lag,
        recording=recording,
    )


async def _stream(
    config: SimulatorConfig,
    call: CallIdentity,
    *,
    stream_sid: str,
    stream_url: str,
    parameters: dict[str, str],
    script: Sequence[Step],
) -> StreamOutcome:
    # Twilio signs the WebSocket upgrade too: the TwiML's url, no parameters.
    signature = compute_twilio_signature(config.auth_token, stream_url)
    url = rewrite_stream_url(stream_url, config.stream_base_url)
    try:
        ws = await connect(
            url,
            additional_headers={SIGNATURE_HEADER: signature},
            open_timeout=config.open_timeout,
            close_timeout=2,
            compression="deflate" if config.compression else None,
            max_size=_MAX_MESSAGE_BYTES,
        )
    except (InvalidHandshake, OSError, TimeoutError) as exc:
        raise StreamRejected(f"cannot open the media stream at {url}: {exc!r}") from exc
    async with ws:
        caller = StreamCaller(
            ws,
            stream_sid=stream_sid,
            call_sid=call.call_sid,
            account_sid=call.account_sid,
            parameters=parameters,
            record=config.record_path is not None,
        )
        outcome = await caller.run(script, max_duration=config.max_duration)
    log.info("simulated call %s ended by %s after %.1f s", call.call_sid, outcome.ended_by, outcome.duration)
    return outcome
