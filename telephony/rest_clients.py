"""Twilio clients for background jobs.

A job handler runs in an event loop of its own (``asyncio.run`` per job), and an ``httpx.AsyncClient`` cannot
carry connections across event loops, so a job makes its client for its own loop rather than borrowing the web
process's (``TelephonyRuntime.rest``). Loading the CA bundle is the costly part of making a client (tens of
milliseconds), so the TLS context is built once per process and shared.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from seiketsu.settings import Settings
from telephony.twilio_rest import TwilioRestClient


@asynccontextmanager
async def job_twilio_client(settings: Settings, *, tls: ssl.SSLContext) -> AsyncIterator[TwilioRestClient | None]:
    """A Twilio client for the current event loop, or None when no Twilio account is configured."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        yield None
        return
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0), verify=tls) as http:
        yield TwilioRestClient(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            http=http,
            api_base_url=settings.twilio_api_base_url,
        )
