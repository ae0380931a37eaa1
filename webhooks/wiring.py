"""Plugs webhooks into the kernel: inbound intake and speed-to-lead jobs, outbound fan-out and deliveries
subscribed to every event a brokerage may receive, and the routes."""

from __future__ import annotations

from fastapi import APIRouter

from seiketsu.container import Container
from webhooks import endpoints_api, receiver, sources_api
from webhooks.delivery import DELIVER_JOB, EVENT_TYPES, FAN_OUT_JOB, deliver, fan_out, has_enabled_endpoint
from webhooks.intake import INTAKE_JOB, intake_job
from webhooks.runtime import EXTRAS_KEY, build_runtime
from webhooks.speed_to_lead import SPEED_TO_LEAD_JOB, speed_to_lead_job


def register(container: Container) -> None:
    container.extras[EXTRAS_KEY] = build_runtime(container)
    jobs = container.jobs.registry
    jobs.register(INTAKE_JOB, intake_job)
    jobs.register(SPEED_TO_LEAD_JOB, speed_to_lead_job)
    jobs.register(FAN_OUT_JOB, fan_out)
    jobs.register(DELIVER_JOB, deliver)
    for event in EVENT_TYPES:
        container.events.subscribe(event, FAN_OUT_JOB, when=has_enabled_endpoint)


def routers() -> list[APIRouter]:
    return [receiver.router, endpoints_api.router, sources_api.router]
