import base64
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from telephony.twilio_rest import (
    InvalidPhoneNumber,
    TwilioApiError,
    TwilioNotFound,
    TwilioRestClient,
    TwilioUnavailable,
    UnsubscribedRecipient,
)

ACCOUNT = "AC" + "a" * 32
TOKEN = "auth-token"
BASE = "http://twilio-double.test:8080"
CALL = "CA" + "b" * 32
CALLS = f"{BASE}/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
CALL_URL = f"{BASE}/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json"
MESSAGES = f"{BASE}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


def call_json(sid: str = CALL, status: str = "queued") -> dict[str, Any]:
    return {
        "sid": sid,
        "account_sid": ACCOUNT,
        "to": "+15125550100",
        "from": "+15125550199",
        "status": status,
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{sid}.json",
    }


def error_json(code: int, status: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def find(root: ET.Element, path: str) -> ET.Element:
    element = root.find(path)
    assert element is not None, path
    return element


def form(request: httpx.Request) -> dict[str, list[str]]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return parse_qs(request.content.decode(), keep_blank_values=True)


@pytest.fixture
async def http():
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def client(http):
    return TwilioRestClient(account_sid=ACCOUNT, auth_token=TOKEN, http=http, api_base_url=BASE)


@respx.mock
async def test_hang_up_updates_status_completed_with_basic_auth(client):
    route = respx.post(CALL_URL).mock(return_value=httpx.Response(200, json=call_json(status="completed")))
    assert await client.hang_up(CALL) is True
    request = route.calls.last.request
    assert form(request) == {"Status": ["completed"]}
    expected = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.headers["accept"] == "application/json"


@respx.mock
async def test_hang_up_of_a_call_already_ended_is_not_an_error(client):
    respx.post(CALL_URL).mock(
        return_value=httpx.Response(404, json=error_json(20404, 404, f"The requested resource {CALL} was not found"))
    )
    assert await client.hang_up(CALL) is False


@respx.mock
async def test_hang_up_other_errors_raise(client):
    respx.post(CALL_URL).mock(return_value=httpx.Response(500, json=error_json(20500, 500, "Internal Server Error")))
    with pytest.raises(TwilioApiError) as info:
        await client.hang_up(CALL)
    assert info.value.code == 20500 and info.value.status == 500 and info.value.retryable


@respx.mock
async def test_transfer_updates_live_call_with_dial_twiml(client):
    route = respx.post(CALL_URL).mock(return_value=httpx.Response(200, json=call_json(status="in-progress")))
    await client.transfer(CALL, to_number="+15125550111", caller_id="+15125550199", announcement="One moment.")
    sent = form(route.calls.last.request)
    assert set(sent) == {"Twiml"}
    root = ET.fromstring(sent["Twiml"][0])
    assert [c.tag for c in root] == ["Say", "Dial"]
    assert find(root, "Dial").get("callerId") == "+15125550199"
    assert find(root, "Dial/Number").text == "+15125550111"


@respx.mock
async def test_update_of_a_gone_call_raises_not_found(client):
    respx.post(CALL_URL).mock(return_value=httpx.Response(404, json=error_json(20404, 404, "not found")))
    with pytest.raises(TwilioNotFound) as info:
        await client.update_call_twiml(CALL, "<Response><Hangup/></Response>")
    assert info.value.code == 20404 and not info.value.retryable


@respx.mock
async def test_create_call_sends_amd_and_status_callbacks(client):
    route = respx.post(CALLS).mock(return_value=httpx.Response(201, json=call_json()))
    sid = await client.create_call(
        to="+15125550100",
        from_="+15125550199",
        url="https://voice.example.com/twilio/voice/outbound",
        status_callback="https://voice.example.com/twilio/status",
        async_amd_status_callback="https://voice.example.com/twilio/amd",
    )
    assert sid == CALL
    assert form(route.calls.last.request) == {
        "To": ["+15125550100"],
        "From": ["+15125550199"],
        "Url": ["https://voice.example.com/twilio/voice/outbound"],
        "StatusCallback": ["https://voice.example.com/twilio/status"],
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "MachineDetection": ["DetectMessageEnd"],
        "AsyncAmd": ["true"],
        "AsyncAmdStatusCallback": ["https://voice.example.com/twilio/amd"],
    }


@respx.mock
async def test_create_call_without_amd(client):
    route = respx.post(CALLS).mock(return_value=httpx.Response(201, json=call_json()))
    await client.create_call(to="+15125550100", from_="+15125550199", url="https://v.example/x", machine_detection=None)
    assert form(route.calls.last.request) == {
        "To": ["+15125550100"],
        "From": ["+15125550199"],
        "Url": ["https://v.example/x"],
    }


@respx.mock
async def test_create_call_invalid_number(client):
    respx.post(CALLS).mock(
        return_value=httpx.Response(
            400, json=error_json(21211, 400, "The 'To' number +1512 is not a valid phone number.")
        )
    )
    with pytest.raises(InvalidPhoneNumber) as info:
        await client.create_call(to="+1512", from_="+15125550199", url="https://v.example/x")
    assert info.value.code == 21211 and info.value.status == 400 and not info.value.retryable
    assert "not a valid phone number" in str(info.value)


@respx.mock
async def test_send_sms(client):
    route = respx.post(MESSAGES).mock(
        return_value=httpx.Response(
            201,
            json={
                "sid": "SM" + "c" * 32,
                "account_sid": ACCOUNT,
                "status": "queued",
                "body": "See you at 3pm",
                "to": "+15125550100",
            },
        )
    )
    sid = await client.send_sms(
        to="+15125550100",
        from_="+15125550199",
        body="See you at 3pm",
        status_callback="https://v.example/twilio/sms/status",
    )
    assert sid == "SM" + "c" * 32
    assert form(route.calls.last.request) == {
        "To": ["+15125550100"],
        "From": ["+15125550199"],
        "Body": ["See you at 3pm"],
        "StatusCallback": ["https://v.example/twilio/sms/status"],
    }


@respx.mock
async def test_send_sms_to_unsubscribed_recipient(client):
    respx.post(MESSAGES).mock(
        return_value=httpx.Response(400, json=error_json(21610, 400, "Attempt to send to unsubscribed recipient"))
    )
    with pytest.raises(UnsubscribedRecipient) as info:
        await client.send_sms(to="+15125550100", from_="+15125550199", body="hi")
    assert info.value.code == 21610 and not info.value.retryable


@respx.mock
@pytest.mark.parametrize(("status", "retryable"), [(429, True), (503, True), (401, False), (400, False)])
async def test_retryable_flag_follows_status(client, status, retryable):
    respx.post(MESSAGES).mock(return_value=httpx.Response(status, json=error_json(20000 + status, status, "x")))
    with pytest.raises(TwilioApiError) as info:
        await client.send_sms(to="+15125550100", from_="+15125550199", body="hi")
    assert info.value.retryable is retryable and info.value.status == status


@respx.mock
async def test_non_json_error_body(client):
    respx.post(MESSAGES).mock(return_value=httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(TwilioApiError) as info:
        await client.send_sms(to="+15125550100", from_="+15125550199", body="hi")
    assert info.value.status == 502 and info.value.code is None and info.value.retryable


@respx.mock
async def test_non_json_success_body(client):
    respx.post(MESSAGES).mock(return_value=httpx.Response(201, text="ok"))
    with pytest.raises(TwilioApiError):
        await client.send_sms(to="+15125550100", from_="+15125550199", body="hi")


@respx.mock
async def test_timeout_is_retryable_but_may_have_been_applied(client):
    respx.post(CALLS).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TwilioUnavailable) as info:
        await client.create_call(to="+15125550100", from_="+15125550199", url="https://v.example/x")
    assert info.value.retryable and info.value.request_sent


@respx.mock
async def test_connect_error_did_not_reach_twilio(client):
    respx.post(CALLS).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TwilioUnavailable) as info:
        await client.create_call(to="+15125550100", from_="+15125550199", url="https://v.example/x")
    assert info.value.retryable and not info.value.request_sent


@respx.mock
async def test_default_base_url_is_twilio(http):
    client = TwilioRestClient(account_sid=ACCOUNT, auth_token=TOKEN, http=http)
    route = respx.post(f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json").mock(
        return_value=httpx.Response(200, json=call_json(status="completed"))
    )
    assert await client.hang_up(CALL)
    assert route.called


@respx.mock
async def test_base_url_with_path_prefix(http):
    client = TwilioRestClient(
        account_sid=ACCOUNT, auth_token=TOKEN, http=http, api_base_url="https://carrier.example/twilio/"
    )
    route = respx.post(f"https://carrier.example/twilio/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json").mock(
        return_value=httpx.Response(200, json=call_json(status="completed"))
    )
    assert await client.hang_up(CALL)
    assert route.called
