"""The gate's answer: every rule's verdict, and whether the call or text may go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Verdict(StrEnum):
    PASS = "pass"
    BLOCK = "block"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Check:
    """One rule's verdict on one question."""

    rule: str
    result: Verdict
    citation: str
    detail: str
    version: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed exactly when at least one rule was checked and none blocks."""

    checks: tuple[Check, ...]
    next_allowed_at: datetime | None
    """When only time (calling windows, frequency caps) blocks: the earliest UTC moment every rule allows."""
    rulebook_version: str

    @property
    def allowed(self) -> bool:
        return bool(self.checks) and all(c.result is not Verdict.BLOCK for c in self.checks)

    @property
    def blocking(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.result is Verdict.BLOCK)

    @property
    def rule_versions(self) -> dict[str, str]:
        """Rule id -> version of every rule consulted, for the audit log."""
        return {c.rule: c.version for c in self.checks}
