"""The outbound side's time (pacing, retries, text deadlines): real in production, simulated in tests.

Tests give the compliance gate and this clock the same simulated time, so that calling windows, permits and
pacing agree without waiting for real minutes.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Protocol

from seiketsu.db import utcnow


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, moment: datetime) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    async def sleep_until(self, moment: datetime) -> None:
        delay = (moment - utcnow()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
