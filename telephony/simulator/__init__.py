"""The call simulator: plays Twilio's part against a running server (the engine of ``seiketsu call``).

config = SimulatorConfig(server_url="http://127.0.0.1:8000", auth_token=..., from_number=..., to_number=...,
                         stream_base_url="ws://127.0.0.1:8000")
script = await script_from_lines(["Hi, I want to sell my condo"], EspeakNgVoice())
result = await simulate_call(config, script)
"""

from telephony.simulator.call import SimulatorConfig, StreamRejected, simulate_call
from telephony.simulator.playback import PlaybackBuffer, Played
from telephony.simulator.results import BargeIn, CallResult, TurnTiming
from telephony.simulator.script import (
    AwaitAgentAudio,
    AwaitReply,
    CallerVoice,
    Digits,
    Silence,
    Step,
    Utterance,
    script_from_lines,
    script_from_wav,
)
from telephony.simulator.voices import EspeakNgVoice, VoiceUnavailable
from telephony.simulator.webhook import SimulatorError, TwimlAnswer, WebhookRejected

__all__ = [
    "AwaitAgentAudio",
    "AwaitReply",
    "BargeIn",
    "CallResult",
    "CallerVoice",
    "Digits",
    "EspeakNgVoice",
    "PlaybackBuffer",
    "Played",
    "Silence",
    "SimulatorConfig",
    "SimulatorError",
    "Step",
    "StreamRejected",
    "TurnTiming",
    "TwimlAnswer",
    "Utterance",
    "VoiceUnavailable",
    "WebhookRejected",
    "script_from_lines",
    "script_from_wav",
    "simulate_call",
]
