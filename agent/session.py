"""One phone call with the agent, transport-agnostic: caller audio in, agent audio and actions out.

    feed_audio ─▶ TurnDetector ─onset─▶ barge-in (cancel reply, clear) + recognizer stream (pre-roll)
                               ─endpoint─▶ turn task: final text ─▶ qualification, opt-out check
                                           ─▶ dialog (stream) ─▶ chunker ─▶ speaker (TTS stream) ─▶ transport
                                           ─▶ tool calls ─▶ CallControl ─▶ CallActions

The per-frame path (:meth:`CallSession.feed_audio`) runs the detector and hands the frame to the open
recognizer stream; it creates no task and awaits nothing unless the caller starts or stops talking.
A reply's dialog and voice run in one task (plus the dialog's producer) that a barge-in cancels; tool calls
run after the reply and are not cancelled halfway. Every wait on a provider is held to the call's silence
budget (:mod:`agent.line_watch`, checked on each caller frame): a late reply is covered by a cached holding
phrase, and a failing or late provider is replaced by its fallback for the rest of the call (the fallback
dialog finishes the reply; a new voice apologises and offers a transfer), so a failure never leaves the caller
in silence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from agent import intents, phrases, tools
from agent.call_control import CallControl, CallState
from agent.call_log import CallLog
from agent.clock import Clock, MonotonicClock, utc_now
from agent.config import Providers, SessionConfig
from agent.conversation import Conversation
from agent.dialog_stream import DialogFailed, DialogOutput, DialogTiming, produce_chunks
from agent.errors import SpeechUnavailable
from agent.greeting import GreetingCache
from agent.interfaces import CallActions, CallTransport, Dialog, Message, RecognitionStream, ToolCall
from agent.line_watch import LineWatch, Turn
from agent.listening import Listener
from agent.playback import PlaybackTracker, SpokenReply
from agent.records import CallResult, TurnLatency
from agent.speech_out import Speaker, SpeechTiming
from agent.turn_taking import SpeechEnded, SpeechStarted, TurnDetector
from agent.weak_callbacks import weakly

logger = logging.getLogger(__name__)


class CallSession:
    """The agent's side of one call. Create one per call; drive it from the transport's receive loop.

    The host awaits :meth:`start` once the audio path is up, then :meth:`feed_audio` for each piece of caller
    audio (PCM16 8 kHz mono, any size), :meth:`on_mark` for each mark echo, :meth:`on_dtmf` for each key
    press, and :meth:`stop` when the call is over; :meth:`result` then describes the call. :attr:`finished`
    is set when the agent itself ended the call (hung up, transferred, opted the caller out) or it stopped.
    """

    def __init__(
        self,
        *,
        config: SessionConfig,
        transport: CallTransport,
        actions: CallActions,
        providers: Providers,
        greetings: GreetingCache | None = None,
        clock: Clock | None = None,
        wall_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self._transport = transport
        self._providers = providers
        self._clock: Clock = clock or MonotonicClock()
        self._detector = TurnDetector(config.turn_taking)
        self._tracker = PlaybackTracker()
        self._watch = LineWatch(budget=config.silence, clock=self._clock, tracker=self._tracker)
        self._dialog: Dialog = providers.dialog
        self._state = CallState()
        self._log = CallLog(self._clock.now())
        self._conversation = Conversation(config, wall_clock=wall_clock)
        self._speaker = Speaker(
            transport=transport,
            tracker=self._tracker,
            clock=self._clock,
            timeouts=config.timeouts,
            watch=self._watch,
            tts=providers.tts,
            fallback_tts=providers.fallback_tts,
            cache=greetings,
            organization_id=config.organization_id,
            on_provider_failure=weakly(self._provider_failed),
            on_audio=weakly(self._audio_queued),
        )
        self._listener = Listener(
            stt=providers.stt,
            fallback=providers.fallback_stt,
            language=config.language,
            timeouts=config.timeouts,
            watch=self._watch,
            on_provider_failure=weakly(self._provider_failed),
        )
        self._control = CallControl(
            config=config,
            actions=actions,
            log=self._log,
            conversation=self._conversation,
            state=self._state,
            say=weakly(self._say),
            wait_played=weakly(self._wait_played),
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._speaking: asyncio.Task[Any] | None = None
        self._last_turn: asyncio.Task[None] | None = None
        self._played = asyncio.Event()
        self._played.set()
        self._utterances = 0
        self._heard_audio = False
        self._quiet_since_ms = 0
        self._reprompts = 0
        self._holding = False

    @property
    def finished(self) -> asyncio.Event:
        return self._state.finished

    # --- the host's entry points

    async def start(self) -> None:
        """Play the greeting at once (from the cache when warm) and start listening."""
        self._log.started_at = self._clock.now()
        if self._speaker.cached(phrases.HOLD) is None:
            self._spawn(self._warm_hold())
        text = self.greeting_text()
        reply = SpokenReply()
        if self._speaker.cached(text) is not None:
            await self._say_into(reply, text)
            return
        self._speaking = self._spawn(self._say_into(reply, text))

    async def feed_audio(self, pcm: bytes) -> None:
        """Caller audio, PCM16 8 kHz mono, any length."""
        if self._state.ending:
            return
        if not self._heard_audio:
            self._heard_audio = True
            self._log.audio_arrived(self._clock.now(), len(pcm))
        events = self._detector.feed(pcm)
        if self._watch.pending and self._watch.tick():
            self._spawn(self._hold())
        if not events:
            if self._listener.active:
                self._listener.feed(pcm)
            elif self.config.idle_reprompt_ms:
                self._check_idle()
            return
        fed = False  # an onset event carries all of this input, so it is fed to a recognizer only once
        for event in events:
            if isinstance(event, SpeechStarted):
                await self._on_speech_started(event)
            else:
                if not fed:
                    self._listener.feed(pcm)
                self._on_speech_ended(event)
            fed = True

    async def on_mark(self, name: str) -> None:
        """The transport reports that the audio before mark ``name`` has played."""
        self._tracker.on_mark(name, self._clock.now())
        if not self._tracker.speaking:
            self._played.set()

    async def on_dtmf(self, digit: str) -> None:
        """A key press: 0 asks for a human; 9 opts out on calls that offered it."""
        if self._state.ending:
            return
        if digit == "0":
            await self._interrupt()
            self._spawn(self._guard(lambda: self._control.transfer_on_request("caller pressed 0")))
        elif digit == "9" and self.config.compliance.interactive_opt_out:
            await self._interrupt()
            self._spawn(self._guard(lambda: self._control.opt_out(how="pressed 9", confirm=True)))
        else:
            logger.debug("key press ignored", extra={"call_id": self.config.call_id, "digit": digit})

    async def stop(self) -> None:
        """The call is over (hang-up or stream closed): cancel work in flight and release resources."""
        if self._state.closed:
            return
        self._state.closed = True
        self._state.ending = True
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        await self._listener.aclose()
        self._detector.reset()
        self._state.finished.set()

    async def leave_voicemail(self, text: str) -> None:
        """An answering machine took the call and its greeting is over (the host's detection says so): stop
        listening, drop whatever is still playing, say ``text`` in full, then hang up once it has played."""
        if self._state.ending:
            return
        self._state.ending = True
        self._log.end_reason = "voicemail"
        await self._interrupt()
        await self._say(text, interruptible=False)
        await self._control.hang_up()

    async def settled(self) -> None:
        """Wait until the work in flight (turns, replies, actions) is done, including work it starts.

        A reply or action may wait for mark echoes, so this returns only as the audio plays.
        """
        while pending := [t for t in self._tasks if not t.done()]:
            await asyncio.wait(pending)

    def greeting_text(self) -> str:
        cfg = self.config
        return phrases.greeting_text(
            cfg.identity,
            direction=cfg.direction,
            identify=cfg.compliance.identify,
            offer_opt_out=cfg.compliance.interactive_opt_out,
        )

    def result(self) -> CallResult:
        """What happened on the call, for the persistence layer (complete once :meth:`stop` returned)."""
        return self._log.result(qualification=self._conversation.qualification, now=self._clock.now())

    @property
    def history(self) -> list[Message]:
        """The dialog history so far (a copy): system prompt, then the conversation as heard."""
        return self._conversation.history

    # --- caller speech

    async def _on_speech_started(self, event: SpeechStarted) -> None:
        self._utterances += 1
        self._watch.caller_speaking()
        await self._interrupt()
        self._listener.begin(event.audio)

    def _on_speech_ended(self, event: SpeechEnded) -> None:
        stream = self._listener.end()
        now = self._clock.now()
        turn = self._watch.turn_started(now - event.endpointing_ms / 1000)
        utterance, previous = self._utterances, self._last_turn
        work = partial(self._run_turn, event, stream, now, utterance, previous)
        self._last_turn = self._spawn(self._guard(partial(self._within, turn, work)))

    async def _within(self, turn: Turn, work: Callable[[], Awaitable[None]]) -> None:
        """Run a turn's work; the silence budget stops running for it when the work is over."""
        try:
            await work()
        finally:
            self._watch.turn_over(turn)

    async def _run_turn(
        self,
        event: SpeechEnded,
        stream: RecognitionStream | None,
        endpoint_at: float,
        utterance: int,
        previous: asyncio.Task[None] | None,
    ) -> None:
        text = await self._listener.recognize(stream, event.audio)
        latency = TurnLatency(
            turn=len(self._log.turns) + 1,
            endpointing_ms=float(event.endpointing_ms),
            stt_final_ms=(self._clock.now() - endpoint_at) * 1000,
        )
        if previous is not None and not previous.done():
            await asyncio.wait([previous])  # turns are answered in order
        if self._state.ending or text == "":
            return
        if text is None:
            self._log.turns.append(latency)
            if utterance == self._utterances:
                await self._say(phrases.DID_NOT_CATCH)
            return
        self._reprompts = 0
        self._log.caller_said(text, onset_ms=event.onset_ms, end_ms=event.speech_end_ms)
        self._conversation.caller_said(text)
        if intents.is_opt_out_request(text, bare_stop_counts=self.config.compliance.interactive_opt_out):
            self._log.turns.append(latency)
            await self._control.opt_out(how=f'said "{text}"', confirm=True)
            return
        if utterance != self._utterances:
            self._log.turns.append(latency)
            return  # the caller is talking again; the next turn answers both
        dialog_timing, speech_timing = DialogTiming(), SpeechTiming()
        try:
            await self._respond(dialog_timing, speech_timing)
        finally:
            self._log.turns.append(_latency(latency, endpoint_at, dialog_timing, speech_timing))

    # --- replying

    async def _respond(self, dialog_timing: DialogTiming, speech_timing: SpeechTiming) -> None:
        for _ in range(self.config.max_tool_rounds):
            task = self._spawn(self._speak_dialog(dialog_timing, speech_timing))
            self._speaking = task
            await asyncio.wait([task])
            if self._speaking is task:
                self._speaking = None
            if task.cancelled():
                return
            calls: list[ToolCall] = task.result()
            if not calls or not await self._control.run_tools(calls):
                return

    async def _speak_dialog(self, dialog_timing: DialogTiming, speech_timing: SpeechTiming) -> list[ToolCall]:
        """One reply: the dialog streams chunks, the speaker says them as they come; returns its tool calls.

        A dialog that fails or is late hands over to the fallback dialog, which finishes the reply (what the
        failed one already said stays said) and answers from then on; without one, the caller hears an apology.
        """
        reply = SpokenReply()
        calls: list[ToolCall] = []
        self._speaker.take_failover()
        try:
            while True:
                dialog = self._dialog
                try:
                    calls = await self._stream_reply(dialog, reply, dialog_timing, speech_timing)
                    break
                except DialogFailed as exc:
                    self._provider_failed("dialog", dialog.name, exc.__cause__ or exc, exc.cost_s)
                    fallback = self._providers.fallback_dialog
                    if fallback is None or fallback is dialog:
                        await self._speaker.say(
                            reply, phrases.APOLOGY_OFFER_TRANSFER, timing=speech_timing, cache=True
                        )
                        break
                    self._dialog = fallback
            if self._speaker.take_failover():
                await self._speaker.say(reply, phrases.APOLOGY_OFFER_TRANSFER, cache=True)
        except SpeechUnavailable:
            calls = []
            await self._control.no_voice_left()
        finally:
            if reply.interrupted:
                calls = []
            self._commit(reply, calls)
        return calls

    async def _stream_reply(
        self, dialog: Dialog, reply: SpokenReply, dialog_timing: DialogTiming, speech_timing: SpeechTiming
    ) -> list[ToolCall]:
        """``dialog``'s reply spoken into ``reply``; raises :class:`DialogFailed` after what it did say."""
        output = DialogOutput()
        chunks: asyncio.Queue[str | None] = asyncio.Queue()
        fallback = self._providers.fallback_dialog
        producer = asyncio.create_task(
            produce_chunks(
                dialog=dialog,
                context=self._conversation.context(),
                tools=tools.AGENT_TOOLS,
                chunking=self.config.chunking,
                timeouts=self.config.timeouts,
                watch=self._watch,
                watched=fallback is not None and fallback is not dialog,
                clock=self._clock,
                timing=dialog_timing,
                chunks=chunks,
                output=output,
            )
        )
        try:
            while (chunk := await chunks.get()) is not None:
                await self._speaker.say(reply, chunk, timing=speech_timing)
            await producer
        finally:
            if not producer.done():
                producer.cancel()
                await asyncio.wait([producer])
        return output.tool_calls

    # --- speaking outside the dialog

    async def _say(self, text: str, *, interruptible: bool = True) -> None:
        """Speak a fixed phrase as its own reply (cached audio when available)."""
        reply = SpokenReply()
        if not interruptible:
            await self._say_into(reply, text)
            return
        task = self._spawn(self._say_into(reply, text))
        self._speaking = task
        await asyncio.wait([task])
        if self._speaking is task:
            self._speaking = None

    async def _say_into(self, reply: SpokenReply, text: str) -> None:
        try:
            await self._speaker.say(reply, text, cache=True)
        except SpeechUnavailable:
            await self._control.no_voice_left()
        finally:
            self._commit(reply, [])

    async def _hold(self) -> None:
        """The reply is late: a holding phrase, only from the cache (synthesizing it would be late too).
        Heard, so in the transcript; not part of the dialog history."""
        reply = SpokenReply()
        self._holding = True
        try:
            await self._speaker.say_from_cache(reply, phrases.HOLD)
        finally:
            self._holding = False
            if reply.chunks:
                self._log.agent_spoke(reply)

    async def _warm_hold(self) -> None:
        """Cache the holding phrase in the call's voice if it is not yet (first call of an organization)."""
        try:
            await self._speaker.warm(phrases.HOLD)
        except Exception as exc:  # a background task's boundary: the call simply has no holding phrase
            logger.info("holding phrase not cached", extra={"call_id": self.config.call_id, "error": repr(exc)})

    async def _interrupt(self) -> None:
        """Barge-in: stop the reply in progress and drop the audio the caller has not heard yet."""
        speaking = self._speaking
        if speaking is not None and not speaking.done():
            speaking.cancel()
        self._speaking = None
        if not self._tracker.speaking:
            return
        cut = self._tracker.interrupt(self._clock.now())
        self._played.set()
        try:
            await self._transport.clear()
        finally:
            for reply in cut:
                self._conversation.cut_short(reply)

    def _check_idle(self) -> None:
        """Per frame while the caller is quiet: reprompt once both sides have been silent long enough."""
        now = self._detector.now_ms
        speaking = self._speaking
        turn = self._last_turn
        if (
            self._tracker.speaking
            or (speaking is not None and not speaking.done())
            or (turn is not None and not turn.done())
            or self._detector.in_speech
        ):
            self._quiet_since_ms = now
        elif now - self._quiet_since_ms >= self.config.idle_reprompt_ms:
            self._quiet_since_ms = now
            self._spawn(self._guard(self._reprompt))

    async def _reprompt(self) -> None:
        self._reprompts += 1
        if self._reprompts > self.config.max_reprompts:
            self._log.end_reason = "caller_unresponsive"
            self._state.ending = True
            await self._say(phrases.GOODBYE_NO_RESPONSE, interruptible=False)
            await self._control.hang_up()
            return
        await self._say(phrases.STILL_THERE)

    def _commit(self, reply: SpokenReply, calls: list[ToolCall]) -> None:
        """A reply is done (or cut): into the transcript, and into the history unless already there."""
        if (not reply.chunks and not calls) or reply.history_index is not None:
            return
        if reply.chunks:
            self._log.agent_spoke(reply)
        self._conversation.agent_said(reply, calls)

    def _audio_queued(self) -> None:
        self._played.clear()
        if not self._holding:
            self._watch.audio_sent()

    async def _wait_played(self) -> None:
        """Until the caller has heard everything queued (mark echoes), bounded by its length plus slack."""
        if not self._tracker.speaking:
            return
        budget = self._tracker.remaining_s(self._clock.now()) + self.config.timeouts.playback_slack
        try:
            async with asyncio.timeout(budget):
                await self._played.wait()
        except TimeoutError:
            logger.info("mark echoes overdue; acting anyway", extra={"call_id": self.config.call_id})

    # --- failures and tasks

    def _provider_failed(self, stage: str, provider: str, exc: BaseException, cost_s: float) -> None:
        cost_ms = round(cost_s * 1000)
        self._log.provider_failed(stage, provider, exc, cost_ms=cost_ms)
        logger.warning(
            "provider failed; falling back",
            extra={
                "call_id": self.config.call_id,
                "stage": stage,
                "provider": provider,
                "error": repr(exc),
                "cost_ms": cost_ms,
            },
        )

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, step: Callable[[], Awaitable[None]]) -> None:
        """A turn or action's boundary: an unexpected error is logged and the call goes on.

        ``step`` makes its coroutine only once the task runs: a hang-up may cancel the task before it starts, and a
        coroutine made earlier would then be left unawaited."""
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("call step failed", extra={"call_id": self.config.call_id})
            if self._state.ending:
                return
            try:
                await self._say(phrases.APOLOGY_OFFER_TRANSFER)
            except Exception:
                logger.exception("apology failed too", extra={"call_id": self.config.call_id})


def _latency(base: TurnLatency, endpoint_at: float, dialog: DialogTiming, speech: SpeechTiming) -> TurnLatency:
    def since(start: float | None, end: float | None) -> float | None:
        return (end - start) * 1000 if start is not None and end is not None else None

    return replace(
        base,
        dialog_first_token_ms=since(dialog.started_at, dialog.first_token_at),
        first_chunk_ms=since(dialog.started_at, dialog.first_chunk_at),
        tts_first_byte_ms=since(speech.tts_started_at, speech.first_byte_at),
        first_audio_out_ms=since(endpoint_at, speech.first_audio_at),
    )
