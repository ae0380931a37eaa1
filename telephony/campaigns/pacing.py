"""Pacing: when each dial of a campaign is planned, and when its next tick must run. Pure, clock injected.

A campaign dials at ``calls_per_minute``: one slot every ``60 / calls_per_minute`` seconds from a cursor kept in
the database (``Campaign.next_dial_at``). A tick claims the slots of one short window and hands them to the
process's dial dispatcher, which sleeps until each before dialing, so the dispatch follows the plan rather than
the moment a worker happened to pick the tick up.
The next tick is due ``lead`` before its first slot: late enough not to plan far ahead, early enough for a
delayed job to be dispatched (the job sweeper runs about once a second) and to ask the gate before the slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PacingConfig:
    window: timedelta = timedelta(seconds=1)
    """How far past its first slot one tick plans."""
    lead: timedelta = timedelta(seconds=2)
    """How early a tick runs before its first slot (covers the job sweeper's interval and the gate)."""
    capacity_poll: timedelta = timedelta(seconds=1)
    """How soon a campaign at its concurrency limit looks again."""
    idle_poll: timedelta = timedelta(seconds=5)
    """How soon a campaign with calls in progress and nothing due looks again."""
    claim_lease: timedelta = timedelta(minutes=10)
    """A claim or reservation older than this belongs to a tick that died; its lead is dialable again."""
    placement_retry: timedelta = timedelta(seconds=60)
    """After Twilio failed to take a call (a retryable error), before the lead is tried again."""
    max_placement_failures: int = 3
    stale_tick: timedelta = timedelta(minutes=2)
    """A running campaign whose last tick is older than this is started again by the next call outcome."""


def dial_interval(calls_per_minute: int) -> timedelta:
    return timedelta(seconds=60 / calls_per_minute)


def plan_slots(start: datetime, *, interval: timedelta, window: timedelta, closes_at: datetime) -> list[datetime]:
    """The dial slots of one tick: every ``interval`` from ``start``, within ``window`` and before closing."""
    end = min(start + window, closes_at)
    slots: list[datetime] = []
    moment = start
    while moment < end:
        slots.append(moment)
        moment += interval
    return slots


def tick_due(first_slot: datetime, *, now: datetime, lead: timedelta) -> datetime:
    """When the tick for ``first_slot`` should run: ``lead`` before it, and never in the past."""
    return max(now, first_slot - lead)
