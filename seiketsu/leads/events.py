"""Lead events (``lead.created``, ``lead.qualified``, ``appointment.booked``): self-contained snapshots, so that
their subscribers (the brokerage's webhooks) need nothing else to read."""

from __future__ import annotations

from typing import Any

from seiketsu.leads.models import Appointment, Lead
from seiketsu.schemas import camel_keys

LEAD_CREATED = "lead.created"
LEAD_QUALIFIED = "lead.qualified"
APPOINTMENT_BOOKED = "appointment.booked"


def lead_payload(lead: Lead) -> dict[str, Any]:
    return {
        "leadId": str(lead.id),
        "firstName": lead.first_name,
        "lastName": lead.last_name,
        "email": lead.email,
        "phone": lead.phone,
        "source": lead.source,
        "status": str(lead.status),
        "qualification": camel_keys(lead.qualification),
        "createdAt": lead.created_at.isoformat(),
    }


def appointment_payload(appointment: Appointment) -> dict[str, Any]:
    return {
        "appointmentId": str(appointment.id),
        "leadId": str(appointment.lead_id),
        "callId": str(appointment.call_id) if appointment.call_id else None,
        "startsAt": appointment.starts_at.isoformat(),
        "timezone": appointment.timezone,
        "notes": appointment.notes,
        "status": str(appointment.status),
    }
