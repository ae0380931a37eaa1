"""What a call's agent session is told: who it speaks for, its duties, its providers (from the org's settings).

Organization settings read here (all optional): ``businessName``, ``agentName``, ``callbackNumber``,
``transferNumber``, ``officeAddress``, ``instructions``, and the speech choices ``stt``, ``tts``, ``dialog``,
``voice``, ``language`` (see ``agent.providers.factory.SpeechPreferences``).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.config import ComplianceDuties, Providers, SessionConfig
from agent.phrases import Identity, greeting_text
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


def identity(org: Organization, *, our_number: str, runtime: TelephonyRuntime) -> Identity:
    return Identity(
        business_name=runtime.business_name(org),
        agent_name=_text(org.settings.get("agentName")) or "Ava",
        callback_number=_text(org.settings.get("callbackNumber")) or our_number,
    )


def inbound_greeting(org: Organization, *, our_number: str, runtime: TelephonyRuntime) -> str:
    """The first words of an inbound call to ``our_number`` (identification included), for warming the cache."""
    who = identity(org, our_number=our_number, runtime=runtime)
    return greeting_text(who, direction="inbound", identify=True, offer_opt_out=False)


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
    config = SessionConfig(
        call_id=str(call.id),
        organization_id=str(org.id),
        identity=identity(org, our_number=our_number, runtime=runtime),
        direction="inbound" if inbound else "outbound",
        purpose="marketing" if marketing else ("informational" if call.purpose else None),
        language=language,
        timezone=org.timezone,
        instructions=_text(settings.get("instructions")) or "",
        # An AI voice is an artificial voice: every call identifies the business; outbound marketing calls
        # also offer the interactive opt-out.
        compliance=ComplianceDuties(identify=True, interactive_opt_out=marketing and not inbound),
    )
    return CallSetup(context=context, config=config, providers=providers)
