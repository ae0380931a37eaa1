from __future__ import annotations

import asyncio

import pytest

from agent.fakes import FakeTextToSpeech
from agent.greeting import GreetingCache, PhraseKey
from agent.interfaces import ProviderError


def key(org: str = "org-1", voice: str = "fake/tone", text: str = "Hello") -> PhraseKey:
    return PhraseKey(organization_id=org, voice=voice, text=text)


def test_least_recently_used_entries_go_first() -> None:
    cache = GreetingCache(max_entries=2)
    cache.put(key(text="a"), b"1")
    cache.put(key(text="b"), b"2")
    assert cache.get(key(text="a")) == b"1"  # a is now the most recent
    cache.put(key(text="c"), b"3")
    assert cache.get(key(text="b")) is None
    assert cache.get(key(text="a")) == b"1" and cache.get(key(text="c")) == b"3"
    assert len(cache) == 2


def test_bounded_by_bytes() -> None:
    cache = GreetingCache(max_bytes=10)
    cache.put(key(text="a"), b"x" * 6)
    cache.put(key(text="b"), b"y" * 6)
    assert cache.get(key(text="a")) is None
    assert cache.total_bytes == 6
    cache.put(key(text="c"), b"z" * 11)  # larger than the whole cache: not kept
    assert cache.get(key(text="c")) is None


def test_keys_separate_organizations_and_voices() -> None:
    cache = GreetingCache()
    cache.put(key(org="a"), b"1")
    assert cache.get(key(org="b")) is None
    assert cache.get(key(voice="fake/other")) is None


async def test_synthesize_once_and_share_concurrent_misses() -> None:
    tts = FakeTextToSpeech(first_byte_latency_s=0.02, ms_per_char=10)
    cache = GreetingCache()
    first, second = await asyncio.gather(
        cache.synthesize(organization_id="org", tts=tts, text="Welcome"),
        cache.synthesize(organization_id="org", tts=tts, text="Welcome"),
    )
    assert first == second and len(first) == tts.audio_ms("Welcome") * 8
    assert tts.texts == ["Welcome"]
    assert await cache.synthesize(organization_id="org", tts=tts, text="Welcome") == first
    assert tts.texts == ["Welcome"]


async def test_a_failed_synthesis_is_not_cached_and_warm_skips_it() -> None:
    tts = FakeTextToSpeech(fail_calls={1})
    cache = GreetingCache()
    with pytest.raises(ProviderError):
        await cache.synthesize(organization_id="org", tts=tts, text="Hi")
    assert len(cache) == 0
    failing = FakeTextToSpeech(fail_calls={1})
    assert await cache.warm(organization_id="org", tts=failing, texts=["Hi", "Bye"]) == 1
    assert cache.get(PhraseKey.for_voice(organization_id="org", tts=failing, text="Bye")) is not None
