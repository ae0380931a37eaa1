"""The telephony package's process-wide resources, built once by the app factory and shared by every call."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from agent.greeting import GreetingCache
from agent.interfaces import Dialog
from agent.providers.factory import ProviderSelection, ProviderSettings, SpeechPreferences, SpeechProviders
from agent.scripted_dialog import ScriptedDialog
from seiketsu.blocking_threads import BlockingLane
from seiketsu.container import Container
from seiketsu.settings import Settings
from seiketsu.tenancy.models import Organization
from telephony.metrics import CallMetrics
from telephony.signatures import TwilioSignatureValidator, is_valid_twilio_signature
from telephony.twilio_rest import TwilioRestClient

logger = logging.getLogger(__name__)

MEDIA_PATH = "/twilio/media"
EXTRAS_KEY = "telephony"


def twilio_auth_token(settings: Settings) -> str:
    """The token webhooks are signed with: Twilio's, or (no Twilio account, embedded mode) one derived from
    ``SECRET_KEY`` that ``seiketsu call`` on the same installation derives too, so signatures are always checked."""
    if settings.twilio_auth_token:
        return settings.twilio_auth_token
    return hmac.new(settings.secret_key.encode(), b"seiketsu.local-twilio-auth-token", hashlib.sha256).hexdigest()


def media_stream_url(public_base_url: str) -> str:
    """``wss://`` + host of ``PUBLIC_BASE_URL`` + the media path (Twilio accepts secure WebSockets only)."""
    parts = urlsplit(public_base_url)
    return urlunsplit(("wss", parts.netloc, parts.path.rstrip("/") + MEDIA_PATH, "", ""))


class SpeechSource(Protocol):
    """Where calls get their speech providers (``agent.providers.factory.SpeechProviders`` in production)."""

    def select(self, preferences: SpeechPreferences | None = None) -> ProviderSelection: ...

    async def warm_up(self, organizations: Iterable[SpeechPreferences] = ()) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class TelephonyRuntime:
    settings: Settings
    validator: TwilioSignatureValidator
    stream_url: str
    http: httpx.AsyncClient
    speech: SpeechSource
    greetings: GreetingCache
    scripted_dialog: Dialog
    rest: TwilioRestClient | None
    metrics: CallMetrics
    pending_setups: dict[str, tuple[float, Any]] = field(default_factory=dict)
    """Calls answered by this process whose media stream has not arrived yet (see ``session_setup``)."""
    live_calls: dict[str, Any] = field(default_factory=dict)
    """Media-stream handlers of the calls live in this process, by call id."""
    call_ends: BlockingLane = field(default_factory=BlockingLane)
    """Where finished calls are stored, one at a time: calls that end together (a campaign's wave) then take one
    thread's share of the GIL from the loop serving the live calls, not one each, and queue for a few
    milliseconds each instead."""
    memory_freed: Callable[[], None] = field(default=lambda: None)
    """Told when a call has ended and been stored (its audio and buffers are free): the kernel's heap trimmer
    hands the memory back to the OS once a burst of call ends is over."""

    def stream_signature_valid(self, signature: str) -> bool:
        """Twilio signs the media-stream upgrade over the ``wss://`` URL from our TwiML, with no parameters."""
        return is_valid_twilio_signature(
            auth_token=twilio_auth_token(self.settings), url=self.stream_url, params=None, signature=signature
        )

    @staticmethod
    def business_name(org: Organization) -> str:
        name = org.settings.get("businessName")
        return name if isinstance(name, str) and name.strip() else org.name

    @staticmethod
    def preferences(org: Organization) -> SpeechPreferences:
        try:
            return SpeechPreferences.from_mapping(org.settings)
        except ValueError:
            logger.warning("organization %s has invalid speech settings; using the defaults", org.slug)
            return SpeechPreferences()


def build_runtime(
    settings: Settings, registry: CollectorRegistry, *, memory_freed: Callable[[], None]
) -> TelephonyRuntime:
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
    provider_settings = ProviderSettings(
        openai_api_key=settings.openai_api_key,
        openai_base_url=settings.openai_base_url,
        elevenlabs_api_key=settings.elevenlabs_api_key,
        elevenlabs_base_url=settings.elevenlabs_base_url,
        azure_speech_key=settings.azure_speech_key,
        azure_speech_region=settings.azure_speech_region,
        provider_timeout=settings.agent_fallback_by_ms / 1000,
        local_stt_workers=settings.local_stt_workers,
        local_stt_model=settings.local_stt_model,
    )
    rest = None
    if settings.twilio_account_sid and settings.twilio_auth_token:
        rest = TwilioRestClient(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            http=http,
            api_base_url=settings.twilio_api_base_url,
        )
    return TelephonyRuntime(
        settings=settings,
        validator=TwilioSignatureValidator(
            auth_token=twilio_auth_token(settings), public_base_url=settings.public_base_url
        ),
        stream_url=media_stream_url(settings.public_base_url),
        http=http,
        speech=SpeechProviders(provider_settings, http_client=http),
        greetings=GreetingCache(),
        scripted_dialog=ScriptedDialog(),
        rest=rest,
        metrics=CallMetrics(registry),
        memory_freed=memory_freed,
    )


def telephony_runtime(app: FastAPI) -> TelephonyRuntime:
    container: Container = app.state.container
    runtime = container.extras[EXTRAS_KEY]
    assert isinstance(runtime, TelephonyRuntime)
    return runtime
