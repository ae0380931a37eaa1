"""Prometheus metrics of calls, registered on the app's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agent.records import CallResult

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
_LAG_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
_GREETING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5)
_STAGES = (
    "endpointing_ms",
    "stt_final_ms",
    "dialog_first_token_ms",
    "tts_first_byte_ms",
    "first_audio_out_ms",
    "overhead_ms",
)


class CallMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.live_calls = Gauge("seiketsu_live_calls", "Media streams open in this process", registry=registry)
        self.calls = Counter(
            "seiketsu_calls_total", "Calls that reached the agent, by outcome", ["outcome"], registry=registry
        )
        self.frames = Counter("seiketsu_media_frames_total", "Caller audio messages received", registry=registry)
        self.skipped = Counter(
            "seiketsu_media_messages_skipped_total", "Malformed or out-of-order messages skipped", registry=registry
        )
        self.frame_lag = Histogram(
            "seiketsu_media_frame_lag_seconds",
            "How late a caller audio message is handled, against its media timestamp",
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.greeting = Histogram(
            "seiketsu_greeting_latency_seconds",
            "From the stream's start message to the greeting's first audio message sent",
            buckets=_GREETING_BUCKETS,
            registry=registry,
        )
        self.turn_latency = Histogram(
            "seiketsu_turn_latency_seconds",
            "Per-turn latency by stage",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )

    def observe_call(self, result: CallResult) -> None:
        self.calls.labels(result.outcome).inc()
        for turn in result.turns:
            values = turn.as_dict()
            for stage in _STAGES:
                value = values.get(stage)
                if value is not None:
                    self.turn_latency.labels(stage.removesuffix("_ms")).observe(max(0.0, value) / 1000)
