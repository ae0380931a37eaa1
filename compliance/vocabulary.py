"""The words the gate speaks: channels, voice kinds, purposes, consent scopes."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """How the called party is reached."""

    VOICE = "voice"
    SMS = "sms"


class VoiceKind(StrEnum):
    """Who speaks on a call. An AI agent is an artificial voice (FCC 24-17)."""

    ARTIFICIAL = "artificial"
    LIVE = "live"


class Purpose(StrEnum):
    """Why the call or text is made."""

    MARKETING = "marketing"
    INFORMATIONAL = "informational"


class ConsentChannel(StrEnum):
    """The channel a consent or revocation covers."""

    ARTIFICIAL_VOICE_CALL = "artificial_voice_call"
    LIVE_CALL = "live_call"
    SMS = "sms"


def consent_channel_for(channel: Channel, voice: VoiceKind | None) -> ConsentChannel:
    """The consent scope that a call or text on ``channel`` needs.

    A voice call whose voice kind is unknown is treated as artificial: it needs the stricter consent.
    """
    if channel is Channel.SMS:
        return ConsentChannel.SMS
    if voice is VoiceKind.LIVE:
        return ConsentChannel.LIVE_CALL
    return ConsentChannel.ARTIFICIAL_VOICE_CALL
