"""Answering-machine detection on calls we placed: what Twilio's ``AnsweredBy`` means, and the voicemail.

Calls are placed with ``MachineDetection=DetectMessageEnd`` and ``AsyncAmd=true``: the agent greets at once
(identification, and for marketing the interactive opt-out), and the result arrives on ``POST /twilio/amd`` after
a machine's greeting has ended. A person (or an unknown result) changes nothing. A machine gets a voicemail that
meets the artificial-voice message rules (47 CFR 64.1200(b)): the business's name, a callback number, and how to
opt out; it is spoken in the organization's voice over the live media stream, or, when that stream is not in this
process, by updating the call with ``<Say>`` TwiML over REST. A fax machine is hung up on.
"""

from __future__ import annotations

import enum
import logging
import uuid
from typing import Protocol

from agent.phrases import Identity, speakable_phone_number
from telephony import twiml
from telephony.calls import MACHINE_ANSWERS
from telephony.twilio_rest import TwilioError, TwilioNotFound

logger = logging.getLogger(__name__)


class AmdAction(enum.StrEnum):
    CONTINUE = "continue"
    VOICEMAIL = "voicemail"
    HANG_UP = "hang_up"


def amd_action(answered_by: str) -> AmdAction:
    """What to do about Twilio's ``AnsweredBy``: human, unknown, machine_end_beep, machine_end_silence,
    machine_end_other, fax (and machine_start, which ``DetectMessageEnd`` does not send: the greeting goes on)."""
    if answered_by in MACHINE_ANSWERS:
        return AmdAction.VOICEMAIL
    if answered_by == "fax":
        return AmdAction.HANG_UP
    return AmdAction.CONTINUE


def voicemail_text(identity: Identity) -> str:
    """The message left on an answering machine: who calls, how to call back, how to stop the calls."""
    parts = [
        f"Hi, this is {identity.agent_name}, an AI assistant calling on behalf of {identity.business_name} "
        "about your home search."
    ]
    if identity.callback_number:
        number = speakable_phone_number(identity.callback_number)
        parts.append(f"Please call us back at {number}.")
        parts.append(f"If you'd rather not receive calls from us, call {number} and say stop, and we'll remove you.")
    else:
        parts.append("If you'd rather not receive calls from us, call us back and say stop, and we'll remove you.")
    parts.append("Thank you, goodbye.")
    return " ".join(parts)


class LiveCall(Protocol):
    """A media stream in this process (``telephony.media_stream.MediaStreamHandler``)."""

    def leave_voicemail(self, text: str) -> bool: ...


class CallUpdater(Protocol):
    """Twilio call control (``telephony.twilio_rest.TwilioRestClient``)."""

    async def update_call_twiml(self, call_sid: str, document: str) -> None: ...

    async def hang_up(self, call_sid: str) -> bool: ...


async def leave_voicemail(
    *, live: LiveCall | None, twilio: CallUpdater | None, call_id: uuid.UUID, call_sid: str, text: str
) -> str:
    """Leave ``text`` on the machine; returns how: "stream", "twiml", "ended" (the call was gone) or "none"."""
    if live is not None and live.leave_voicemail(text):
        logger.info("call %s: leaving a voicemail over the media stream", call_id)
        return "stream"
    if twilio is None:
        logger.warning("call %s: a machine answered, but no Twilio account is configured to leave a message", call_id)
        return "none"
    try:
        await twilio.update_call_twiml(call_sid, twiml.voicemail(message=text))
    except TwilioNotFound:
        logger.info("call %s ended before its voicemail could be left", call_id)
        return "ended"
    except TwilioError as exc:
        logger.warning("call %s: the voicemail could not be left: %s", call_id, exc)
        return "none"
    logger.info("call %s: leaving a voicemail with TwiML", call_id)
    return "twiml"


async def hang_up(*, twilio: CallUpdater | None, call_id: uuid.UUID, call_sid: str) -> None:
    if twilio is None:
        return
    try:
        await twilio.hang_up(call_sid)
    except TwilioError as exc:
        logger.warning("call %s: hanging up on a fax machine failed: %s", call_id, exc)
