"""Call control and messaging over Twilio's REST API: the twilio SDK on an httpx transport.

The SDK builds every request (paths, form fields, auth) and parses every answer;
:class:`HttpxTwilioHttpClient` carries them over an injected ``httpx.AsyncClient`` and points them at
``TWILIO_API_BASE_URL``, so that a Twilio-compatible carrier or a local double can stand in, and tests fake
Twilio at the HTTP level (respx).

Errors::

    TwilioError                 .code (Twilio's error code), .status (HTTP), .retryable
    ├── TwilioUnavailable       no usable answer: network failure, timeout (retryable)
    └── TwilioApiError          Twilio answered with an error (retryable on 429 and 5xx)
        ├── TwilioNotFound          20404: no such resource (e.g. a call that already ended)
        ├── InvalidPhoneNumber      21211 (call) / 21614 (not a mobile number for SMS) / 21217
        └── UnsubscribedRecipient   21610: the recipient texted STOP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from seiketsu.phones import mask_phone
from telephony import twiml

log = logging.getLogger(__name__)

TWILIO_API_BASE_URL = "https://api.twilio.com"
DEFAULT_STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")


class TwilioError(Exception):
    """A Twilio REST request failed."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status

    @property
    def retryable(self) -> bool:
        return False


class TwilioUnavailable(TwilioError):
    """No usable answer. ``request_sent`` is False only when the request surely did not reach Twilio, so a
    non-idempotent request (a call, a text) may have taken effect unless it is False."""

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent

    @property
    def retryable(self) -> bool:
        return True


class TwilioApiError(TwilioError):
    """Twilio answered with an error body (``{"code", "message", "more_info", "status"}``)."""

    @property
    def retryable(self) -> bool:
        return self.status is not None and (self.status == 429 or self.status >= 500)


class TwilioNotFound(TwilioApiError):
    pass


class InvalidPhoneNumber(TwilioApiError):
    pass


class UnsubscribedRecipient(TwilioApiError):
    pass


_ERRORS_BY_CODE: dict[int, type[TwilioApiError]] = {
    20404: TwilioNotFound,
    21211: InvalidPhoneNumber,
    21217: InvalidPhoneNumber,
    21614: InvalidPhoneNumber,
    21610: UnsubscribedRecipient,
}


# twilio ships no type hints, so its base class is Any to mypy.
class HttpxTwilioHttpClient(AsyncHttpClient):  # type: ignore[misc]
    """The SDK's async HTTP client seam over httpx; Twilio's API host is rewritten to ``api_base_url``."""

    def __init__(
        self, http: httpx.AsyncClient, *, api_base_url: str = TWILIO_API_BASE_URL, timeout: float = 10.0
    ) -> None:
        super().__init__(log, True, timeout)
        self._http = http
        self._api_base_url = api_base_url.rstrip("/")

    def rewrite(self, url: str) -> str:
        if url.startswith(TWILIO_API_BASE_URL + "/"):
            return self._api_base_url + url[len(TWILIO_API_BASE_URL) :]
        return url

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the SDK's signature)
        allow_redirects: bool = False,
    ) -> Response:
        target = self.rewrite(url)
        response = await self._http.request(
            method.upper(),
            target,
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=headers,
            auth=httpx.BasicAuth(*auth) if auth else None,
            timeout=timeout if timeout is not None else self.timeout,
            follow_redirects=allow_redirects,
        )
        log.debug("twilio %s %s -> %s", method.upper(), httpx.URL(target).path, response.status_code)
        return Response(response.status_code, response.text, dict(response.headers))


class TwilioRestClient:
    """Twilio call control (hang up, redirect, transfer, dial) and messaging for one account.

    ``http`` is owned by the caller (built once in the app factory and shared); nothing here retries:
    errors say whether a retry is safe and the caller's job policy decides.
    """

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        http: httpx.AsyncClient,
        api_base_url: str = TWILIO_API_BASE_URL,
        timeout: float = 10.0,
    ) -> None:
        self._client = Client(
            account_sid,
            auth_token,
            http_client=HttpxTwilioHttpClient(http, api_base_url=api_base_url, timeout=timeout),
            environment={},  # never pick up TWILIO_EDGE / TWILIO_REGION behind the settings' back
        )

    async def hang_up(self, call_sid: str) -> bool:
        """End a live call; False when it had already ended (404 / 20404 from Twilio), which is no error."""
        try:
            with _twilio_errors("hang up"):
                await self._client.calls(call_sid).update_async(status="completed")
        except TwilioNotFound:
            log.info("call %s had already ended", call_sid)
            return False
        return True

    async def update_call_twiml(self, call_sid: str, document: str) -> None:
        """Make a live call follow ``document`` (TwiML); raises :class:`TwilioNotFound` if it has ended."""
        with _twilio_errors("update call"):
            await self._client.calls(call_sid).update_async(twiml=document)

    async def transfer(self, call_sid: str, *, to_number: str, caller_id: str, announcement: str | None = None) -> None:
        """Announce (optionally), then bridge the live call to ``to_number``; ends our media stream."""
        document = twiml.transfer(to_number, caller_id=caller_id, announcement=announcement)
        await self.update_call_twiml(call_sid, document)

    async def create_call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str | None = None,
        status_callback_events: Sequence[str] = DEFAULT_STATUS_CALLBACK_EVENTS,
        machine_detection: str | None = "DetectMessageEnd",
        async_amd: bool = True,
        async_amd_status_callback: str | None = None,
        ring_timeout_seconds: int | None = None,
    ) -> str:
        """Place an outbound call that fetches its TwiML from ``url``; returns the Call SID."""
        options: dict[str, object] = {"to": to, "from_": from_, "url": url}
        if status_callback:
            options["status_callback"] = status_callback
            options["status_callback_event"] = list(status_callback_events)
        if machine_detection:
            options["machine_detection"] = machine_detection
            options["async_amd"] = "true" if async_amd else "false"
            if async_amd and async_amd_status_callback:
                options["async_amd_status_callback"] = async_amd_status_callback
        if ring_timeout_seconds is not None:
            options["timeout"] = ring_timeout_seconds
        with _twilio_errors("create call"):
            call = await self._client.calls.create_async(**options)
        log.info("placed call %s to %s", call.sid, mask_phone(to))
        return _sid(call.sid, "call")

    async def send_sms(self, *, to: str, from_: str, body: str, status_callback: str | None = None) -> str:
        """Send a text; returns the Message SID (delivery status arrives at ``status_callback``)."""
        options: dict[str, object] = {"to": to, "from_": from_, "body": body}
        if status_callback:
            options["status_callback"] = status_callback
        with _twilio_errors("send sms"):
            message = await self._client.messages.create_async(**options)
        log.info("sent message %s to %s", message.sid, mask_phone(to))
        return _sid(message.sid, "message")


def _sid(value: object, kind: str) -> str:
    if not isinstance(value, str) or not value:
        raise TwilioApiError(f"Twilio answered the {kind} request without a sid")
    return value


@contextmanager
def _twilio_errors(operation: str) -> Iterator[None]:
    """Translate the SDK's and httpx's exceptions into :class:`TwilioError`."""
    try:
        yield
    except TwilioRestException as exc:
        raise _api_error(operation, status=exc.status, code=exc.code, message=str(exc.msg)) from exc
    except TwilioServiceException as exc:
        raise _api_error(operation, status=exc.status, code=exc.code, message=str(exc.detail or exc.title)) from exc
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise TwilioUnavailable(f"{operation}: cannot reach Twilio ({exc!r})", request_sent=False) from exc
    except httpx.TransportError as exc:
        raise TwilioUnavailable(f"{operation}: no answer from Twilio ({exc!r})", request_sent=True) from exc
    except json.JSONDecodeError as exc:
        raise TwilioApiError(f"{operation}: Twilio's answer is not JSON") from exc


def _api_error(operation: str, *, status: int, code: int | None, message: str) -> TwilioApiError:
    code = code if isinstance(code, int) and code != status else None
    cls = _ERRORS_BY_CODE.get(code) if code is not None else None
    if cls is None and status == 404:
        cls = TwilioNotFound
    return (cls or TwilioApiError)(f"{operation}: {message}", code=code, status=status)
