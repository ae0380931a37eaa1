"""Twilio's side of one media stream: the caller's audio out in real time, the agent's audio played back.

One instance per call, two coroutines: the caller loop sends a frame every 20 ms on an absolute schedule (the
line always carries audio, silence between words, as Twilio's does) and advances the playback clock on each
tick; the receiver queues the agent's media, marks and clears as they arrive. Nothing blocks and nothing
spins, so a hundred calls share one event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from telephony.audio import FRAME_MS, ULAW_FRAME_BYTES, ULAW_SILENCE, split_frames
from telephony.codec import (
    Clear,
    Connected,
    Dtmf,
    MalformedMessage,
    OutboundMark,
    OutboundMedia,
    Start,
    Stop,
    encode_inbound,
    encode_inbound_media,
    parse_outbound,
)
from telephony.codec import Mark as MarkEcho
from telephony.simulator.playback import PlaybackBuffer, Played
from telephony.simulator.results import BargeIn, EndedBy, TimingCollector, TurnTiming
from telephony.simulator.script import AwaitAgentAudio, AwaitReply, Digits, Silence, Step, Utterance

log = logging.getLogger(__name__)

FRAME_SECONDS = FRAME_MS / 1000
_SILENT_FRAME = ULAW_SILENCE * ULAW_FRAME_BYTES


class _StreamEnded(Exception):
    """The server closed the WebSocket: the agent hung up (or the server gave up on the call)."""


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    ended_by: EndedBy
    duration: float
    greeting_latency: float | None
    turns: tuple[TurnTiming, ...]
    barge_ins: tuple[BargeIn, ...]
    frames_sent: int
    agent_audio_bytes: int
    marks_received: int
    marks_echoed: int
    clears: int
    protocol_errors: int
    max_send_lag: float
    recording: bytes | None
    """The agent's side of the line as played (mu-law, silence included), when recording."""


class StreamCaller:
    """Plays Twilio's part on one connected media-stream WebSocket; :meth:`run` once per instance."""

    def __init__(
        self,
        ws: ClientConnection,
        *,
        stream_sid: str,
        call_sid: str,
        account_sid: str,
        parameters: dict[str, str],
        record: bool = False,
    ) -> None:
        self._ws = ws
        self._stream_sid = stream_sid
        self._call_sid = call_sid
        self._account_sid = account_sid
        self._parameters = parameters
        self._recording = bytearray() if record else None
        self._loop = asyncio.get_running_loop()
        self._gone = asyncio.Event()
        self._sequence = 0
        self._chunk = 0
        self._t0 = 0.0
        self._next_slot = 0.0
        self._last_speech_end: float | None = None
        self._buffer = PlaybackBuffer(start=0.0)
        self._timing = TimingCollector(0.0)
        self._agent_bytes = 0
        self._marks_received = 0
        self._marks_echoed = 0
        self._clears = 0
        self._protocol_errors = 0
        self._max_lag = 0.0

    async def run(self, script: Sequence[Step], *, max_duration: float) -> StreamOutcome:
        """Send ``connected`` and ``start``, play ``script``, then ``stop`` (unless the server hung up first)."""
        await self._send(encode_inbound(Connected()))
        self._t0 = self._loop.time()
        self._buffer = PlaybackBuffer(start=self._t0)
        self._timing = TimingCollector(self._t0)
        self._next_slot = self._t0 + FRAME_SECONDS
        await self._send(
            encode_inbound(
                Start(
                    sequence_number=self._next_sequence(),
                    stream_sid=self._stream_sid,
                    account_sid=self._account_sid,
                    call_sid=self._call_sid,
                    custom_parameters=dict(self._parameters),
                )
            )
        )
        receiver = asyncio.create_task(self._receive(), name=f"sim-receive-{self._call_sid}")
        try:
            ended_by = await self._play(script, max_duration)
            duration = self._loop.time() - self._t0
            if ended_by != "agent":
                await self._hang_up()
            await receiver
        finally:
            receiver.cancel()  # only matters when we are cancelled ourselves
        turns, barge_ins = self._timing.finish()
        return StreamOutcome(
            ended_by=ended_by,
            duration=duration,
            greeting_latency=self._timing.greeting_latency,
            turns=turns,
            barge_ins=barge_ins,
            frames_sent=self._chunk,
            agent_audio_bytes=self._agent_bytes,
            marks_received=self._marks_received,
            marks_echoed=self._marks_echoed,
            clears=self._clears,
            protocol_errors=self._protocol_errors,
            max_send_lag=self._max_lag,
            recording=bytes(self._recording) if self._recording is not None else None,
        )

    # --- the caller's side

    async def _play(self, script: Sequence[Step], max_duration: float) -> EndedBy:
        try:
            async with asyncio.timeout(max_duration):
                for step in script:
                    await self._perform(step)
        except _StreamEnded:
            return "agent"
        except TimeoutError:
            return "timeout"
        return "caller"

    async def _perform(self, step: Step) -> None:
        if isinstance(step, Utterance):
            await self._speak(step)
        elif isinstance(step, Silence):
            for _ in range(round(step.seconds / FRAME_SECONDS)):
                await self._send_frame(_SILENT_FRAME)
        elif isinstance(step, Digits):
            for digit in step.digits:
                dtmf = Dtmf(sequence_number=self._next_sequence(), stream_sid=self._stream_sid, digit=digit)
                await self._send(encode_inbound(dtmf))
                await self._perform(Silence(step.gap))
        elif isinstance(step, AwaitReply):
            await self._await_reply(step)
        else:
            await self._await_agent_audio(step)

    async def _speak(self, utterance: Utterance) -> None:
        frames = split_frames(utterance.ulaw, ULAW_FRAME_BYTES, pad=ULAW_SILENCE)
        onset = min(round(utterance.speech_start / FRAME_SECONDS), len(frames) - 1)
        end = max(onset, round(utterance.speech_end / FRAME_SECONDS) - 1)
        for index, frame in enumerate(frames):
            now = await self._send_frame(frame)
            if index == onset:
                self._timing.speech_onset(now, text=utterance.text, over_agent_audio=self._buffer.is_playing)
            if index == end:
                self._timing.speech_end(now, text=utterance.text)
                self._last_speech_end = now

    async def _await_reply(self, step: AwaitReply) -> None:
        since = self._last_speech_end if self._last_speech_end is not None else self._t0
        deadline = self._loop.time() + step.timeout
        while True:
            now = await self._send_frame(_SILENT_FRAME)
            idle_since = self._buffer.idle_since
            if self._timing.replied_since(since) and idle_since is not None and now - idle_since >= step.settle:
                return
            if now >= deadline:
                log.info("call %s: no complete agent reply within %.1f s", self._call_sid, step.timeout)
                return

    async def _await_agent_audio(self, step: AwaitAgentAudio) -> None:
        deadline = self._loop.time() + step.timeout
        while not self._buffer.is_playing:
            now = await self._send_frame(_SILENT_FRAME)
            if now >= deadline:
                log.info("call %s: no agent audio within %.1f s", self._call_sid, step.timeout)
                return

    async def _send_frame(self, frame: bytes) -> float:
        """Send one caller frame in its real-time slot, then play the agent's audio up to now."""
        delay = self._next_slot - self._loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if self._gone.is_set():
            raise _StreamEnded
        now = self._loop.time()
        self._max_lag = max(self._max_lag, now - self._next_slot)
        self._chunk += 1
        message = encode_inbound_media(
            self._stream_sid,
            sequence_number=self._next_sequence(),
            chunk=self._chunk,
            timestamp=round((self._next_slot - self._t0) * 1000),
            payload=frame,
        )
        self._next_slot += FRAME_SECONDS
        await self._send(message)
        await self._deliver(self._buffer.advance(now))
        return now

    async def _hang_up(self) -> None:
        stop = Stop(
            sequence_number=self._next_sequence(),
            stream_sid=self._stream_sid,
            account_sid=self._account_sid,
            call_sid=self._call_sid,
        )
        try:
            await self._send(encode_inbound(stop))
        except _StreamEnded:
            pass
        await self._ws.close()

    # --- the agent's side

    async def _receive(self) -> None:
        try:
            async for raw in self._ws:
                await self._on_message(raw, self._loop.time())
        except (ConnectionClosed, _StreamEnded):
            pass
        finally:
            self._gone.set()

    async def _on_message(self, raw: str | bytes, now: float) -> None:
        if isinstance(raw, bytes):
            self._protocol_error("binary frame (Twilio rejects these, warning 31950)")
            return
        try:
            message = parse_outbound(raw)
        except MalformedMessage as exc:
            self._protocol_error(exc.reason)
            return
        if message.stream_sid != self._stream_sid:
            self._protocol_error("message for another stream")
            return
        if isinstance(message, OutboundMedia):
            if message.payload:
                self._agent_bytes += len(message.payload)
                self._timing.agent_audio(now, silent_since=self._buffer.silent_since(now))
            played = self._buffer.push_audio(message.payload, now)
        elif isinstance(message, OutboundMark):
            self._marks_received += 1
            played = self._buffer.push_mark(message.name, now)
        else:
            assert isinstance(message, Clear)
            self._clears += 1
            self._timing.clear(now)
            played = self._buffer.clear(now)
        await self._deliver(played)

    async def _deliver(self, played: Played) -> None:
        if self._recording is not None:
            self._recording += played.audio
        for name in played.marks:
            echo = MarkEcho(sequence_number=self._next_sequence(), stream_sid=self._stream_sid, name=name)
            await self._send(encode_inbound(echo))
            self._marks_echoed += 1

    # --- plumbing

    async def _send(self, message: str) -> None:
        try:
            await self._ws.send(message)
        except ConnectionClosed as exc:
            self._gone.set()
            raise _StreamEnded from exc

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def _protocol_error(self, reason: str) -> None:
        self._protocol_errors += 1
        log.warning("call %s: skipped a server message: %s", self._call_sid, reason)
