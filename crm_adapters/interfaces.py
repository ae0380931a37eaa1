"""The seam between call-outcome delivery and the CRMs: one interface, one adapter per vendor."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from crm_adapters.values import Appointment, CallLog, Contact, ContactMatch, FollowUpTask


class CRMAdapter(Protocol):
    """One brokerage's account in one CRM.

    Every method raises :class:`crm_adapters.errors.RetryableCRMError` when trying again later may
    succeed and :class:`crm_adapters.errors.PermanentCRMError` when it cannot. Ids are the CRM's own,
    as strings. Every record carries our id for it: in an external id field where the CRM has one (an
    upsert then absorbs a repeat), else as a marker the CRM lets us search or list by (a subject suffix,
    our call id in the note).

    ``recheck_since`` is set when an earlier attempt at the same record may have written it without its
    answer arriving (a timeout, a 5xx, a dropped connection, a worker that died): the adapter must then look
    for the record by its marker, among what was written since that moment, before creating it again.
    """

    crm_type: str
    """The factory key of this CRM (``hubspot``, ``salesforce``, ...)."""

    async def find_contact(self, *, phone: str | None = None, email: str | None = None) -> ContactMatch | None:
        """The first lead or contact matching the email, else the phone (E.164); ``None`` if neither does.

        At least one of the two is required.
        """

    async def upsert_contact(self, contact: Contact, *, recheck_since: datetime | None = None) -> str:
        """Create the lead or update the matching one; returns its id."""

    async def log_call(self, call: CallLog, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        """Record the finished call against the contact; returns the call record's id.

        A call whose ``call_id`` the CRM already holds (where it can tell) returns the existing record.
        """

    async def create_task(self, task: FollowUpTask, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        """Create a follow-up task for the contact's owner; returns its id."""

    async def create_appointment(
        self, appointment: Appointment, *, contact_id: str, recheck_since: datetime | None = None
    ) -> str:
        """Put a meeting with the contact on the CRM's calendar; returns its id."""

    async def test_connection(self) -> None:
        """Check credentials and access with one cheap read; raises a ``CRMError`` saying what is wrong."""
