"""The compliance gate as a service: gather facts, decide, record, and issue permits.

``ComplianceGate`` is the one place that answers "may this call or text go?". Every answer is written to the
audit log before it is returned; when the facts cannot be read the answer is a block (still recorded), and when
the answer cannot be recorded the gate raises ``GateUnavailable`` and nothing may be dialed. Permits to dial or
text (``DialPermit``) come from ``permit()`` (one call or text, now) and ``check_many(..., issue_permits=True)``
(a campaign batch); they are the only thing the dialer and the SMS sender accept.

Decisions read committed data and are recorded in the gate's own transaction, so a permit's decision is durable
before the permit exists. Plain ``check`` answers are advice: only decisions that issued a permit count as
attempts for the frequency caps.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RootTransaction
from sqlalchemy.orm import Session

from compliance.audit import RecordedCheckSets, Requester, decision_row, record_rulebook, write_decisions
from compliance.decision import Decision, Verdict
from compliance.errors import ComplianceError
from compliance.fact_store import CheckRequest, FactGatherer, Gathered, normalise_phone
from compliance.gate import evaluate
from compliance.permits import DialPermit, PermitAuthority
from compliance.phones import mask_phone
from compliance.reassigned import DisabledReassignedNumbers, ReassignedNumbers
from compliance.rulebook import RuleBook
from compliance.rules import FederalRule
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.db import utcnow
from seiketsu.tenancy.scoping import tenant_of

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 2000
# A permit is for a call or text about to be made: a question about a later moment gets an answer, not a permit.
PERMIT_HORIZON = timedelta(seconds=60)


class GateUnavailable(ComplianceError):
    """The gate could not record its decision; nothing may be dialed or sent."""


@dataclass(frozen=True, slots=True)
class GateResult:
    decision_id: uuid.UUID
    decision: Decision
    permit: DialPermit | None = None

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


class ComplianceGate:
    """Decides, records every decision, and issues the permits the dialer and the SMS sender require."""

    def __init__(
        self,
        *,
        engine: Engine,
        rulebook: RuleBook,
        permits: PermitAuthority,
        reassigned: ReassignedNumbers | None = None,
        clock: Callable[[], datetime] = utcnow,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        self._engine = engine
        self.rulebook = rulebook
        self._permits = permits
        self._gatherer = FactGatherer(rulebook=rulebook, reassigned=reassigned or DisabledReassignedNumbers())
        self._clock = clock
        self._chunk_size = chunk_size
        self._rulebook_recorded = False
        self._recorded_sets = RecordedCheckSets()
        self._lock = threading.Lock()

    def check(self, organization_id: uuid.UUID, request: CheckRequest, *, requester: Requester) -> GateResult:
        """Decide one question and record the decision (no permit). Raises GateUnavailable."""
        return self._decide(organization_id, [request], requester=requester, issue_permits=False)[0]

    def check_many(
        self,
        organization_id: uuid.UUID,
        requests: Sequence[CheckRequest],
        *,
        requester: Requester,
        issue_permits: bool = False,
    ) -> list[GateResult]:
        """Decide many questions with a few queries per chunk and one audit insert per chunk, in order. On
        PostgreSQL each chunk is read while the one before it is judged and the one before that recorded (see
        ``_pipelined``).

        With ``issue_permits``, every allowed decision about "now" carries a permit and counts as an attempt.
        Raises GateUnavailable (decisions of earlier chunks are recorded).
        """
        return self._decide(organization_id, requests, requester=requester, issue_permits=issue_permits)

    def permit(
        self,
        session_or_org: Session | uuid.UUID,
        *,
        phone: str,
        channel: Channel,
        purpose: Purpose,
        requester: Requester,
        voice: VoiceKind | None = None,
        lead_id: uuid.UUID | None = None,
        state: str | None = None,
        postal_code: str | None = None,
        opt_out_confirmation: bool = False,
    ) -> tuple[Decision, DialPermit | None]:
        """Ask to reach ``phone`` now: the decision, and a permit when it allows. Raises GateUnavailable.

        A session stands for its organization only: the gate reads committed data and records in its own
        transaction, so commit what the gate must see (an opt-out just recorded) before asking.
        """
        organization_id = session_or_org if isinstance(session_or_org, uuid.UUID) else _organization(session_or_org)
        request = CheckRequest(
            phone=phone,
            channel=channel,
            purpose=purpose,
            voice=voice,
            lead_id=lead_id,
            state=state,
            postal_code=postal_code,
            opt_out_confirmation=opt_out_confirmation,
        )
        result = self._decide(organization_id, [request], requester=requester, issue_permits=True)[0]
        return result.decision, result.permit

    def verify_permit(self, permit: DialPermit, *, phone: str, channel: Channel) -> DialPermit:
        """What the dialer and the SMS sender call before acting. Raises PermitError."""
        return self._permits.verify(permit, phone=phone, channel=channel, now=self._clock())

    def permit_from_token(self, token: str) -> DialPermit:
        """A permit handed over as ``DialPermit.to_token()``. Raises PermitError."""
        return self._permits.from_token(token)

    def _decide(
        self, organization_id: uuid.UUID, requests: Sequence[CheckRequest], *, requester: Requester, issue_permits: bool
    ) -> list[GateResult]:
        self._ensure_rulebook_recorded()
        now = self._clock()
        chunks = [requests[start : start + self._chunk_size] for start in range(0, len(requests), self._chunk_size)]

        def read(chunk: Sequence[CheckRequest]) -> _Read:
            return self._read_chunk(organization_id, chunk, issue_permits=issue_permits, now=now)

        def judge(facts: _Read) -> _Judged:
            return self._judge_read(organization_id, facts, requester=requester, issue_permits=issue_permits, now=now)

        # SQLite takes one writer at a time and has no COPY: nothing to overlap there.
        if len(chunks) > 1 and self._engine.dialect.name == "postgresql":
            return _pipelined(chunks, read, judge)
        results: list[GateResult] = []
        for chunk in chunks:
            results.extend(_record(judge(read(chunk))))
        return results

    def _read_chunk(
        self, organization_id: uuid.UUID, chunk: Sequence[CheckRequest], *, issue_permits: bool, now: datetime
    ) -> _Read:
        """Read the chunk's facts in a transaction left open for ``_judge_read`` and ``_record``."""
        conn = self._engine.connect()
        try:
            if not issue_permits and conn.dialect.name == "postgresql":
                # Answers without permits need no transaction: a read, then one insert (fewer round trips).
                conn.execution_options(isolation_level="AUTOCOMMIT")
            # With permits, one transaction from reading to recording: each number's lock lasts until then.
            transaction = conn.begin()
            try:
                if issue_permits:
                    _serialise_permits(conn, organization_id, chunk)
                return _Read(conn, transaction, self._gatherer.gather(conn, organization_id, chunk, now=now))
            except Exception as exc:  # any failure to read the facts blocks every question of the chunk
                logger.exception(
                    "compliance facts unavailable for %d request(s) of organization %s", len(chunk), organization_id
                )
                transaction.rollback()
                gathered = [_unavailable(request, now) for request in chunk]
                return _Read(conn, conn.begin(), gathered, failure=f"facts unavailable: {type(exc).__name__}")
        except BaseException:
            conn.close()
            raise

    def _judge_read(
        self, organization_id: uuid.UUID, facts: _Read, *, requester: Requester, issue_permits: bool, now: datetime
    ) -> _Judged:
        """Decide the questions of a chunk read, and build their audit rows (not yet written)."""
        try:
            judged = self._judge(
                organization_id, facts.gathered, failure=facts.failure, issue_permits=issue_permits, now=now
            )
            rows = [
                decision_row(
                    decision_id=result.decision_id,
                    organization_id=organization_id,
                    gathered=item,
                    decision=result.decision,
                    requester=requester,
                    decided_at=now,
                    permit_expires_at=result.permit.expires_at if result.permit is not None else None,
                )
                for item, result in zip(facts.gathered, judged, strict=True)
            ]
        except BaseException:
            facts.discard()
            raise
        return _Judged(
            organization_id=organization_id, recorded_sets=self._recorded_sets, facts=facts, results=judged, rows=rows
        )

    def _judge(
        self,
        organization_id: uuid.UUID,
        gathered: Sequence[Gathered],
        *,
        failure: str | None,
        issue_permits: bool,
        now: datetime,
    ) -> list[GateResult]:
        results: list[GateResult] = []
        issued: dict[str, list[datetime]] = {}
        for item, decision_id in zip(gathered, _decision_ids(len(gathered)), strict=True):
            if failure is not None:
                decision = self._blocked(FederalRule.ERROR, failure)
            elif item.facts is None:
                decision = self._blocked(FederalRule.INPUT, item.problem or "no facts")
            else:
                facts = item.facts
                if item.phone in issued:  # permits issued earlier in this chunk are attempts too
                    facts = replace(facts, recent_attempts=(*facts.recent_attempts, *issued[item.phone]))
                decision = evaluate(facts, self.rulebook)
            permit = None
            if issue_permits and decision.allowed and abs(item.at - now) <= PERMIT_HORIZON:
                permit = self._permits._issue(
                    decision_id=decision_id,
                    organization_id=organization_id,
                    phone=item.phone,
                    channel=item.request.channel,
                    voice=item.request.voice,
                    purpose=item.request.purpose,
                    issued_at=now,
                )
                issued.setdefault(item.phone, []).append(item.at)
            results.append(GateResult(decision_id=decision_id, decision=decision, permit=permit))
        return results

    def _blocked(self, rule: FederalRule, detail: str) -> Decision:
        check = self.rulebook.meta(rule).check(Verdict.BLOCK, detail)
        return Decision(checks=(check,), next_allowed_at=None, rulebook_version=self.rulebook.version)

    def _ensure_rulebook_recorded(self) -> None:
        if self._rulebook_recorded:
            return
        with self._lock:
            if self._rulebook_recorded:
                return
            try:
                with self._engine.begin() as conn:
                    record_rulebook(conn, self.rulebook)
            except Exception as exc:
                logger.exception("the rule book %s could not be recorded", self.rulebook.version)
                raise GateUnavailable("the rule book could not be recorded; nothing may be dialed") from exc
            self._rulebook_recorded = True


def _organization(session: Session) -> uuid.UUID:
    scope = tenant_of(session)
    if not isinstance(scope, uuid.UUID):
        raise ValueError("a permit is asked for one organization: pass a tenant session or an organization id")
    return scope


def _serialise_permits(conn: Connection, organization_id: uuid.UUID, chunk: Sequence[CheckRequest]) -> None:
    """Two permits for one number must not both pass a frequency cap: take a lock per number until commit."""
    if conn.dialect.name != "postgresql":
        return  # SQLite serialises writers already (BEGIN IMMEDIATE)
    keys = sorted({f"{organization_id}:{normalise_phone(r.phone) or r.phone}" for r in chunk})
    conn.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM (SELECT unnest(CAST(:keys AS text[])) AS k "
            "ORDER BY 1) AS ordered"
        ),
        {"keys": keys},
    )


@dataclass(slots=True)
class _Read:
    """A chunk's facts (or why there are none), with the connection and open transaction they were read in."""

    conn: Connection
    transaction: RootTransaction
    gathered: list[Gathered]
    failure: str | None = None

    def discard(self) -> None:
        """Record nothing: roll back (with permits, that releases the numbers' locks) and return the connection."""
        try:
            self.transaction.rollback()
        finally:
            self.conn.close()


@dataclass(slots=True)
class _Judged:
    """A chunk's decisions and audit rows, not yet recorded, in the transaction their facts were read in."""

    organization_id: uuid.UUID
    recorded_sets: RecordedCheckSets
    facts: _Read
    results: list[GateResult]
    rows: list[dict[str, Any]]

    def discard(self) -> None:
        self.facts.discard()


def _record(judged: _Judged) -> list[GateResult]:
    """Write the chunk's audit rows and commit: only then do its answers and permits exist. Raises GateUnavailable."""
    facts = judged.facts
    try:
        with facts.conn:
            sets = write_decisions(facts.conn, judged.rows, judged.recorded_sets)
            facts.transaction.commit()
        judged.recorded_sets.add_all(sets)
    except Exception as exc:
        logger.exception("%d decision(s) of organization %s not recorded", len(judged.rows), judged.organization_id)
        raise GateUnavailable("the decision could not be recorded; nothing may be dialed") from exc
    results = judged.results
    if len(results) == 1 and not results[0].allowed:
        logger.info("compliance gate blocked %s: %s", mask_phone(facts.gathered[0].phone), _blocking(results[0]))
    return results


def _pipelined(
    chunks: Sequence[Sequence[CheckRequest]],
    read: Callable[[Sequence[CheckRequest]], _Read],
    judge: Callable[[_Read], _Judged],
) -> list[GateResult]:
    """Each chunk's facts are read while the chunk before it is judged and the one before that recorded: three
    threads, so that the server's work (the fact query, the COPY of audit rows and the commit) overlaps ours.

    Chunks are read, judged and recorded one at a time and in order. When one cannot be recorded, the chunks
    judged and read meanwhile are discarded and GateUnavailable propagates (the earlier chunks stay recorded).
    """
    results: list[GateResult] = []
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="gate-read") as reader,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="gate-audit") as writer,
    ):
        upcoming = reader.submit(read, chunks[0])
        pending: Future[_Read] | None = upcoming  # read, or being read, and neither judged nor discarded yet
        recording: Future[list[GateResult]] | None = None
        try:
            for index in range(len(chunks)):
                facts = upcoming.result()
                pending = None
                if index + 1 < len(chunks):
                    upcoming = pending = reader.submit(read, chunks[index + 1])
                judged = judge(facts)
                if recording is not None:
                    try:
                        results.extend(recording.result())
                    except BaseException:
                        judged.discard()
                        raise
                recording = writer.submit(_record, judged)
            if recording is not None:
                results.extend(recording.result())
        except BaseException:
            if pending is not None:
                _discard_when_read(pending)
            raise
    return results


def _discard_when_read(reading: Future[_Read]) -> None:
    try:
        facts = reading.result()
    except Exception:
        return  # the read failed, and released what it held
    facts.discard()


def _decision_ids(count: int) -> list[uuid.UUID]:
    """Random (version 4) ids, like ``uuid.uuid4()``, with the chunk's randomness read in one call."""
    raw = os.urandom(16 * count)
    return [uuid.UUID(bytes=raw[start : start + 16], version=4) for start in range(0, 16 * count, 16)]


def _unavailable(request: CheckRequest, now: datetime) -> Gathered:
    phone = normalise_phone(request.phone) or request.phone
    return Gathered(request=request, at=request.at or now, phone=phone, facts=None)


def _blocking(result: GateResult) -> str:
    return "; ".join(c.rule for c in result.decision.blocking)
