"""What a call's agent session is told: who it speaks for, its duties, its providers (from the org's settings).

Organization settings read here (all optional): ``businessName``, ``agentName``, ``callbackNumber``,
``transferNumber``, ``officeAddress``, ``instructions``, ``serviceAreas`` (place names the agent should
understand), the speech choices ``stt``, ``tts``, ``dialog``,
``voice``, ``language`` (see ``agent.providers.factory.SpeechPreferences``), and the compliance section read by
``compliance.duties.duty_policy`` (its ``businessName`` and ``callbackNumber`` win over the ones above).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.config import ComplianceDuties, Providers, SessionConfig, SilenceBudget
from agent.phrases import Identity, greeting_text
from compliance.duties import CallDuties, Direction, duties_for, duty_policy
from compliance.vocabulary import Purpose, VoiceKind
from seiketsu.tenancy.models import Organization
from telephony.call_actions import CallContext
from telephony.models import Call, CallDirection
from telephony.runtime import TelephonyRuntime


@dataclass(frozen=True, slots=True)
class CallSetup:
    context: CallContext
    config: SessionConfig
    providers: Providers


PENDING_TTL_SECONDS = 60.0
"""As long as the stream token the webhook issued: a setup not taken by then never will be."""


def remember_setup(runtime: TelephonyRuntime, setup: CallSetup, *, now: float) -> None:
    """Keep a call's setup for its media stream, which usually arrives at this process moments later."""
    pending = runtime.pending_setups
    for key in [key for key, (at, _) in list(pending.items()) if now - at > PENDING_TTL_SECONDS]:
        del pending[key]
    pending[str(setup.context.call_id)] = (now, setup)


def take_setup(runtime: TelephonyRuntime, call_id: object) -> CallSetup | None:
    entry = runtime.pending_setups.pop(str(call_id), None)
    if entry is None:
        return None
    setup = entry[1]
    return setup if isinstance(setup, CallSetup) else None


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _service_areas(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(area for item in value if (area := _text(item)))


def call_duties(
    org: Organization, *, purpose: str | None, inbound: bool, our_number: str, runtime: TelephonyRuntime
) -> CallDuties:
    """What the law asks of this AI-voice call (``compliance.duties``), with the organization's policy."""
    policy = duty_policy(runtime.business_name(org), org.settings)
    return duties_for(
        Purpose(purpose) if purpose in tuple(Purpose) else None,
        Direction.INBOUND if inbound else Direction.OUTBOUND,
        policy=policy,
        voice=VoiceKind.ARTIFICIAL,
        caller_id=_text(org.settings.get("callbackNumber")) or our_number,
    )


def identity(
    org: Organization, *, our_number: str, runtime: TelephonyRuntime, duties: CallDuties | None = None
) -> Identity:
    duties = duties or call_duties(org, purpose=None, inbound=True, our_number=our_number, runtime=runtime)
    return Identity(
        business_name=duties.business_name,
        agent_name=_text(org.settings.get("agentName")) or "Ava",
        callback_number=duties.callback_number or our_number,
    )


def inbound_greeting(org: Organization, *, our_number: str, runtime: TelephonyRuntime) -> str:
    """The first words of an inbound call to ``our_number`` (identification included), for warming the cache."""
    duties = call_duties(org, purpose=None, inbound=True, our_number=our_number, runtime=runtime)
    who = identity(org, our_number=our_number, runtime=runtime, duties=duties)
    return greeting_text(who, direction="inbound", identify=duties.identify, offer_opt_out=duties.interactive_opt_out)


def providers_for(org: Organization, runtime: TelephonyRuntime) -> tuple[Providers, str]:
    selection = runtime.speech.select(runtime.preferences(org))
    scripted = runtime.scripted_dialog
    providers = Providers(
        stt=selection.stt,
        dialog=selection.dialog or scripted,
        tts=selection.tts,
        fallback_stt=selection.fallback_stt if selection.fallback_stt is not selection.stt else None,
        fallback_dialog=scripted if selection.dialog is not None else None,
        fallback_tts=selection.fallback_tts if selection.fallback_tts is not selection.tts else None,
    )
    return providers, selection.language


def silence_budget(runtime: TelephonyRuntime) -> SilenceBudget:
    """The callers' silence budget (``AGENT_MAX_SILENCE_MS``, ``AGENT_FALLBACK_BY_MS``)."""
    settings = runtime.settings
    return SilenceBudget(
        max_silence_s=settings.agent_max_silence_ms / 1000, fallback_by_s=settings.agent_fallback_by_ms / 1000
    )


def build_setup(call: Call, org: Organization, runtime: TelephonyRuntime) -> CallSetup:
    inbound = call.direction == CallDirection.INBOUND
    our_number = call.to_number if inbound else call.from_number
    caller = call.from_number if inbound else call.to_number
    settings = org.settings
    context = CallContext(
        call_id=call.id,
        organization_id=org.id,
        call_sid=call.call_sid,
        lead_id=call.lead_id,
        caller=caller,
        our_number=our_number,
        timezone=org.timezone,
        transfer_number=_text(settings.get("transferNumber")),
        office_address=_text(settings.get("officeAddress")),
    )
    providers, language = providers_for(org, runtime)
    marketing = call.purpose == "marketing"
    duties = call_duties(org, purpose=call.purpose, inbound=inbound, our_number=our_number, runtime=runtime)
    config = SessionConfig(
        call_id=str(call.id),
        organization_id=str(org.id),
        identity=identity(org, our_number=our_number, runtime=runtime, duties=duties),
        direction="inbound" if inbound else "outbound",
        purpose="marketing" if marketing else ("informational" if call.purpose else None),
        language=language,
        timezone=org.timezone,
        instructions=_text(settings.get("instructions")) or "",
        transfer_available=context.transfer_number is not None,
        service_areas=_service_areas(settings.get("serviceAreas")),
        compliance=ComplianceDuties(identify=duties.identify, interactive_opt_out=duties.interactive_opt_out),
        silence=silence_budget(runtime),
    )
    return CallSetup(context=context, config=config, providers=providers)
