"""``seiketsu bench compliance``: registry import rate, single-decision latency, batch decision rate.

Runs against the PostgreSQL server of ``DATABASE_URL`` in a scratch database it creates, migrates and drops
(the role needs CREATEDB). Steps:

1. writes a synthetic national registry file (sorted ten-digit numbers over real area codes) to a temporary
   directory, in chunks, so generating it costs little memory;
2. imports it (``RegistryImporter``: COPY into a staging table, set-based merge) and reports numbers/s and the
   process's peak resident memory;
3. records written consent for half the numbers, granted over ``--consent-days`` (consents of one day are one
   decision to the gate, so a bench whose consents share a moment flatters it), then times single decisions
   (``ComplianceGate.check``: facts, rules, audit row, commit) and a batch (``ComplianceGate.check_many``).
"""

from __future__ import annotations

import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import numpy as np
import sqlalchemy as sa

from compliance.audit import Requester
from compliance.fact_store import CheckRequest
from compliance.imports import ImportSpec, RegistryImporter
from compliance.models import ConsentRecord
from compliance.permits import PermitAuthority
from compliance.registry_files import ListKind
from compliance.rulebook import RuleBook
from compliance.service import ComplianceGate
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.container import Container, build_container
from seiketsu.db import utcnow
from seiketsu.gc_tuning import freeze_startup_objects
from seiketsu.migrate import upgrade
from seiketsu.settings import Settings, load_settings
from seiketsu.tenancy.models import Organization

# Eastern and Central area codes, so that noon in New York is inside every window.
AREA_CODES = ("201 202 203 205 212 214 217 224 231 239 248 251 256 260 267 269 270 276 301 302 304 305 312 313 314"
              " 315 316 317 318 319 321 330 334 336 337 347 351 352 401 404 405 407 409 410 412 413 414 417 419 423"
              " 434 440 443 470 478 479 484 501 502 504 508 513 515 516 517 518 540 561 563 570 571 573 580 585 586"
              " 601 603 607 608 609 610 614 615 616 617 618 630 631 636 646 678 682 703 704 706 708 712 713 715 716"
              " 717 718 724 727 731 732 734 757 763 765 769 770 772 773 774 781 785 803 804 810 812 813 814 815 816"
              ).split()  # fmt: skip
_LINE = 11  # ten digits and a newline
_POWERS = 10 ** np.arange(9, -1, -1, dtype=np.int64)
# Central-office codes NXX: N in 2-9, and not an N11 service code.
_EXCHANGES = np.array([x for x in range(200, 1000) if x % 100 != 11], dtype=np.int64)
_LINES_PER_AREA = len(_EXCHANGES) * 10_000


@dataclass(frozen=True, slots=True)
class _Scratch:
    settings: Settings
    admin_url: str
    name: str


def write_registry_file(path: Path, *, numbers: int, seed: int = 7) -> int:
    """A flat full-list file of about ``numbers`` distinct sorted numbers; returns how many it holds."""
    rng = np.random.default_rng(seed)
    per_area = max(1, numbers // len(AREA_CODES))
    written = 0
    with open(path, "wb") as handle:
        for index, area_code in enumerate(AREA_CODES):
            count = min(per_area, numbers - written) if index < len(AREA_CODES) - 1 else numbers - written
            if count <= 0:
                break
            chosen = np.sort(rng.choice(_LINES_PER_AREA, size=count, replace=False)).astype(np.int64)
            subscriber = _EXCHANGES[chosen // 10_000] * 10_000 + chosen % 10_000
            full = np.int64(int(area_code) * 10_000_000) + subscriber
            digits = ((full[:, None] // _POWERS) % 10 + ord("0")).astype(np.uint8)
            lines = np.empty((count, _LINE), dtype=np.uint8)
            lines[:, :10] = digits
            lines[:, 10] = ord("\n")
            lines.tofile(handle)
            written += count
    return written


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _scratch_database(settings: Settings) -> _Scratch:
    if not settings.database_url.startswith("postgresql"):
        raise click.ClickException("the compliance benchmark needs PostgreSQL: set DATABASE_URL")
    base, _, _ = settings.database_url.rpartition("/")
    name = f"seiketsu_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(settings.database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    scratch = Settings(
        database_url=f"{base}/{name}",
        secret_key=settings.secret_key,
        public_base_url=settings.public_base_url,
        log_level="WARNING",
    )
    upgrade(scratch)
    return _Scratch(settings=scratch, admin_url=settings.database_url, name=name)


def _drop(scratch: _Scratch) -> None:
    admin = sa.create_engine(scratch.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch.name}" WITH (FORCE)')
    finally:
        admin.dispose()


def _organization(container: Container) -> uuid.UUID:
    with container.sessions() as session:
        org = Organization(name="Bench Realty", slug=f"bench-{uuid.uuid4().hex[:6]}")
        session.add(org)
        session.commit()
        return org.id


def _consents(
    container: Container, organization_id: uuid.UUID, phones: list[str], at: datetime, *, spread: timedelta
) -> None:
    """Written consent for ``phones``, the i-th granted ``i * spread`` before ``at`` (no spread: all at ``at``)."""
    rows = [
        {"id": uuid.uuid4(), "organization_id": organization_id, "phone": phone, "action": "grant",
         "kind": "prior_express_written", "channels": ["artificial_voice_call", "live_call", "sms"],
         "purposes": ["marketing", "informational"], "method": "web_form", "occurred_at": at - index * spread,
         "form_url": "https://bench.example/form", "detail": "", "recorded_by": "system:bench", "recorded_at": at}
        for index, phone in enumerate(phones)
    ]  # fmt: skip
    with container.engine.begin() as connection:
        connection.execute(sa.insert(ConsentRecord), rows)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@click.command("compliance")
@click.option(
    "--full", is_flag=True, help="the full size the targets are set for: 10 M numbers, a 100,000 batch, 2,000 singles"
)
@click.option("--numbers", type=int, help="registry numbers to generate and import  [default: 1,000,000; full: 10 M]")
@click.option("--checks", type=int, help="decisions in the batch  [default: 10,000; full: 100,000]")
@click.option("--single", type=int, help="single decisions timed one by one  [default: 500; full: 2,000]")
@click.option(
    "--consent-days",
    default=365.0,
    show_default=True,
    help="days the consents' grant times are spread evenly over, as a year of a brokerage's leads (0: one moment)",
)
@click.option("--keep-database", is_flag=True, help="keep the scratch database (its name is printed)")
def command(
    full: bool, numbers: int | None, checks: int | None, single: int | None, consent_days: float, keep_database: bool
) -> None:
    """Import a synthetic registry file, then time single decisions and a batch (targets, at --full size:
    >= 200,000 numbers/s, p99 <= 5 ms, >= 20,000 decisions/s). The default size runs in about a minute."""
    numbers = numbers or (10_000_000 if full else 1_000_000)
    checks = checks or (100_000 if full else 10_000)
    single = single or (2000 if full else 500)
    scratch = _scratch_database(load_settings())
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    click.echo(f"scratch database: {scratch.name}; load average {load} on {os.cpu_count()} CPU(s)")
    container = build_container(scratch.settings)
    try:
        _run(container, numbers=numbers, checks=checks, single=single, consent_days=consent_days)
    finally:
        container.close()
        if keep_database:
            click.echo(f"kept {scratch.name}")
        else:
            _drop(scratch)


def _run(container: Container, *, numbers: int, checks: int, single: int, consent_days: float) -> None:
    organization_id = _organization(container)
    today = utcnow().date()
    at = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=16)  # noon in New York
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "national.txt"
        started = time.perf_counter()
        held = write_registry_file(path, numbers=numbers)
        click.echo(f"generated {held:,} numbers ({path.stat().st_size / 2**20:.0f} MiB) in "
                   f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        rss_before = _peak_rss_mib()
        spec = ImportSpec(organization_id=organization_id, list_name="national", kind=ListKind.FULL,
                          as_of=today - timedelta(days=1))  # fmt: skip
        started = time.perf_counter()
        result = RegistryImporter(container.engine).run(spec, path, name=path.name)
        elapsed = time.perf_counter() - started
    click.echo(
        f"import: {result.numbers_added:,} numbers in {elapsed:.1f} s = {result.numbers_added / elapsed:,.0f} numbers/s"
        f" (target >= 200,000); peak RSS {_peak_rss_mib():.0f} MiB (before import {rss_before:.0f} MiB)"
    )
    gate = ComplianceGate(
        engine=container.engine, rulebook=RuleBook.load(), permits=PermitAuthority(container.settings.secret_key)
    )
    rng = random.Random(11)
    phones = [
        f"+1{rng.choice(AREA_CODES)}{rng.choice(_EXCHANGES)}{rng.randrange(10_000):04d}"
        for _ in range(max(checks, single))
    ]
    consented = phones[::2]
    spread = timedelta(days=consent_days) / len(consented)
    _consents(container, organization_id, consented, at - timedelta(days=30), spread=spread)
    requester = Requester.system("bench")

    def request(phone: str) -> CheckRequest:
        return CheckRequest(phone=phone, channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL,
                            purpose=Purpose.MARKETING, at=at)  # fmt: skip

    gate.check(organization_id, request(phones[0]), requester=requester)  # warm up
    freeze_startup_objects()  # as the web app and the workers do once they have started
    latencies = []
    for phone in phones[:single]:
        started = time.perf_counter()
        gate.check(organization_id, request(phone), requester=requester)
        latencies.append((time.perf_counter() - started) * 1000)
    click.echo(
        f"single decision ({single:,}): p50 {statistics.median(latencies):.2f} ms,"
        f" p99 {_percentile(latencies, 0.99):.2f} ms (target p99 <= 5 ms)"
    )
    batch = [request(phone) for phone in phones[:checks]]
    started = time.perf_counter()
    results = gate.check_many(organization_id, batch, requester=requester)
    elapsed = time.perf_counter() - started
    allowed = sum(r.allowed for r in results)
    click.echo(
        f"batch: {len(results):,} decisions in {elapsed:.1f} s = {len(results) / elapsed:,.0f} decisions/s"
        f" (target >= 20,000); {allowed:,} allowed"
    )
