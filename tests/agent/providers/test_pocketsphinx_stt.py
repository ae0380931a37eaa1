"""The local recognizer, on real speech: the local voice's audio through the telephone format."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import pytest

from agent.audio import audioop
from agent.interfaces import ProviderError, Transcript
from agent.providers.piper_tts import PiperTTS
from agent.providers.pocketsphinx_stt import PocketsphinxSTT

FRAME = 320  # 20 ms of PCM16 at 8 kHz, as the transport delivers it
# Chosen for what the wideband model hears reliably through 8 kHz mu-law, even on a fresh decoder: "sell"
# and "talk" lose their sibilants or endings on the phone band and come out as "show" or "talked" now and then.
RENT, RENT_WORDS = "We want to rent an apartment in Chicago.", {"apartment", "chicago"}
BUDGET, BUDGET_WORDS = "My budget is about five hundred thousand dollars.", {"budget", "thousand", "dollars"}


async def caller_pcm(tts: PiperTTS, text: str) -> bytes:
    """What the agent receives when a caller says ``text``: mu-law 8 kHz off the phone, decoded to PCM16."""
    ulaw = b"".join([chunk async for chunk in tts.synthesize(text)])
    return audioop.ulaw2lin(ulaw, 2)


async def recognize(stt: PocketsphinxSTT, pcm: bytes) -> tuple[str, list[Transcript]]:
    stream = stt.start(language="en-US")
    partials: list[Transcript] = []

    async def collect() -> None:
        async for partial in stream.partials():
            partials.append(partial)

    collector = asyncio.create_task(collect())
    for start in range(0, len(pcm), FRAME):
        stream.feed(pcm[start : start + FRAME])
        await asyncio.sleep(0)
    text = await stream.finish()
    await collector
    return text, partials


def decoder_pids() -> set[int]:
    """This process's pocketsphinx decoder children, found through /proc."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"agent.providers.sphinx_process" in cmdline:
            pids.add(int(proc.name))
    return pids


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


async def test_spoken_sentence_round_trips_through_the_phone_format(
    piper_tts: PiperTTS, sphinx_stt: PocketsphinxSTT
):
    text, partials = await recognize(sphinx_stt, await caller_pcm(piper_tts, RENT))
    assert RENT_WORDS <= words(text)
    assert partials and all(not partial.is_final for partial in partials)

    text, _ = await recognize(sphinx_stt, await caller_pcm(piper_tts, BUDGET))
    assert BUDGET_WORDS <= words(text)


async def test_silence_gives_an_empty_transcript(sphinx_stt: PocketsphinxSTT):
    text, partials = await recognize(sphinx_stt, b"\x00\x00" * 8000)

    assert text == ""
    assert partials == []


async def test_second_utterance_waits_for_the_only_decoder(piper_tts: PiperTTS, sphinx_stt: PocketsphinxSTT):
    pcm = await caller_pcm(piper_tts, BUDGET)

    first, second = await asyncio.gather(recognize(sphinx_stt, pcm), recognize(sphinx_stt, pcm))

    assert BUDGET_WORDS <= words(first[0]) and BUDGET_WORDS <= words(second[0])


async def test_abandoned_utterance_frees_its_decoder(piper_tts: PiperTTS, sphinx_stt: PocketsphinxSTT):
    pcm = await caller_pcm(piper_tts, BUDGET)
    abandoned = sphinx_stt.start(language="en-US")
    abandoned.feed(pcm[: len(pcm) // 2])
    await asyncio.sleep(0.2)
    await abandoned.aclose()
    await abandoned.aclose()

    assert await abandoned.finish() == ""
    text, _ = await recognize(sphinx_stt, pcm)  # the only decoder was given back, and reset
    assert BUDGET_WORDS <= words(text)


async def test_a_dead_decoder_process_fails_the_utterance_and_is_replaced(piper_tts: PiperTTS):
    stt = PocketsphinxSTT(warm_decoders=1, max_decoders=1)
    others = decoder_pids()
    await stt.warm_up()
    (own,) = decoder_pids() - others
    pcm = await caller_pcm(piper_tts, BUDGET)
    try:
        stream = stt.start(language="en-US")
        stream.feed(pcm[:3200])
        await asyncio.sleep(0.2)
        os.kill(own, signal.SIGKILL)
        stream.feed(pcm[3200:])
        with pytest.raises(ProviderError, match="gone"):
            await stream.finish()

        text, _ = await recognize(stt, pcm)  # on a new process
        assert BUDGET_WORDS <= words(text)
    finally:
        await stt.aclose()


async def test_decoding_does_not_stall_the_event_loop(piper_tts: PiperTTS, sphinx_stt: PocketsphinxSTT):
    # pocketsphinx holds the GIL while it decodes: in a thread it would freeze every call on this loop.
    pcm = await caller_pcm(piper_tts, f"{BUDGET} {RENT}")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    loop = asyncio.get_running_loop()
    started = loop.time()
    stream = sphinx_stt.start(language="en-US")
    stream.feed(pcm)  # all at once: the whole utterance is decoded while the loop goes on
    text = await stream.finish()
    elapsed = loop.time() - started
    ticker.cancel()

    assert BUDGET_WORDS <= words(text)
    assert elapsed > 0.2 and ticks >= 0.3 * elapsed / 0.01
