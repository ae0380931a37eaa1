from __future__ import annotations

import logging

import httpx
import pytest

from agent.providers.azure_stt import AzureSpeechSTT
from agent.providers.elevenlabs_tts import ElevenLabsTTS
from agent.providers.factory import ProviderSettings, SpeechPreferences, SpeechProviders
from agent.providers.openai_dialog import OpenAIDialog
from agent.providers.piper_tts import PiperTTS
from agent.providers.whisper_stt import WhisperSTT

from .azure_speech_double import AzureSpeechDouble, running

CLOUD = ProviderSettings(
    openai_api_key="sk-test",
    elevenlabs_api_key="xi-test",
    azure_speech_key="az-test",
    azure_speech_region="eastus",
)


@pytest.fixture
async def http_client():
    async with httpx.AsyncClient() as client:
        yield client


async def test_without_keys_everything_is_local():
    providers = SpeechProviders(ProviderSettings())
    selection = providers.select()

    assert isinstance(selection.stt, WhisperSTT)
    assert isinstance(selection.tts, PiperTTS)
    assert selection.dialog is None  # the caller uses its scripted dialog
    assert selection.language == "en-US"
    assert selection.fallback_stt is selection.stt and selection.fallback_tts is selection.tts
    assert isinstance(selection.stt, WhisperSTT)
    await providers.aclose()


async def test_keys_choose_the_cloud_providers(http_client: httpx.AsyncClient):
    providers = SpeechProviders(CLOUD, http_client=http_client)
    selection = providers.select()

    assert isinstance(selection.stt, AzureSpeechSTT)
    assert isinstance(selection.tts, ElevenLabsTTS) and selection.tts.voice == CLOUD.elevenlabs_voice_id
    assert isinstance(selection.dialog, OpenAIDialog) and selection.dialog.model == "gpt-4o-mini"
    assert isinstance(selection.fallback_stt, WhisperSTT)
    assert isinstance(selection.fallback_tts, PiperTTS)
    await providers.aclose()
    assert not http_client.is_closed  # not ours to close


@pytest.mark.parametrize(
    "settings",
    [
        ProviderSettings(azure_speech_key="az-test"),  # a key without a region or host
        ProviderSettings(azure_speech_region="eastus"),
    ],
)
async def test_azure_needs_a_key_and_a_region_or_host(settings: ProviderSettings):
    providers = SpeechProviders(settings)
    assert isinstance(providers.select().stt, WhisperSTT)
    await providers.aclose()


async def test_azure_host_serves_containers_and_doubles():
    providers = SpeechProviders(ProviderSettings(azure_speech_key="az-test", azure_speech_host="ws://127.0.0.1:5000"))
    assert isinstance(providers.select().stt, AzureSpeechSTT)
    await providers.aclose()


async def test_organization_can_prefer_local_providers(http_client: httpx.AsyncClient):
    providers = SpeechProviders(CLOUD, http_client=http_client)
    prefs = SpeechPreferences.from_mapping({"stt": "local", "tts": "piper", "dialog": "scripted", "prompt": "x"})

    selection = providers.select(prefs)

    assert isinstance(selection.stt, WhisperSTT)
    assert isinstance(selection.tts, PiperTTS)
    assert selection.dialog is None
    await providers.aclose()


async def test_organization_voice_and_language(http_client: httpx.AsyncClient):
    providers = SpeechProviders(CLOUD, http_client=http_client)

    first = providers.select(SpeechPreferences.from_mapping({"voice": "pNInz6obpgDQGcFmaJgB", "language": "es-US"}))
    again = providers.select(SpeechPreferences(voice="pNInz6obpgDQGcFmaJgB"))
    default = providers.select()

    assert first.tts.voice == "pNInz6obpgDQGcFmaJgB" and first.language == "es-US"
    assert again.tts is first.tts  # one instance per voice, sharing one HTTP client
    assert default.tts is not first.tts
    assert first.stt is default.stt and first.dialog is default.dialog
    await providers.aclose()


async def test_cloud_choice_without_keys_falls_back_to_local(caplog: pytest.LogCaptureFixture):
    providers = SpeechProviders(ProviderSettings())

    with caplog.at_level(logging.WARNING, logger="agent.providers.factory"):
        selection = providers.select(SpeechPreferences(stt="azure", tts="elevenlabs", dialog="openai"))

    assert isinstance(selection.stt, WhisperSTT)
    assert isinstance(selection.tts, PiperTTS)
    assert selection.dialog is None
    assert "ElevenLabs was chosen but its keys are not configured" in caplog.text
    await providers.aclose()


@pytest.mark.parametrize(
    "raw",
    [{"stt": "deepgram"}, {"tts": 3}, {"dialog": "gpt"}, {"voice": ["a"]}, {"serviceAreas": [3]}],
)
def test_bad_organization_settings_are_rejected(raw):
    with pytest.raises(ValueError):
        SpeechPreferences.from_mapping(raw)


def test_settings_repr_hides_secrets():
    text = repr(CLOUD)
    assert "sk-test" not in text and "xi-test" not in text and "az-test" not in text
    assert "eastus" in text


async def test_warm_up_connects_the_cloud_recognizer_ahead_of_calls(http_client: httpx.AsyncClient):
    async with running(AzureSpeechDouble()) as double:
        settings = ProviderSettings(azure_speech_key="az-test", azure_speech_host=double.url)
        providers = SpeechProviders(settings, http_client=http_client)

        await providers.warm_up()

        await double.wait_for_handshakes(1)
        assert double.handshakes[0].headers["Ocp-Apim-Subscription-Key"] == "az-test"
        await providers.aclose()


async def test_the_local_recognizer_is_prompted_with_the_organizations_places(http_client: httpx.AsyncClient):
    providers = SpeechProviders(CLOUD, http_client=http_client)
    prefs = SpeechPreferences.from_mapping({"stt": "local", "serviceAreas": ["Round Rock", " Pflugerville "]})

    selection = providers.select(prefs)
    cloud = providers.select(SpeechPreferences.from_mapping({"serviceAreas": "Round Rock, Pflugerville"}))

    assert prefs.places == ("Round Rock", "Pflugerville")
    assert "Round Rock or Pflugerville" in selection.stt.prompt  # type: ignore[attr-defined]
    assert selection.fallback_stt is selection.stt
    assert isinstance(cloud.stt, AzureSpeechSTT)
    assert "Round Rock or Pflugerville" in cloud.fallback_stt.prompt  # type: ignore[attr-defined]
    await providers.aclose()
