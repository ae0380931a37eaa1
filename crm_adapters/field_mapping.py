"""Per-integration translation of our field names and call outcomes into a CRM's own.

Each adapter declares which of our fields it can map and a default mapping that works on a stock account
of that CRM. The brokerage's integration supplies overrides: ``{"budget": "ai_budget"}`` writes the
budget to a custom property, ``{"phone": "mobilephone"}`` moves the phone, ``{"lead_source": None}``
stops writing a field. Qualification answers that are not mapped still reach the CRM, in the call's notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from crm_adapters.errors import CRMConfigError
from crm_adapters.values import CallOutcome

IDENTITY_FIELDS = frozenset({"first_name", "last_name", "email", "phone", "lead_source"})
"""Our contact fields that every CRM has a standard place for."""

QUALIFICATION_FIELDS = frozenset({"intent", "location", "timeline", "budget", "financing"})
"""Our qualification answers; they need custom fields in the CRM."""

LEAD_ID_FIELD = "lead_id"
"""Our lead id; mapped to a unique (external id) field, the CRM can upsert by it."""

CALL_ID_FIELD = "call_id"
"""Our call id; mapped to a field on the CRM's call record, a retried call log can be found by it."""

TASK_ID_FIELD = "task_id"
"""Our follow-up task id; mapped to a unique field on the CRM's task, a retried task is upserted by it."""

APPOINTMENT_ID_FIELD = "appointment_id"
"""Our appointment id; mapped to a unique field on the CRM's meeting, a retried meeting is upserted by it."""

V = TypeVar("V")


def _merge(
    *,
    vendor: str,
    what: str,
    defaults: Mapping[str, str],
    allowed: frozenset[str],
    overrides: Mapping[str, str | None] | None,
) -> dict[str, str]:
    overrides = overrides or {}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise CRMConfigError(
            f"cannot map {what} {', '.join(unknown)}; known: {', '.join(sorted(allowed))}",
            vendor=vendor,
        )
    merged = dict(defaults)
    for ours, theirs in overrides.items():
        name = (theirs or "").strip()
        if name:
            merged[ours] = name
        else:
            merged.pop(ours, None)
    return merged


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Our field name -> the CRM's field name; a field absent here is not written as a field."""

    fields: Mapping[str, str]

    @classmethod
    def build(
        cls,
        *,
        vendor: str,
        defaults: Mapping[str, str],
        mappable: frozenset[str],
        overrides: Mapping[str, str | None] | None,
    ) -> FieldMapping:
        """Defaults with the integration's overrides applied; unknown field names fail loudly."""
        merged = _merge(vendor=vendor, what="fields", defaults=defaults, allowed=mappable, overrides=overrides)
        return cls(MappingProxyType(merged))

    def crm_field(self, ours: str) -> str | None:
        return self.fields.get(ours)

    def apply(self, values: Mapping[str, V]) -> dict[str, V]:
        """Rename the mapped values to the CRM's field names and drop the rest."""
        return {self.fields[ours]: value for ours, value in values.items() if ours in self.fields}


def outcome_values(
    *,
    vendor: str,
    defaults: Mapping[CallOutcome, str],
    overrides: Mapping[str, str | None] | None,
) -> Mapping[CallOutcome, str]:
    """Our call outcomes -> the CRM's disposition values (picklist entries, ids); unmapped ones are omitted."""
    merged = _merge(
        vendor=vendor,
        what="outcomes",
        defaults={outcome.value: value for outcome, value in defaults.items()},
        allowed=frozenset(outcome.value for outcome in CallOutcome),
        overrides=overrides,
    )
    return MappingProxyType({CallOutcome(outcome): value for outcome, value in merged.items()})
