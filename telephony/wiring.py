"""Plugs telephony into the kernel: its routes, runtimes, jobs and event subscriptions, and warming the voice at
start-up."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter
from sqlmodel import col

from agent import phrases
from agent.providers.whisper_model import ModelLoadError
from seiketsu.container import Container
from seiketsu.settings import ConfigError
from seiketsu.tenancy.models import NumberPurpose, Organization, PhoneNumber
from seiketsu.tenancy.scoping import system_session
from telephony import api, dial_api, media_stream, outbound_webhooks, sms_api, sms_webhooks, twilio_webhooks
from telephony.calls import CALL_COMPLETED
from telephony.campaigns import api as campaigns_api
from telephony.campaigns.engine import tick_job
from telephony.campaigns.outcomes import OUTCOME_JOB, call_completed_job, is_campaign_call
from telephony.campaigns.service import TICK_JOB
from telephony.outbound_runtime import EXTRAS_KEY as OUTBOUND_KEY
from telephony.outbound_runtime import DialMetrics, OutboundRuntime
from telephony.runtime import EXTRAS_KEY, TelephonyRuntime, build_runtime
from telephony.session_setup import inbound_greeting, providers_for
from telephony.sms import SEND_JOB, send_job
from telephony.sms_follow_up import FOLLOW_UP_JOB, follow_up_job, has_template

logger = logging.getLogger(__name__)


def register(container: Container) -> None:
    container.extras[EXTRAS_KEY] = build_runtime(
        container.settings, container.metrics.registry, memory_freed=container.heap.request
    )
    outbound = OutboundRuntime(observer=DialMetrics(container.metrics.registry))
    container.extras[OUTBOUND_KEY] = outbound
    container.closers.append(outbound.dispatcher.close)
    jobs = container.jobs.registry
    jobs.register(TICK_JOB, tick_job)
    jobs.register(OUTCOME_JOB, call_completed_job)
    jobs.register(SEND_JOB, send_job)
    jobs.register(FOLLOW_UP_JOB, follow_up_job)
    container.events.subscribe(CALL_COMPLETED, OUTCOME_JOB, when=is_campaign_call)
    container.events.subscribe(CALL_COMPLETED, FOLLOW_UP_JOB, when=has_template)


def routers() -> list[APIRouter]:
    return [
        twilio_webhooks.router,
        outbound_webhooks.router,
        sms_webhooks.router,
        media_stream.router,
        api.router,
        dial_api.router,
        sms_api.router,
        campaigns_api.router,
    ]


def _runtime(container: Container) -> TelephonyRuntime:
    runtime = container.extras[EXTRAS_KEY]
    assert isinstance(runtime, TelephonyRuntime)
    return runtime


async def startup(container: Container) -> None:
    """Load the local speech models and synthesize each organization's greeting before the first call."""
    if not container.settings.warm_up_voice:
        return
    runtime = _runtime(container)
    with system_session(container.sessions) as session:
        rows = [
            (org, number)
            for org, number in session.execute(
                sa.select(Organization, col(PhoneNumber.e164))
                .join(PhoneNumber, col(PhoneNumber.organization_id) == col(Organization.id))
                .where(col(Organization.is_active).is_(True), col(PhoneNumber.purpose) != NumberPurpose.OUTBOUND)
            )
        ]
    organizations = {org.id: org for org, _ in rows}
    try:
        await runtime.speech.warm_up(runtime.preferences(org) for org in organizations.values())
    except ModelLoadError as exc:
        raise ConfigError("LOCAL_STT_MODEL", str(exc)) from exc
    warmed = 0
    for org, number in rows:
        providers, _ = providers_for(org, runtime)
        text = inbound_greeting(org, our_number=number, runtime=runtime)
        texts = [text, phrases.HOLD]  # the holding phrase plays from the cache when a reply is late
        warmed += await runtime.greetings.warm(organization_id=str(org.id), tts=providers.tts, texts=texts)
    logger.info("voice warmed: %d organization(s), %d phrase(s)", len(organizations), warmed)


async def shutdown(container: Container) -> None:
    runtime = _runtime(container)
    await runtime.speech.aclose()
    await runtime.http.aclose()
