"""The Reassigned Numbers Database (47 CFR 64.1200(m)) as the gate sees it.

The gate asks, for each number whose consent it relies on, whether the number was disconnected since the consent
date; a disconnection after that date blocks. Querying is a paid subscription, so the implementation shipped is
disabled: it answers nothing, and the gate then claims no safe harbor (the rule is skipped, not passed).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Protocol

from compliance.facts import ReassignedNumberResult


class ReassignedNumbers(Protocol):
    """A source of Reassigned Numbers Database answers."""

    @property
    def enabled(self) -> bool:
        """False when the source never answers: the gate then skips gathering its queries."""
        ...

    def lookup(self, queries: Mapping[str, date]) -> Mapping[str, ReassignedNumberResult]:
        """For each E.164 number, whether it was disconnected since the given consent date.

        Numbers the source has no answer for are left out. May raise on failure; the gate then blocks the calls
        that asked (fail closed).
        """
        ...


class DisabledReassignedNumbers:
    """No subscription: answers nothing."""

    enabled = False

    def lookup(self, queries: Mapping[str, date]) -> Mapping[str, ReassignedNumberResult]:
        return {}


class StaticReassignedNumbers:
    """Fixed answers, for tests and for replaying a downloaded result file."""

    enabled = True

    def __init__(self, answers: Mapping[str, ReassignedNumberResult]) -> None:
        self._answers = dict(answers)

    def lookup(self, queries: Mapping[str, date]) -> Mapping[str, ReassignedNumberResult]:
        return {phone: self._answers[phone] for phone in queries if phone in self._answers}
