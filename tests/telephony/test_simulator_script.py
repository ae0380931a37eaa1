import math
import struct

import pytest

from telephony import audio
from telephony.simulator import AwaitReply, EspeakNgVoice, Silence, Utterance, script_from_lines, script_from_wav
from telephony.simulator.webhook import SimulatorError, parse_twiml_answer, rewrite_stream_url


def pcm_tone(seconds: float) -> bytes:
    n = int(seconds * 8000)
    return struct.pack(f"<{n}h", *(int(6000 * math.sin(2 * math.pi * 300 * i / 8000)) for i in range(n)))


def test_utterance_locates_speech_inside_silence():
    pcm = b"\x00\x00" * 2400 + pcm_tone(0.5) + b"\x00\x00" * 1600
    utterance = Utterance.from_pcm(pcm, "hello")
    assert utterance.speech_start == pytest.approx(0.3)
    assert utterance.speech_end == pytest.approx(0.8)
    assert utterance.duration == pytest.approx(1.0)
    assert utterance.ulaw == audio.pcm16_to_ulaw(pcm)


def test_silent_utterance_spans_everything():
    utterance = Utterance.from_pcm(b"\x00\x00" * 800)
    assert (utterance.speech_start, utterance.speech_end) == (0.0, 0.1)


class FakeVoice:
    def __init__(self) -> None:
        self.lines: list[str] = []

    async def synthesize(self, text: str) -> bytes:
        self.lines.append(text)
        return pcm_tone(0.1)


async def test_script_from_lines_waits_for_each_reply():
    voice = FakeVoice()
    steps = await script_from_lines(["Hi there", "", "I want to sell"], voice, reply_timeout=5, settle=0.4)
    assert voice.lines == ["Hi there", "I want to sell"]
    assert [type(s) for s in steps] == [AwaitReply, Utterance, AwaitReply, Utterance, AwaitReply]
    assert steps[0] == AwaitReply(timeout=5, settle=0.4)
    assert isinstance(steps[1], Utterance) and steps[1].text == "Hi there"


async def test_script_from_lines_without_waiting_pauses():
    steps = await script_from_lines(["a", "b"], FakeVoice(), wait_for_reply=False, pause=0.7)
    assert [type(s) for s in steps] == [Utterance, Silence, Utterance, Silence]
    assert steps[1] == Silence(0.7)


def test_script_from_wav(tmp_path):
    path = tmp_path / "caller.wav"
    audio.write_wav(path, audio.resample(pcm_tone(0.4), 8000, 16000), sample_rate=16000)
    steps = script_from_wav(path)
    assert [type(s) for s in steps] == [AwaitReply, Utterance, AwaitReply]
    assert isinstance(steps[1], Utterance) and steps[1].duration == pytest.approx(0.4, abs=0.01)


@pytest.mark.skipif(not EspeakNgVoice.available(), reason="espeak-ng is not installed (apt-get install espeak-ng)")
async def test_espeak_ng_voice_speaks_8k_pcm():
    voice = EspeakNgVoice()
    pcm = await voice.synthesize("-v Hello, I would like to sell my condo in Austin.")
    seconds = len(pcm) / 16000
    assert 1.5 < seconds < 8
    utterance = Utterance.from_pcm(pcm)
    assert utterance.speech_end - utterance.speech_start > 1.0
    assert audio.rms(pcm) > 300


def test_parse_twiml_answer():
    answer = parse_twiml_answer(
        '<?xml version="1.0"?><Response><Connect><Stream url="wss://h/twilio/media">'
        '<Parameter name="callId" value="7"/><Parameter name="token" value="x.y"/></Stream></Connect></Response>'
    )
    assert answer.stream_url == "wss://h/twilio/media"
    assert answer.parameters == {"callId": "7", "token": "x.y"}
    answer = parse_twiml_answer("<Response><Say>Busy</Say><Hangup/></Response>")
    assert answer.stream_url is None and answer.said == ("Busy",) and answer.hangs_up
    for bad in ("not xml", "<Html/>", "<Response><Connect><Stream/></Connect></Response>"):
        with pytest.raises(SimulatorError):
            parse_twiml_answer(bad)


def test_rewrite_stream_url():
    assert rewrite_stream_url("wss://public.example/twilio/media", None) == "wss://public.example/twilio/media"
    assert (
        rewrite_stream_url("wss://public.example/twilio/media", "ws://127.0.0.1:8000")
        == "ws://127.0.0.1:8000/twilio/media"
    )
    assert (
        rewrite_stream_url("wss://p.example/twilio/media", "ws://127.0.0.1:8000/base/")
        == "ws://127.0.0.1:8000/base/twilio/media"
    )
