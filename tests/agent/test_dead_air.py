"""Never dead air on the cloud path: whatever a cloud provider does, the caller hears the agent again within
the silence budget, from a holding phrase and then the local fallback, and a late answer is never spoken.

Each call runs on its media clock (:meth:`tests.agent.harness.Call.step`): the line plays 20 ms and the caller
sends 20 ms per step, so silences are measured in the caller's time, not the machine's. The real OpenAI and
ElevenLabs provider classes talk HTTP to the doubles of :mod:`tests.agent.cloud_doubles`; the real Azure SDK
talks to the Azure Speech double over its WebSocket protocol.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from http import HTTPStatus

import pytest

from agent import phrases
from agent.clock import ManualClock
from agent.config import SilenceBudget
from agent.fakes import FakeSpeechToText, FakeTextToSpeech
from agent.interfaces import DialogContext, Message
from agent.providers.azure_stt import AzureSpeechSTT
from agent.providers.elevenlabs_tts import ElevenLabsTTS
from agent.providers.openai_dialog import OpenAIDialog
from agent.scripted_dialog import ScriptedDialog
from tests.agent.audio_samples import SpeechFactory
from tests.agent.cloud_doubles import ChatCompletionsDouble, ElevenLabsDouble, MediaClock, Misbehaviour
from tests.agent.harness import Call
from tests.agent.providers.azure_speech_double import AzureSpeechDouble, running

BUDGET = SilenceBudget()
CALLER = "I want to sell my condo in Austin."
HEARD = "i want to sell my condo in austin"
SCRIPTED_REPLY = "Great, I can help you sell. A condo in Austin, got it. What's your timeline for selling?"
FAILURES: tuple[Misbehaviour, ...] = ("error", "hang", "stall", "trickle")
FRAME_ROUNDING_S = 0.02  # the clock moves a frame at a time


class CloudCall:
    """A call on the cloud path: OpenAI dialog and ElevenLabs voice over HTTP doubles, local fallbacks."""

    def __init__(self, speech: SpeechFactory, *, stt: FakeSpeechToText | AzureSpeechSTT | None = None,
                 fallback_stt: FakeSpeechToText | None = None, frame_pause_s: float = 0.0) -> None:  # fmt: skip
        clock = ManualClock()
        self.media = MediaClock(clock)
        self.chat = ChatCompletionsDouble(self.media)
        self.voice = ElevenLabsDouble(self.media)
        self.local_voice = FakeTextToSpeech(name="local-voice", ms_per_char=20)
        self.dialog = OpenAIDialog(api_key="sk-test", base_url="https://api.openai.test/v1",
                                   http_client=self.chat.client())  # fmt: skip
        self.call = Call(
            speech,
            stt=stt or FakeSpeechToText(default=HEARD),
            dialog=self.dialog,
            tts=ElevenLabsTTS(
                client=self.voice.client(),
                api_key="el-test",
                voice_id="voice-1",
                base_url="https://api.elevenlabs.test",
            ),  # fmt: skip
            fallback_stt=fallback_stt,
            fallback_dialog=ScriptedDialog(),
            fallback_tts=self.local_voice,
            manual_clock=clock,
            frame_pause_s=frame_pause_s,
            on_frame=[self.media.moved],
        )

    async def __aenter__(self) -> CloudCall:
        # The SDK reads the platform's details once, on a thread; done here, it costs the call no media time.
        context = DialogContext("Acme Realty", "Ava", "en-US", "inbound", None, [Message("user", "hi")])
        assert [event async for event in self.dialog.respond(context, [])]
        self.chat.requests.clear()
        await self.call.warm_greeting()  # the greeting and the holding phrase, in the cloud voice
        await self.call.answer()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.chat.released.set()
        self.voice.released.set()
        await self.call.session.stop()
        await self.dialog.aclose()

    async def turn(self) -> float:
        """The caller speaks and waits for the whole reply; returns the longest silence they heard."""
        stopped = await self.call.speak(CALLER)
        await self.call.listen(6.0)
        self.stopped = stopped
        return self.call.longest_silence_since(stopped)

    async def late_answers(self) -> None:
        """Hung and stalled providers answer at last, after the fallback has spoken."""
        self.chat.released.set()
        self.voice.released.set()
        await self.call.listen(2.0)

    def agent_lines(self) -> list[str]:
        return self.call.agent_lines()

    def failures(self) -> tuple[str, ...]:
        return self.call.session.result().provider_failures


def cost_ms(failure: str) -> int:
    match = re.search(r" after (\d+) ms$", failure)
    assert match, failure
    return int(match.group(1))


# --- the dialog


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_failing_dialog_leaves_no_dead_air(speech: SpeechFactory, failure: Misbehaviour) -> None:
    async with CloudCall(speech) as cloud:
        cloud.chat.misbehave = failure
        cloud.voice.latency_s = 0.2  # the healthy voice, asked late for the fallback's reply, is not given up
        silence = await cloud.turn()
        await cloud.late_answers()

        assert silence <= BUDGET.max_silence_s + FRAME_ROUNDING_S
        lines = cloud.agent_lines()
        reply = lines[-1]
        if failure in ("stall", "trickle"):  # the sentence already spoken stays; the fallback finishes
            assert reply == f"Got it. {SCRIPTED_REPLY}"
        else:
            assert reply == SCRIPTED_REPLY
        # a reply not audible by the time the holding phrase is due is held (the trickle's first sentence
        # ends only with its second piece)
        assert (phrases.HOLD in lines) == (failure in ("hang", "trickle"))
        answered_at = cloud.call.first_audio_since(cloud.stopped, reply)
        assert answered_at - cloud.stopped <= BUDGET.fallback_by_s
        # the late rest of the answer is neither read nor spoken
        assert cloud.chat.sent_after_release == 0
        assert not any("sell a condo" in line or "list it" in line for line in lines)
        (record,) = cloud.failures()
        assert record.startswith("dialog openai: ")
        if failure == "error":
            assert record.startswith("dialog openai: ProviderError after ")
        else:
            assert record.startswith("dialog openai: TimeoutError after ")
            assert 0 < cost_ms(record) <= BUDGET.reply_after_s * 1000  # the wait given up (a trickle's last)
        # the fallback answers the rest of the call
        await cloud.call.speak("Near downtown.")
        await cloud.call.listen(3.0)
        assert len(cloud.chat.requests) == 1


# --- the voice


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_failing_voice_leaves_no_dead_air(speech: SpeechFactory, failure: Misbehaviour) -> None:
    async with CloudCall(speech) as cloud:
        cloud.voice.misbehave = failure
        silence = await cloud.turn()
        before_release = len(cloud.call.transport.audio)
        await cloud.late_answers()

        assert silence <= BUDGET.max_silence_s + FRAME_ROUNDING_S
        lines = cloud.agent_lines()
        # the local voice carries on from the sentence the cloud voice failed on, then apologises
        assert cloud.local_voice.texts[0] == "Got it."
        assert cloud.local_voice.texts[-1] == phrases.APOLOGY_OFFER_TRANSFER
        assert lines[-1].startswith("Got it. So you want to sell a condo in Austin.")
        assert (phrases.HOLD in lines) == (failure == "hang")
        # nothing of the cloud voice's late audio reaches the line
        assert cloud.voice.sent_after_release == 0
        assert len(cloud.call.transport.audio) == before_release
        (record,) = cloud.failures()
        if failure == "error":
            assert record.startswith("tts elevenlabs: ProviderError after ")
        else:
            assert record.startswith("tts elevenlabs: TimeoutError after ")
            assert 0 < cost_ms(record) <= BUDGET.reply_after_s * 1000


# --- speech recognition


@pytest.fixture
async def azure() -> AsyncIterator[AzureSpeechDouble]:
    async with running(AzureSpeechDouble(finals=["I want to rent an apartment."])) as double:
        yield double


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_failing_recognizer_leaves_no_dead_air(
    speech: SpeechFactory, azure: AzureSpeechDouble, failure: Misbehaviour
) -> None:
    if failure == "error":
        azure.reject_status = HTTPStatus.UNAUTHORIZED
    elif failure == "hang":
        azure.finalize = False
    elif failure == "stall":
        azure.hypotheses, azure.hypothesis_every, azure.finalize = ["i want", "i want to"], 800, False
    else:
        azure.hypotheses, azure.hypothesis_every, azure.final_delay = ["i", "i want", "i want to"], 800, 3.0
    stt = AzureSpeechSTT(key="azure-test-key", host=azure.url, final_timeout=5.0)
    local = FakeSpeechToText([HEARD], name="local-stt")
    try:
        await stt.warm_up()
        # the SDK works from its own threads: frames go at the caller's pace so that it gets its turns
        async with CloudCall(speech, stt=stt, fallback_stt=local, frame_pause_s=0.02) as cloud:
            silence = await cloud.turn()
            await cloud.call.listen(3.0)  # the slow service's final result comes in the meantime

            assert silence <= BUDGET.max_silence_s + FRAME_ROUNDING_S
            # the local recognizer's text was answered; Azure's late one never reached the dialog
            (request,) = cloud.chat.requests
            users = [m["content"] for m in request["messages"] if m["role"] == "user"]
            assert users == [HEARD]
            assert local.streams[0].fed_bytes > 16_000
            assert cloud.agent_lines()[-1].startswith("Got it.")
            (record,) = cloud.failures()
            assert record.startswith("stt azure: ")
            assert cost_ms(record) <= BUDGET.act_after_s * 1000
    finally:
        await stt.aclose()


async def test_a_reply_on_time_needs_no_holding_phrase(speech: SpeechFactory) -> None:
    async with CloudCall(speech) as cloud:
        silence = await cloud.turn()
        assert silence < BUDGET.act_after_s
        assert phrases.HOLD not in cloud.agent_lines()
        assert cloud.failures() == ()
        assert cloud.agent_lines()[-1] == "Got it. So you want to sell a condo in Austin. When would you list it?"


async def test_after_the_voice_failed_over_a_late_reply_is_still_held(speech: SpeechFactory) -> None:
    async with CloudCall(speech) as cloud:
        cloud.voice.misbehave = "error"
        await cloud.turn()  # the local voice takes over; the holding phrase is cached in the cloud voice only
        cloud.chat.misbehave = "hang"
        silence = await cloud.turn()
        assert silence <= BUDGET.max_silence_s + FRAME_ROUNDING_S
        assert cloud.agent_lines()[-2:] == [phrases.HOLD, SCRIPTED_REPLY]
