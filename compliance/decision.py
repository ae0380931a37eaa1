"""The gate's answer: every rule's verdict, and whether the call or text may go."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    allowed: bool = field(init=False, compare=False)
    """Derived from ``checks`` once (a batch shares decisions and asks each many times)."""

    def __post_init__(self) -> None:
        allowed = bool(self.checks) and all(c.result is not Verdict.BLOCK for c in self.checks)
        object.__setattr__(self, "allowed", allowed)

    @property
    def blocking(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.result is Verdict.BLOCK)

    @property
    def rule_versions(self) -> dict[str, str]:
        """Rule id -> version of every rule consulted, for the audit log."""
        return {c.rule: c.version for c in self.checks}
