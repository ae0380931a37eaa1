"""Plugs CRM delivery into the kernel: its jobs, its subscription to finished calls, its routes and resources."""

from __future__ import annotations

from fastapi import APIRouter

from crm_adapters import api
from crm_adapters.jobs import CALL_COMPLETED, DELIVER_JOB, FAN_OUT_JOB, deliver, fan_out, has_enabled_integration
from crm_adapters.runtime import EXTRAS_KEY, build_runtime
from seiketsu.container import Container


def register(container: Container) -> None:
    container.extras[EXTRAS_KEY] = build_runtime(container)
    container.jobs.registry.register(FAN_OUT_JOB, fan_out)
    container.jobs.registry.register(DELIVER_JOB, deliver)
    container.events.subscribe(CALL_COMPLETED, FAN_OUT_JOB, when=has_enabled_integration)


def routers() -> list[APIRouter]:
    return [api.router]
