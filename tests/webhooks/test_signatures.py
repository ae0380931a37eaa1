"""Each provider's signature check against known vectors, and what it refuses: wrong, missing, stale."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from webhooks.signatures import (
    InvalidSignature,
    followupboss_signature,
    hubspot_v3_signature,
    sign_standard,
    verify_basic_auth,
    verify_followupboss,
    verify_hubspot,
    verify_standard,
    verify_token,
)

# The Standard Webhooks specification's example.
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = 1614265330
SW_BODY = '{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# HubSpot's documented v1-validation example body, signed v3 (computed with `openssl dgst -sha256 -hmac`).
HS_SECRET = "hubspot-client-secret"
HS_URI = "https://seiketsu.test/webhooks/hubspot/00000000-0000-0000-0000-000000000001"
HS_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
    b'"changeFlag":"NEW","appId":54321}]'
)
HS_TIMESTAMP = "1564113600000"
HS_SIGNATURE = "DuF73NLH25YFpM/aqnyjHypzPefJXS+FB0Qbj6ShEtI="
HS_NOW = datetime(2019, 7, 26, 4, 2, tzinfo=UTC)

# Follow Up Boss: hex HMAC-SHA256 of base64(body) under the system key (computed with openssl).
FUB_KEY = "fub-system-key"
FUB_BODY = (
    b'{"eventId":"0197cba6-0000-7000-8000-000000000001","eventCreated":"2025-07-02T15:19:21+00:00",'
    b'"event":"peopleCreated","resourceIds":[123],"uri":"https://api.followupboss.com/v1/people?id=123"}'
)
FUB_SIGNATURE = "66cf3d855fc3bbb2ae79fa01df1574b852b36dae6f1fd0ce5263dbcc2bc3757f"


def test_standard_webhooks_vector() -> None:
    at = datetime.fromtimestamp(SW_TIMESTAMP, tz=UTC)
    assert sign_standard(secrets=[SW_SECRET], message_id=SW_ID, timestamp=at, body=SW_BODY) == SW_SIGNATURE


def _sw_headers(signature: str = SW_SIGNATURE, *, at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {"webhook-id": SW_ID, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature}


def test_standard_webhooks_verification() -> None:
    now = datetime.now(UTC)
    good = sign_standard(secrets=[SW_SECRET], message_id=SW_ID, timestamp=now, body=SW_BODY)
    assert verify_standard(secret=SW_SECRET, body=SW_BODY.encode(), headers=_sw_headers(good, at=now)) == SW_ID
    # A rotation's two signatures: either secret's verifies.
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    both = sign_standard(secrets=[other, SW_SECRET], message_id=SW_ID, timestamp=now, body=SW_BODY)
    assert len(both.split(" ")) == 2
    verify_standard(secret=SW_SECRET, body=SW_BODY.encode(), headers=_sw_headers(both, at=now))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": SW_ID, "webhook-timestamp": "0"},
        _sw_headers(SW_SIGNATURE),  # right signature of another moment
        _sw_headers("v1,AAAA"),
        _sw_headers("garbage"),
        _sw_headers("v1,!!!not-base64"),
    ],
)
def test_standard_webhooks_refusals(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature):
        verify_standard(secret=SW_SECRET, body=SW_BODY.encode(), headers=headers)


def test_standard_webhooks_stale_and_tampered() -> None:
    old = datetime.now(UTC) - timedelta(minutes=6)
    stale = sign_standard(secrets=[SW_SECRET], message_id=SW_ID, timestamp=old, body=SW_BODY)
    with pytest.raises(InvalidSignature, match="too old"):
        verify_standard(secret=SW_SECRET, body=SW_BODY.encode(), headers=_sw_headers(stale, at=old))
    now = datetime.now(UTC)
    good = sign_standard(secrets=[SW_SECRET], message_id=SW_ID, timestamp=now, body=SW_BODY)
    with pytest.raises(InvalidSignature):
        verify_standard(secret=SW_SECRET, body=b'{"test": 1}', headers=_sw_headers(good, at=now))


def test_hubspot_v3_vector() -> None:
    computed = hubspot_v3_signature(
        client_secret=HS_SECRET, method="POST", uri=HS_URI, body=HS_BODY, timestamp=HS_TIMESTAMP
    )
    assert computed == HS_SIGNATURE
    headers = {"x-hubspot-signature-v3": HS_SIGNATURE, "x-hubspot-request-timestamp": HS_TIMESTAMP}
    verify_hubspot(client_secret=HS_SECRET, method="POST", uri=HS_URI, body=HS_BODY, headers=headers, now=HS_NOW)


@pytest.mark.parametrize(
    ("headers", "now", "message"),
    [
        ({"x-hubspot-request-timestamp": HS_TIMESTAMP}, HS_NOW, "missing"),
        ({"x-hubspot-signature-v3": HS_SIGNATURE}, HS_NOW, "missing"),
        ({"x-hubspot-signature-v3": HS_SIGNATURE, "x-hubspot-request-timestamp": "soon"}, HS_NOW, "malformed"),
        ({"x-hubspot-signature-v3": HS_SIGNATURE, "x-hubspot-request-timestamp": HS_TIMESTAMP},
         HS_NOW + timedelta(minutes=6), "stale"),
        ({"x-hubspot-signature-v3": "A" + HS_SIGNATURE[1:], "x-hubspot-request-timestamp": HS_TIMESTAMP},
         HS_NOW, "does not match"),
    ],
)  # fmt: skip
def test_hubspot_refusals(headers: dict[str, str], now: datetime, message: str) -> None:
    with pytest.raises(InvalidSignature, match=message):
        verify_hubspot(client_secret=HS_SECRET, method="POST", uri=HS_URI, body=HS_BODY, headers=headers, now=now)


def test_hubspot_signature_covers_the_uri_and_the_body() -> None:
    headers = {"x-hubspot-signature-v3": HS_SIGNATURE, "x-hubspot-request-timestamp": HS_TIMESTAMP}
    with pytest.raises(InvalidSignature):
        verify_hubspot(
            client_secret=HS_SECRET, method="POST", uri=HS_URI + "x", body=HS_BODY, headers=headers, now=HS_NOW
        )
    with pytest.raises(InvalidSignature):
        verify_hubspot(
            client_secret=HS_SECRET, method="POST", uri=HS_URI, body=HS_BODY + b" ", headers=headers, now=HS_NOW
        )


def test_followupboss_vector() -> None:
    assert followupboss_signature(system_key=FUB_KEY, body=FUB_BODY) == FUB_SIGNATURE
    verify_followupboss(system_key=FUB_KEY, body=FUB_BODY, headers={"fub-signature": FUB_SIGNATURE})


@pytest.mark.parametrize("headers", [{}, {"fub-signature": ""}, {"fub-signature": "0" * 64}])
def test_followupboss_refusals(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature):
        verify_followupboss(system_key=FUB_KEY, body=FUB_BODY, headers=headers)
    with pytest.raises(InvalidSignature):
        verify_followupboss(system_key="another-key", body=FUB_BODY, headers={"fub-signature": FUB_SIGNATURE})


def test_pipedrive_basic_auth() -> None:
    good = "Basic " + base64.b64encode(b"pipedrive:s3cret").decode()
    verify_basic_auth(username="pipedrive", password="s3cret", headers={"authorization": good})
    for wrong in (
        "",
        "Bearer abc",
        "Basic !!!",
        "Basic " + base64.b64encode(b"pipedrive:wrong").decode(),
        "Basic " + base64.b64encode(b"someone:s3cret").decode(),
    ):
        with pytest.raises(InvalidSignature):
            verify_basic_auth(username="pipedrive", password="s3cret", headers={"authorization": wrong})


def test_zoho_token() -> None:
    verify_token(expected="zoho-channel-token", given="zoho-channel-token")
    for wrong in (None, "", "zoho-channel-tokeN", 42):
        with pytest.raises(InvalidSignature):
            verify_token(expected="zoho-channel-token", given=wrong)
