"""Plugs compliance into the kernel: the gate (one per process), its routes, the registry-import job, and the
guard that keeps the ledger, the internal Do-Not-Call list and the audit log append-only."""

from __future__ import annotations

from fastapi import APIRouter

from compliance import check_api, consents_api, dnc_api
from compliance.append_only import install_append_only_guard
from compliance.deps import EXTRAS_KEY
from compliance.permits import PermitAuthority
from compliance.registry_imports import JOB_NAME, import_job
from compliance.rulebook import RuleBook
from compliance.service import ComplianceGate
from seiketsu.container import Container


def register(container: Container) -> None:
    install_append_only_guard(container.sessions)
    container.extras[EXTRAS_KEY] = ComplianceGate(
        engine=container.engine,
        rulebook=RuleBook.load(),
        permits=PermitAuthority(container.settings.secret_key),
    )
    container.jobs.registry.register(JOB_NAME, import_job)


def routers() -> list[APIRouter]:
    return [consents_api.router, dnc_api.router, check_api.router]
