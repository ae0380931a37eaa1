"""The worker side of ``seiketsu bench campaign``: a real RQ worker (what ``seiketsu worker`` runs), whose dialer
reports each dial's planned and actual time and each tick's costs to a file, one JSON object a line.

Run by the benchmark as ``python -m telephony.campaigns.bench_worker``. ``BENCH_CLOCK_OFFSET`` (seconds) shifts
the dialer's and the gate's clock together, so the benchmark runs inside the calling windows whatever the hour;
``BENCH_STATS`` names the file.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime, timedelta
from typing import IO

from compliance.deps import EXTRAS_KEY as GATE_KEY
from compliance.permits import PermitAuthority
from compliance.rulebook import RuleBook
from compliance.service import ComplianceGate
from seiketsu.container import build_container
from seiketsu.db import utcnow
from seiketsu.jobs.rq_backend import RQDispatcher, RQWorker
from seiketsu.jobs.runner import JobRunner
from seiketsu.observability.logging import configure_logging
from seiketsu.settings import load_settings
from seiketsu.wiring import wire_packages
from telephony.outbound_runtime import outbound_runtime


class ShiftedClock:
    """Real time moved by a fixed offset: it runs at the real pace, so pacing and sleeps stay real."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return utcnow() + self.offset

    def __call__(self) -> datetime:
        return self.now()

    async def sleep_until(self, moment: datetime) -> None:
        delay = (moment - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class FileObserver:
    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def dialed(self, *, planned: datetime, actual: datetime) -> None:
        self._write({"planned": planned.timestamp(), "actual": actual.timestamp()})

    def tick(self, *, dials: int, gate_seconds: float, overhead_seconds: float) -> None:
        self._write({"dials": dials, "gate": gate_seconds, "overhead": overhead_seconds})

    def _write(self, record: dict[str, float]) -> None:
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()


def main() -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    container = build_container(settings)
    wire_packages(container)
    clock = ShiftedClock(timedelta(seconds=float(os.environ["BENCH_CLOCK_OFFSET"])))
    container.extras[GATE_KEY] = ComplianceGate(
        engine=container.engine,
        rulebook=RuleBook.load(),
        permits=PermitAuthority(settings.secret_key),
        clock=clock,
    )
    runtime = outbound_runtime(container)
    runtime.clock = clock
    dispatcher = container.jobs.dispatcher
    assert isinstance(dispatcher, RQDispatcher), "the benchmark runs RQ workers: set REDIS_URL"
    with open(os.environ["BENCH_STATS"], "a", encoding="utf-8") as handle:
        runtime.observer = FileObserver(handle)
        try:
            RQWorker(JobRunner(container, container.runner_config), dispatcher).work()
        finally:
            container.close()


if __name__ == "__main__":
    main()
