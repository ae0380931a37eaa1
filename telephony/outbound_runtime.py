"""What the dialer and the text sender share in a process: their clock, the pacing settings, and the observer of
dispatch timing (Prometheus metrics in production; a recorder in the benchmark)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import httpx
from prometheus_client import CollectorRegistry, Histogram

from seiketsu.container import Container
from telephony.campaigns.dispatch import DialDispatcher
from telephony.campaigns.pacing import PacingConfig
from telephony.clock import Clock, SystemClock

EXTRAS_KEY = "telephony.outbound"


class DialObserver(Protocol):
    """Told about every campaign dial and tick."""

    def dialed(self, *, planned: datetime, actual: datetime) -> None:
        """A dial left for Twilio at ``actual``; the pacing had planned it for ``planned``."""

    def tick(self, *, dials: int, gate_seconds: float, overhead_seconds: float) -> None:
        """A tick placed ``dials`` calls; it spent ``gate_seconds`` asking the gate and ``overhead_seconds`` on its
        own work (claims, reservations, records), sleeping and Twilio's answers excluded."""


class DialMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.dispatch_lag = Histogram(
            "seiketsu_campaign_dispatch_lag_seconds",
            "Campaign dials: actual minus planned dispatch time",
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.gate = Histogram(
            "seiketsu_campaign_gate_seconds_per_dial",
            "Campaign ticks: time asking the compliance gate, per call considered",
            registry=registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
        )
        self.overhead = Histogram(
            "seiketsu_campaign_overhead_seconds_per_dial",
            "Campaign ticks: the dialer's own work per dial (claims, reservations, records)",
            registry=registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
        )

    def dialed(self, *, planned: datetime, actual: datetime) -> None:
        self.dispatch_lag.observe(max(0.0, (actual - planned).total_seconds()))

    def tick(self, *, dials: int, gate_seconds: float, overhead_seconds: float) -> None:
        if dials:
            self.gate.observe(gate_seconds / dials)
            self.overhead.observe(overhead_seconds / dials)


@dataclass
class OutboundRuntime:
    clock: Clock = field(default_factory=SystemClock)
    pacing: PacingConfig = field(default_factory=PacingConfig)
    observer: DialObserver | None = None
    dispatcher: DialDispatcher = field(default_factory=DialDispatcher)
    """Places the calls each tick reserves, at their slots, off the tick's job."""
    tls: ssl.SSLContext = field(default_factory=httpx.create_ssl_context)
    """The TLS context of the jobs' Twilio clients (see ``telephony.rest_clients``)."""


def outbound_runtime(container: Container) -> OutboundRuntime:
    runtime = container.extras.get(EXTRAS_KEY)
    if not isinstance(runtime, OutboundRuntime):
        raise RuntimeError("the telephony package is not wired into this container")
    return runtime
