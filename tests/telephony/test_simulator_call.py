import asyncio
import dataclasses
import socket
from typing import Any

import httpx
import numpy as np
import pytest

from telephony import audio, codec
from telephony.simulator import (
    AwaitAgentAudio,
    AwaitReply,
    Digits,
    Silence,
    SimulatorConfig,
    StreamRejected,
    Utterance,
    WebhookRejected,
    simulate_call,
)
from tests.telephony.media_server import (
    AUTH_TOKEN,
    KNOWN_NUMBER,
    PUBLIC_BASE_URL,
    STREAM_URL,
    Behaviour,
    ServerLog,
    serve,
)

CALLER = "+15125550123"


def spoken(seconds: float, *, lead: float = 0.1, tail: float = 0.1) -> Utterance:
    """A tone standing in for speech, with silence around it."""
    t = np.arange(int(seconds * 8000)) / 8000
    voice = np.round(6000 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes()
    return Utterance.from_pcm(silence(lead) + voice + silence(tail), "caller words")


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(seconds * 8000)


def config(port: int, **overrides: Any) -> SimulatorConfig:
    base = SimulatorConfig(
        server_url=f"http://127.0.0.1:{port}",
        public_base_url=PUBLIC_BASE_URL,
        stream_base_url=f"ws://127.0.0.1:{port}",
        auth_token=AUTH_TOKEN,
        from_number=CALLER,
        to_number=KNOWN_NUMBER,
        max_duration=30.0,
    )
    return dataclasses.replace(base, **overrides)


def level(pcm: bytes, start: float, end: float) -> int:
    """RMS of 8 kHz PCM16 between two times (seconds)."""
    return audio.rms(pcm[int(start * 8000) * 2 : int(end * 8000) * 2])


async def test_full_call_follows_twilio_protocol_and_times_playback(tmp_path):
    log = ServerLog()
    recording = tmp_path / "agent.wav"
    async with serve(Behaviour(greeting_seconds=1.0, reply_seconds=0.5), log) as port:
        result = await simulate_call(
            config(port, record_path=recording),
            [AwaitReply(settle=0.3), spoken(0.6), AwaitReply(settle=0.3), Digits("0", gap=0.1)],
        )

    # The webhook, as Twilio posts it, signed for the public URL; the upgrade signed too.
    (form,) = log.webhook_forms
    assert form["From"] == CALLER and form["To"] == KNOWN_NUMBER and form["Direction"] == "inbound"
    assert form["CallSid"] == result.call_sid and form["CallStatus"] == "ringing"
    assert log.ws_signature_ok == [True]
    assert result.answer.stream_url == STREAM_URL
    assert result.answer.parameters == {"callId": "call-1", "token": "tok"}

    # connected, start, media..., stop: in order, sequence numbers counting every message after connected.
    messages = [m for _, m in log.inbound]
    assert isinstance(messages[0], codec.Connected)
    start = messages[1]
    assert isinstance(start, codec.Start)
    assert start.call_sid == result.call_sid and start.stream_sid == result.stream_sid
    assert start.custom_parameters == {"callId": "call-1", "token": "tok"}
    assert start.media_format == codec.MediaFormat("audio/x-mulaw", 8000, 1)
    assert isinstance(messages[-1], codec.Stop) and messages[-1].call_sid == result.call_sid
    numbered = [m for m in messages[1:] if not isinstance(m, codec.Connected)]
    assert [m.sequence_number for m in numbered] == list(range(1, len(messages)))
    dtmfs = log.of(codec.Dtmf)
    assert [(d.digit, d.stream_sid, d.track) for d in dtmfs] == [("0", start.stream_sid, "inbound_track")]

    # Caller media: 160-byte frames at 50 per second, chunks from 1, timestamps 20 ms apart.
    media = [(t, m) for t, m in log.inbound if isinstance(m, codec.Media)]
    assert [m.chunk for _, m in media] == list(range(1, len(media) + 1))
    assert all(len(m.payload) == 160 and m.track == "inbound" for _, m in media)
    assert [m.timestamp for _, m in media] == [20 * c for c in range(1, len(media) + 1)]
    elapsed = media[-1][0] - media[0][0]
    assert abs(elapsed - 0.02 * (len(media) - 1)) < 0.1
    assert result.frames_sent == len(media)

    # Marks echoed only once their audio has played at 8000 bytes/s, not on arrival.
    greeting_wait = log.mark_echoes["greeting"] - log.marks_sent["greeting"]
    assert 0.98 <= greeting_wait <= 1.15
    reply_wait = log.mark_echoes["reply-1"] - log.marks_sent["reply-1"]
    assert 0.48 <= reply_wait <= 0.65
    assert result.marks_received == result.marks_echoed == 2
    assert result.clears == 0 and result.barge_ins == () and result.protocol_errors == 0

    # Timings: greeting sent at once; the reply after the server's 300 ms endpointing.
    assert result.greeting_latency is not None and result.greeting_latency < 0.2
    (turn,) = result.turns
    assert turn.reply_latency is not None and 0.28 <= turn.reply_latency <= 0.5
    assert result.ended_by == "caller"
    assert result.agent_audio_seconds == pytest.approx(1.5)

    # The recording is the line as played: greeting from the start, silence, then the reply.
    assert result.recording == recording
    pcm = audio.read_wav(recording)
    assert abs(len(pcm) / 16000 - result.duration) < 0.1
    assert level(pcm, 0.1, 0.9) > 3000
    assert level(pcm, 1.1, 1.3) == 0
    reply_at = turn.speech_end + turn.reply_latency
    assert level(pcm, reply_at + 0.05, reply_at + 0.45) > 3000
    assert level(pcm, reply_at + 0.55, reply_at + 0.7) == 0


async def test_barge_in_clear_flushes_playback_and_echoes_pending_marks(tmp_path):
    log = ServerLog()
    recording = tmp_path / "agent.wav"
    async with serve(Behaviour(greeting_seconds=3.0, greeting_chunks=5), log) as port:
        result = await simulate_call(
            config(port, record_path=recording),
            [AwaitAgentAudio(), Silence(0.5), spoken(0.5, lead=0.0), AwaitReply(settle=0.3)],
        )

    (cleared_at,) = log.clears
    # The greeting's mark comes back right after the clear, long before its 3 s of audio could have played.
    assert 0 <= log.mark_echoes["greeting"] - cleared_at < 0.1
    assert log.mark_echoes["greeting"] - log.marks_sent["greeting"] < 1.5
    assert result.clears == 1
    (barge_in,) = result.barge_ins
    assert barge_in.reaction is not None and 0 <= barge_in.reaction < 0.2
    assert 0.45 <= barge_in.onset <= 0.7

    # Nothing of the greeting plays after the clear.
    pcm = audio.read_wav(recording)
    cut = barge_in.onset + barge_in.reaction
    assert level(pcm, cut + 0.05, cut + 0.5) == 0
    assert level(pcm, 0.1, 0.4) > 3000


async def test_marks_sent_with_nothing_buffered_are_echoed_at_once():
    log = ServerLog()
    async with serve(Behaviour(greeting_seconds=0.0), log) as port:
        result = await simulate_call(config(port), [Silence(0.2)])
    assert log.mark_echoes["greeting"] - log.marks_sent["greeting"] < 0.05
    assert result.greeting_latency is None


async def test_unknown_number_gets_no_stream():
    log = ServerLog()
    async with serve(Behaviour(), log) as port:
        result = await simulate_call(config(port, to_number="+15125559999"), [spoken(0.2)])
    assert result.ended_by == "no_stream" and result.stream_sid is None
    assert result.answer.said == ("This number is not in service.",) and result.answer.hangs_up
    assert log.inbound == []


async def test_wrong_auth_token_is_rejected_by_the_server():
    log = ServerLog()
    async with serve(Behaviour(), log) as port:
        with pytest.raises(WebhookRejected) as info:
            await simulate_call(config(port, auth_token="wrong"), [])
    assert info.value.status == 403


async def test_server_hang_up_ends_the_call():
    log = ServerLog()
    async with serve(Behaviour(greeting_seconds=0.3, hang_up_after_greeting=True), log) as port:
        result = await simulate_call(config(port), [AwaitReply(timeout=5), spoken(1.0), AwaitReply()])
    assert result.ended_by == "agent"
    assert result.duration < 1.0
    assert not log.of(codec.Stop)


async def test_malformed_server_messages_are_skipped():
    log = ServerLog()
    async with serve(Behaviour(greeting_seconds=0.2, send_garbage=True), log) as port:
        result = await simulate_call(config(port), [AwaitReply(settle=0.2)])
    assert result.protocol_errors == 3
    assert result.marks_echoed == 1 and result.ended_by == "caller"


async def test_many_concurrent_calls_keep_real_time():
    log = ServerLog()
    async with serve(Behaviour(greeting_seconds=0.5, reply_seconds=0.3), log) as port:
        async with httpx.AsyncClient() as http:
            results = await asyncio.gather(
                *(
                    simulate_call(
                        config(port), [AwaitReply(settle=0.2), spoken(0.4), AwaitReply(settle=0.2)], http=http
                    )
                    for _ in range(20)
                )
            )
    assert len({r.call_sid for r in results}) == 20
    assert all(r.ended_by == "caller" and r.marks_echoed == 2 for r in results)
    assert all(r.turns[0].reply_latency is not None for r in results)
    assert max(r.max_send_lag for r in results) < 0.1


async def test_max_duration_hangs_up_with_stop():
    log = ServerLog()
    async with serve(Behaviour(greeting_seconds=3.0), log) as port:
        result = await simulate_call(config(port, max_duration=0.5), [AwaitReply(timeout=10)])
    assert result.ended_by == "timeout"
    assert 0.45 <= result.duration < 0.7
    (stop,) = log.of(codec.Stop)
    assert stop.call_sid == result.call_sid


async def test_unreachable_stream_raises_stream_rejected():
    log = ServerLog()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    async with serve(Behaviour(), log) as port:
        with pytest.raises(StreamRejected):
            await simulate_call(config(port, stream_base_url=f"ws://127.0.0.1:{dead_port}"), [])
