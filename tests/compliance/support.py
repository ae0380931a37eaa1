"""Helpers for the database-backed compliance tests: a gate on a fixed clock, ledger entries through the API,
registry copies through the importer, and reading answers of POST /api/v1/compliance/check."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from compliance.consent import ConsentKind
from compliance.deps import EXTRAS_KEY
from compliance.imports import ImportResult, ImportSpec, RegistryImporter
from compliance.ledger import Evidence, GrantSource, record_grant
from compliance.permits import PermitAuthority
from compliance.reassigned import ReassignedNumbers
from compliance.registry_files import ListKind
from compliance.rulebook import RuleBook
from compliance.service import ComplianceGate
from compliance.vocabulary import ConsentChannel, Purpose
from seiketsu.container import Container
from seiketsu.tenancy.scoping import tenant_session

# Tuesday 10 June 2025, 15:00 UTC: 11:00 in New York, 10:00 in Chicago, 08:00 in Los Angeles.
NOW = datetime(2025, 6, 10, 15, 0, tzinfo=UTC)
FRESH_COPY = NOW.date() - timedelta(days=5)
CONSENT_AT = NOW - timedelta(days=180)
NY_PHONE = "+12125550134"


class FixedClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def install_gate(
    container: Container, *, clock: FixedClock | None = None, reassigned: ReassignedNumbers | None = None
) -> ComplianceGate:
    """Replace the wired gate with one on a fixed clock (the real rule book, sessions and secret key)."""
    gate = ComplianceGate(
        engine=container.engine,
        rulebook=RuleBook.load(),
        permits=PermitAuthority(container.settings.secret_key),
        reassigned=reassigned,
        clock=clock or FixedClock(),
    )
    container.extras[EXTRAS_KEY] = gate
    return gate


def grant(
    client: TestClient,
    headers: dict[str, str],
    phone: str = NY_PHONE,
    *,
    kind: str = "prior_express_written",
    channels: Iterable[str] = ("artificial_voice_call", "live_call", "sms"),
    purposes: Iterable[str] = ("marketing", "informational"),
    at: datetime = CONSENT_AT,
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/consents",
        headers=headers,
        json={
            "phone": phone,
            "kind": kind,
            "channels": list(channels),
            "purposes": list(purposes),
            "source": "web_form",
            "grantedAt": at.isoformat(),
            "formUrl": "https://brokerage.example/contact",
            "textShown": "I agree to receive calls and texts, including by artificial voice, at this number.",
            "ipAddress": "203.0.113.7",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def record_consent(container: Container, organization_id: uuid.UUID, phone: str = NY_PHONE) -> None:
    """Written consent to every channel and purpose, as the API records it, without the web app."""
    with tenant_session(container.sessions, organization_id) as session:
        record_grant(
            session, phone=phone, kind=ConsentKind.WRITTEN, channels=tuple(ConsentChannel), purposes=tuple(Purpose),
            source=GrantSource.WEB_FORM, granted_at=CONSENT_AT,
            evidence=Evidence(form_url="https://brokerage.example/contact", text_shown="I agree"), recorded_by="test",
        )  # fmt: skip
        session.commit()


def registry_copy(
    container: Container,
    organization_id: uuid.UUID,
    *,
    numbers: Iterable[str] = (),
    area_codes: Iterable[str] = ("212",),
    list_name: str = "national",
    as_of: date = FRESH_COPY,
    kind: ListKind = ListKind.FULL,
) -> ImportResult:
    """Import a registry file of ``numbers`` (ten digits or AAA,NNNNNNN lines) covering ``area_codes``."""
    content = "".join(f"{n}\n" for n in numbers).encode()
    spec = ImportSpec(
        organization_id=organization_id,
        list_name=list_name,
        kind=kind,
        as_of=as_of,
        declared_area_codes=frozenset(area_codes),
    )
    return RegistryImporter(container.engine).run(spec, io.BytesIO(content), name="test.txt")


def check(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {"phone": NY_PHONE, "channel": "voice", "voice": "artificial", "purpose": "marketing", **body}
    payload = {key: value for key, value in payload.items() if value is not None}
    response = client.post("/api/v1/compliance/check", headers=headers, json=payload)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def verdicts(answer: dict[str, Any]) -> dict[str, str]:
    return {item["rule"]: item["result"] for item in answer["checks"]}


def blocking(answer: dict[str, Any]) -> set[str]:
    return {item["rule"] for item in answer["checks"] if item["result"] == "block"}
