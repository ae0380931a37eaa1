"""``seiketsu bench conversation``: scripted callers heard and understood through the whole local call path.

Each conversation of :mod:`telephony.conversation_corpus` is spoken in several voices (espeak-ng variants and
speeds, the Piper voice), clean and with pink noise at ``--snr-db``, by the call simulator against the real app
in its own process on the local providers (Whisper, the scripted dialog, Piper): simulator -> media stream ->
agent -> stored call. Reported: word error rate per voice and condition (the caller's transcript lines against
the script), slot accuracy (the stored call's qualification against the conversation's expected slots),
opt-out recall (outcome ``opted_out``), reply latency (end of caller speech to the agent's next audio) on one
call at a time, and how many concurrent calls hold with every reply within ``--reply-limit`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click
import httpx
import numpy as np
import sqlalchemy as sa
from sqlmodel import col

from agent.providers.piper_tts import PiperTTS
from seiketsu.container import Container, build_container
from seiketsu.settings import load_settings
from telephony.bench import NUMBER, _free_port, _prepare, _start_server, percentile, server_env
from telephony.conversation_corpus import CONVERSATIONS, SERVICE_AREAS, Conversation
from telephony.conversation_scoring import slots_right, word_errors
from telephony.runtime import twilio_auth_token
from telephony.simulator import (
    AwaitReply,
    CallResult,
    EspeakNgVoice,
    Silence,
    SimulatorConfig,
    Step,
    Utterance,
    simulate_call,
)
from telephony.simulator.script import CallerVoice
from telephony.simulator.voices import TextToSpeechVoice

STORE_WAIT_S = 20.0
"""How long a call may take to be stored after it ends."""
NOISE_LEAD_S = 0.3
"""Line noise before and after each noisy utterance, as a phone line carries it."""


@dataclass(frozen=True, slots=True)
class Take:
    """One conversation in one voice and condition, ready to play."""

    conversation: Conversation
    voice: str
    condition: str
    steps: tuple[Step, ...]


@dataclass
class Outcome:
    take: Take
    errors: int = 0
    words: int = 0
    slots: dict[str, bool] = field(default_factory=dict)
    opted_out: bool = False
    replies: list[float] = field(default_factory=list)
    unanswered: int = 0
    stages: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None


VOICES: dict[str, Callable[[], EspeakNgVoice] | None] = {
    "espeak-us": lambda: EspeakNgVoice(voice="en-us", words_per_minute=165),
    "espeak-us-f3-slow": lambda: EspeakNgVoice(voice="en-us+f3", words_per_minute=140),
    "espeak-gb-m3-fast": lambda: EspeakNgVoice(voice="en-gb+m3", words_per_minute=190),
    "piper-joe": None,  # the local Piper voice, as the agent speaks it
}


def _voices(names: Sequence[str]) -> list[str]:
    known = VOICES
    unknown = [name for name in names if name not in known]
    if unknown:
        raise click.BadParameter(f"unknown voice(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return list(names)


def pink_noise(seconds: float) -> np.ndarray:
    """Pink noise from sox (repeatable), PCM16 8 kHz as float samples of unit RMS."""
    raw = subprocess.run(
        ["sox", "-R", "-n", "-r", "8000", "-b", "16", "-c", "1", "-e", "signed", "-t", "raw", "-",
         "synth", f"{seconds:.1f}", "pinknoise"],
        check=True,
        capture_output=True,
    ).stdout  # fmt: skip
    samples = np.frombuffer(raw, "<i2").astype(np.float64)
    return samples / max(1.0, float(np.sqrt(np.mean(samples**2))))


def noisy_utterance(clean: Utterance, pcm: bytes, noise: np.ndarray, *, snr_db: float, offset: int) -> Utterance:
    """``pcm`` with line noise ``snr_db`` below its speech (measured over the voiced span) mixed in."""
    speech = np.frombuffer(pcm, "<i2").astype(np.float64)
    voiced = speech[int(clean.speech_start * 8000) : int(clean.speech_end * 8000)]
    level = float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 1000.0
    lead = np.zeros(int(NOISE_LEAD_S * 8000))
    padded = np.concatenate([lead, speech, lead])
    start = offset % max(1, len(noise) - len(padded))
    mixed = padded + noise[start : start + len(padded)] * level / 10 ** (snr_db / 20)
    out = mixed.clip(-32768, 32767).astype("<i2").tobytes()
    noisy = Utterance.from_pcm(out, clean.text)
    return Utterance(
        ulaw=noisy.ulaw,
        text=clean.text,
        speech_start=clean.speech_start + NOISE_LEAD_S,
        speech_end=clean.speech_end + NOISE_LEAD_S,
    )


async def _takes(conversations: Sequence[Conversation], voices: Sequence[str], *, snr_db: float | None) -> list[Take]:
    noise = pink_noise(60.0) if snr_db is not None else None
    takes: list[Take] = []
    for voice_name in voices:
        make = VOICES[voice_name]
        piper = PiperTTS(deterministic=True) if make is None else None
        voice: CallerVoice = TextToSpeechVoice(piper) if piper is not None else make()  # type: ignore[misc]
        try:
            for conversation in conversations:
                clean: list[Utterance] = []
                noisy: list[Utterance] = []
                for i, line in enumerate(conversation.lines):
                    pcm = await voice.synthesize(line)
                    utterance = Utterance.from_pcm(pcm, line)
                    clean.append(utterance)
                    if noise is not None and snr_db is not None:
                        noisy.append(noisy_utterance(utterance, pcm, noise, snr_db=snr_db, offset=7919 * (i + 1)))
                takes.append(Take(conversation, voice_name, "clean", _steps(clean)))
                if noisy:
                    takes.append(Take(conversation, voice_name, f"noise{snr_db:g}dB", _steps(noisy)))
        finally:
            if piper is not None:
                await piper.aclose()
    return takes


def _steps(utterances: list[Utterance]) -> tuple[Step, ...]:
    steps: list[Step] = [AwaitReply(timeout=30, settle=0.3)]
    for utterance in utterances:
        steps += [utterance, AwaitReply(timeout=20, settle=0.3)]
    steps.append(Silence(0.3))
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class StoredCall:
    qualification: dict[str, Any]
    outcome: str
    caller_lines: list[str]
    latencies: list[dict[str, Any]]
    """The agent's per-turn latency breakdown (``agent.records.TurnLatency``)."""


class StoredCallReader:
    """The server's stored calls, read from its database once each has ended."""

    def __init__(self, env: dict[str, str]) -> None:
        self._container: Container = build_container(load_settings(env))

    async def read(self, call_sid: str) -> StoredCall:
        """The call, once it is stored."""
        for _ in range(int(STORE_WAIT_S / 0.2)):
            found = await asyncio.to_thread(self._read, call_sid)
            if found is not None:
                return found
            await asyncio.sleep(0.2)
        raise TimeoutError(f"call {call_sid} was not stored within {STORE_WAIT_S:.0f} s")

    def _read(self, call_sid: str) -> StoredCall | None:
        from seiketsu.tenancy.scoping import system_session
        from telephony.models import Call, TranscriptLine

        with system_session(self._container.sessions) as session:
            call = session.scalars(sa.select(Call).where(col(Call.call_sid) == call_sid)).first()
            if call is None or call.outcome is None:
                return None
            lines = session.scalars(
                sa.select(col(TranscriptLine.text))
                .where(col(TranscriptLine.call_id) == call.id, col(TranscriptLine.speaker) == "caller")
                .order_by(col(TranscriptLine.seq))
            )
            return StoredCall(dict(call.qualification), str(call.outcome), list(lines), list(call.latencies))

    def close(self) -> None:
        self._container.close()


class Runner:
    def __init__(self, env: dict[str, str], server_url: str) -> None:
        settings = load_settings(env)
        self._config = SimulatorConfig(
            server_url=server_url,
            auth_token=twilio_auth_token(settings),
            from_number="",
            to_number=NUMBER,
            public_base_url=settings.public_base_url,
            stream_base_url=server_url.replace("http://", "ws://"),
            max_duration=240,
        )
        self._calls = 0
        self._stored = StoredCallReader(env)

    async def play(self, takes: Sequence[Take], *, parallel: int) -> list[Outcome]:
        limit = asyncio.Semaphore(parallel)
        async with httpx.AsyncClient(timeout=10) as http:

            async def one(take: Take) -> Outcome:
                async with limit:
                    return await self._one(take, http)

            return list(await asyncio.gather(*(one(take) for take in takes)))

    async def _one(self, take: Take, http: httpx.AsyncClient) -> Outcome:
        self._calls += 1
        config = replace(self._config, from_number=f"+1512556{self._calls:04d}")
        outcome = Outcome(take)
        try:
            result: CallResult = await simulate_call(config, take.steps, http=http)
            stored = await self._stored.read(result.call_sid)
        except Exception as exc:  # one failed call is reported, the run goes on
            outcome.failure = f"{type(exc).__name__}: {exc}"
            return outcome
        spoken = [turn.text for turn in result.turns]
        outcome.errors, outcome.words = word_errors(" ".join(spoken), " ".join(stored.caller_lines))
        outcome.slots = slots_right(take.conversation.slots, stored.qualification)
        outcome.opted_out = stored.outcome == "opted_out"
        outcome.stages = stored.latencies
        outcome.replies = [turn.reply_latency for turn in result.turns if turn.reply_latency is not None]
        outcome.unanswered = sum(1 for turn in result.turns if turn.reply_latency is None)
        return outcome

    def close(self) -> None:
        self._stored.close()


STAGES = ("stt_final_ms", "dialog_first_token_ms", "tts_first_byte_ms", "first_audio_out_ms")


def latency_report(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Caller-seen reply latency, and the server's breakdown of it (from the endpoint on), p50/p95 in ms."""
    replies = [r for o in outcomes for r in o.replies]
    report: dict[str, Any] = {
        "reply_p50_ms": round((percentile(replies, 50) or 0) * 1000),
        "reply_p95_ms": round((percentile(replies, 95) or 0) * 1000),
        "reply_max_ms": round(max(replies, default=0) * 1000),
    }
    for stage in STAGES:
        values = [float(t[stage]) for o in outcomes for t in o.stages if t.get(stage) is not None]
        report[stage.removesuffix("_ms") + "_p50_p95_ms"] = [
            round(percentile(values, 50) or 0),
            round(percentile(values, 95) or 0),
        ]
    return report


def accuracy_report(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    done = [o for o in outcomes if o.failure is None]
    by_voice: dict[str, list[int]] = {}
    for o in done:
        for key in (o.take.voice, f"{o.take.voice}/{o.take.condition}"):
            errors_words = by_voice.setdefault(key, [0, 0])
            errors_words[0] += o.errors
            errors_words[1] += o.words
    slots = [right for o in done for right in o.slots.values()]
    missed: dict[str, int] = {}
    for o in done:
        for name, right in o.slots.items():
            if not right:
                missed[name] = missed.get(name, 0) + 1
    opt_outs = [o for o in done if o.take.conversation.opt_out]
    false_opt_outs = [o for o in done if o.opted_out and not o.take.conversation.opt_out]
    return {
        "calls": len(outcomes),
        "failed_calls": len(outcomes) - len(done),
        "failures": [o.failure for o in outcomes if o.failure][:5],
        "utterances": sum(len(o.take.conversation.lines) for o in done),
        "wer": {key: round(e / w, 3) if w else None for key, (e, w) in sorted(by_voice.items())},
        "wer_all": round(sum(o.errors for o in done) / max(1, sum(o.words for o in done)), 3),
        "slot_accuracy": round(sum(slots) / len(slots), 3) if slots else None,
        "slots_missed_by_name": dict(sorted(missed.items())),
        "opt_out_recall": round(sum(o.opted_out for o in opt_outs) / len(opt_outs), 3) if opt_outs else None,
        "false_opt_outs": len(false_opt_outs),
        "unanswered_turns": sum(o.unanswered for o in done),
    } | latency_report(done)


async def _run(env: dict[str, str], server_url: str, options: dict[str, Any]) -> dict[str, Any]:
    conversations = CONVERSATIONS[: options["conversations"]]
    voices = _voices(options["voices"])
    takes = await _takes(conversations, voices, snr_db=options["snr_db"])
    runner = Runner(env, server_url)
    report: dict[str, Any] = {}
    try:
        await runner.play(takes[:1], parallel=1)  # warm: the first call pays for lazily built caches
        if options["single"]:
            first_voice = voices[0]
            single = [t for t in takes if t.voice == first_voice and t.condition == "clean"]
            outcomes = await runner.play(single, parallel=1)
            report["one_call"] = {"voice": first_voice, "calls": len(outcomes)} | latency_report(outcomes)
        outcomes = await runner.play(takes, parallel=options["parallel"])
        report["corpus"] = accuracy_report(outcomes) | {"parallel_calls": options["parallel"]}
        ramp: dict[str, Any] = {}
        clean = [t for t in takes if t.condition == "clean" and not t.conversation.opt_out]
        for level in options["ramp"]:
            wave = [clean[i % len(clean)] for i in range(level)]
            results = await runner.play(wave, parallel=level)
            latency = latency_report(results)
            held = all(o.failure is None and o.unanswered == 0 for o in results)
            ramp[str(level)] = {"held": held and latency["reply_max_ms"] <= options["reply_limit"] * 1000} | latency
        report["concurrency"] = ramp
        report["concurrent_calls_held"] = max((int(k) for k, v in ramp.items() if v["held"]), default=0)
    finally:
        runner.close()
    return report


def _levels(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise click.BadParameter("expected comma-separated numbers of calls") from exc


@click.command()
@click.option("--conversations", default=len(CONVERSATIONS), show_default=True, help="how many of the corpus")
@click.option(
    "--voice",
    "voices",
    multiple=True,
    default=("espeak-us", "espeak-us-f3-slow", "espeak-gb-m3-fast", "piper-joe"),
    show_default=True,
)
@click.option("--snr-db", default=15.0, show_default=True, help="noisy takes' signal-to-noise ratio")
@click.option("--clean-only", is_flag=True, help="no noisy takes")
@click.option("--parallel", default=2, show_default=True, help="corpus calls played at once")
@click.option("--single/--no-single", default=True, help="first play the first voice's clean takes one at a time")
@click.option("--ramp", default="1,2,4,6", show_default=True, help="concurrent call counts to try")
@click.option("--reply-limit", default=1.5, show_default=True, help="seconds every reply must be within to hold")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def command(
    conversations: int,
    voices: tuple[str, ...],
    snr_db: float,
    clean_only: bool,
    parallel: int,
    single: bool,
    ramp: str,
    reply_limit: float,
    json_path: Path | None,
) -> None:
    """Scripted callers in several voices, clean and noisy, through the whole local call path."""
    options = {
        "conversations": conversations,
        "voices": voices,
        "snr_db": None if clean_only else snr_db,
        "parallel": parallel,
        "single": single,
        "ramp": _levels(ramp),
        "reply_limit": reply_limit,
    }
    with tempfile.TemporaryDirectory(prefix="seiketsu-bench-") as workdir:
        port = _free_port()
        env = server_env(database_url=f"sqlite:///{workdir}/bench.db", port=port, BENCH_LOCAL="1", HF_HUB_OFFLINE="1")
        _prepare(env, org_settings={"serviceAreas": list(SERVICE_AREAS)})
        process, server = _start_server(env, port)
        try:
            report = asyncio.run(_run(env, server.base_url, options))
        finally:
            process.terminate()
            process.wait(10)
    click.echo(json.dumps(report, indent=2))
    if json_path:
        json_path.write_text(json.dumps(report, indent=2))
