"""Choosing the speech and dialog providers: by the keys present, overridable per organization.

The application builds one :class:`SpeechProviders` at start-up from :class:`ProviderSettings` and asks it,
per call, for the :class:`ProviderSelection` of the call's organization. Providers and their heavy
resources (decoder processes, the Piper voice, HTTP connection pools) are created once, on first use, and
shared by every call.

Default choice: Azure Speech when ``AZURE_SPEECH_KEY`` and a region (or host) are set, else local Whisper;
OpenAI when ``OPENAI_API_KEY`` is set, else the scripted dialog (``dialog=None``); ElevenLabs when
``ELEVENLABS_API_KEY`` is set, else Piper. An organization may ask for ``local`` (or a cloud provider, which
is honoured only when its keys are configured).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard, cast, get_args

import httpx

from agent.interfaces import Dialog, SpeechToText, TextToSpeech
from agent.providers import elevenlabs_tts, openai_dialog
from agent.providers.azure_stt import AzureSpeechSTT
from agent.providers.elevenlabs_tts import ElevenLabsTTS
from agent.providers.openai_dialog import OpenAIDialog
from agent.providers.piper_tts import JOE_VOICE, PiperTTS
from agent.providers.whisper_model import default_model_dir
from agent.providers.whisper_stt import WhisperSTT

logger = logging.getLogger(__name__)

DEFAULT_ELEVENLABS_VOICE_ID = "21m00Tcm4TlvDq8ikWAM"
"""A premade ElevenLabs voice available to every account ("Rachel")."""

SttChoice = Literal["auto", "azure", "local"]
TtsChoice = Literal["auto", "elevenlabs", "local"]
DialogChoice = Literal["auto", "openai", "scripted"]

_ALIASES = {"pocketsphinx": "local", "whisper": "local", "piper": "local"}


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """The part of the application's settings the providers need; secrets stay out of ``repr``."""

    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str = openai_dialog.DEFAULT_BASE_URL
    openai_model: str = openai_dialog.DEFAULT_MODEL
    provider_timeout: float = 2.5
    """Outer limit on OpenAI's first token and Azure's final text (the call's silence budget gives up on them
    sooner, on the call's clock): the budget's fallback deadline."""
    elevenlabs_api_key: str | None = field(default=None, repr=False)
    elevenlabs_base_url: str = elevenlabs_tts.DEFAULT_BASE_URL
    elevenlabs_voice_id: str = DEFAULT_ELEVENLABS_VOICE_ID
    elevenlabs_model_id: str = elevenlabs_tts.DEFAULT_MODEL_ID
    azure_speech_key: str | None = field(default=None, repr=False)
    azure_speech_region: str | None = None
    azure_speech_host: str | None = None
    """``ws://host:port`` of a Speech container or local double, instead of a region."""
    language: str = "en-US"
    local_stt_model: Path | None = None
    """The local recognizer's Whisper model directory; None: the one the project installs."""
    local_stt_workers: int = 2
    """Local decodes that run at once (each on its own thread); more wait their turn."""

    @property
    def has_azure(self) -> bool:
        return bool(self.azure_speech_key) and bool(self.azure_speech_region or self.azure_speech_host)


@dataclass(frozen=True, slots=True)
class SpeechPreferences:
    """An organization's choices; ``auto`` follows the keys present."""

    stt: SttChoice = "auto"
    tts: TtsChoice = "auto"
    dialog: DialogChoice = "auto"
    voice: str | None = None
    language: str | None = None
    places: tuple[str, ...] = ()
    """The organization's market (``serviceAreas``): the local recognizer listens for these names."""

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SpeechPreferences:
        """Read ``stt``, ``tts``, ``dialog``, ``voice``, ``language``, ``serviceAreas`` from organization settings.

        Other keys are left to their owners; a bad value raises ``ValueError``.
        """
        return cls(
            stt=cast(SttChoice, _choice(raw, "stt", get_args(SttChoice))),
            tts=cast(TtsChoice, _choice(raw, "tts", get_args(TtsChoice))),
            dialog=cast(DialogChoice, _choice(raw, "dialog", get_args(DialogChoice))),
            voice=_optional_text(raw, "voice"),
            language=_optional_text(raw, "language"),
            places=_places(raw, "serviceAreas"),
        )


@dataclass(frozen=True, slots=True)
class ProviderSelection:
    """The providers for one call. ``dialog`` is None when the scripted dialog should answer.

    The local providers are there too, for the agent to fall back on when a cloud one fails mid-call.
    """

    stt: SpeechToText
    tts: TextToSpeech
    dialog: Dialog | None
    language: str
    fallback_stt: SpeechToText
    fallback_tts: TextToSpeech


class SpeechProviders:
    """Owns every provider of the process and picks them per organization."""

    def __init__(self, settings: ProviderSettings, *, http_client: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._http = http_client
        self._owns_http = http_client is None
        self._local_stt: WhisperSTT | None = None
        self._local_tts: PiperTTS | None = None
        self._azure: AzureSpeechSTT | None = None
        self._openai: OpenAIDialog | None = None
        self._elevenlabs: dict[str, ElevenLabsTTS] = {}

    def select(self, preferences: SpeechPreferences | None = None) -> ProviderSelection:
        prefs = preferences or SpeechPreferences()
        local_stt = self.local_stt.for_places(prefs.places)
        stt = self._stt(prefs)
        return ProviderSelection(
            stt=local_stt if stt is self.local_stt else stt,
            tts=self._tts(prefs),
            dialog=self._dialog(prefs),
            language=prefs.language or self._settings.language,
            fallback_stt=local_stt,
            fallback_tts=self.local_tts,
        )

    async def warm_up(self, organizations: Iterable[SpeechPreferences] = ()) -> None:
        """Warm the default providers, those of the given organizations, and the local voice."""
        providers: dict[int, SpeechToText | TextToSpeech] = {}
        for selection in [self.select(), *(self.select(prefs) for prefs in organizations)]:
            for provider in (selection.stt, selection.tts, selection.fallback_tts):
                providers[id(provider)] = provider
        await asyncio.gather(*(provider.warm_up() for provider in providers.values()))

    async def aclose(self) -> None:
        if self._local_stt is not None:
            await self._local_stt.aclose()
        if self._local_tts is not None:
            await self._local_tts.aclose()
        if self._azure is not None:
            await self._azure.aclose()
        if self._openai is not None:
            await self._openai.aclose()
        if self._http is not None and self._owns_http:
            await self._http.aclose()

    @property
    def local_stt(self) -> WhisperSTT:
        if self._local_stt is None:
            self._local_stt = WhisperSTT(
                model_dir=self._settings.local_stt_model or default_model_dir(),
                workers=self._settings.local_stt_workers,
            )
        return self._local_stt

    @property
    def local_tts(self) -> PiperTTS:
        if self._local_tts is None:
            self._local_tts = PiperTTS()
        return self._local_tts

    def _stt(self, prefs: SpeechPreferences) -> SpeechToText:
        settings = self._settings
        key = settings.azure_speech_key if settings.has_azure else None
        if prefs.stt == "local" or not _configured(key, provider="Azure Speech", choice=prefs.stt):
            return self.local_stt
        if self._azure is None:
            self._azure = AzureSpeechSTT(
                key=key,
                region=None if settings.azure_speech_host else settings.azure_speech_region,
                host=settings.azure_speech_host,
                language=settings.language,
                final_timeout=settings.provider_timeout,
            )
        return self._azure

    def _tts(self, prefs: SpeechPreferences) -> TextToSpeech:
        settings = self._settings
        key = settings.elevenlabs_api_key
        if prefs.tts == "local" or not _configured(key, provider="ElevenLabs", choice=prefs.tts):
            if prefs.voice not in (None, JOE_VOICE):
                logger.info("voice %r is not a local voice; using %s", prefs.voice, JOE_VOICE)
            return self.local_tts
        voice_id = prefs.voice or settings.elevenlabs_voice_id
        if voice_id not in self._elevenlabs:
            if self._http is None:
                self._http = httpx.AsyncClient()
            self._elevenlabs[voice_id] = ElevenLabsTTS(
                client=self._http,
                api_key=key,
                voice_id=voice_id,
                base_url=settings.elevenlabs_base_url,
                model_id=settings.elevenlabs_model_id,
            )
        return self._elevenlabs[voice_id]

    def _dialog(self, prefs: SpeechPreferences) -> Dialog | None:
        settings = self._settings
        key = settings.openai_api_key
        if prefs.dialog == "scripted" or not _configured(key, provider="OpenAI", choice=prefs.dialog):
            return None
        if self._openai is None:
            self._openai = OpenAIDialog(
                api_key=key,
                base_url=settings.openai_base_url,
                model=settings.openai_model,
                first_token_timeout=settings.provider_timeout,
            )
        return self._openai


def _configured(key: str | None, *, provider: str, choice: str) -> TypeGuard[str]:
    if not key and choice != "auto":
        logger.warning("%s was chosen but its keys are not configured; using the local fallback", provider)
    return bool(key)


def _choice(raw: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = raw.get(key) or "auto"
    if not isinstance(value, str):
        raise ValueError(f"{key} must be one of {', '.join(allowed)}")
    value = _ALIASES.get(value.strip().lower(), value.strip().lower())
    if value not in allowed:
        raise ValueError(f"{key} must be one of {', '.join(allowed)}, not {raw.get(key)!r}")
    return value


def _places(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(place, str) for place in value):
        raise ValueError(f"{key} must be a list of place names")
    return tuple(place.strip() for place in value if place.strip())


def _optional_text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value.strip()
