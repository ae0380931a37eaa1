import base64
import hashlib
import hmac

import pytest

from telephony import signatures
from telephony.signatures import (
    ExpiredStreamToken,
    InvalidStreamToken,
    TwilioSignatureValidator,
    issue_stream_token,
    verify_stream_token,
)

TOKEN = "12345"
BASE = "https://mycompany.com"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}


def twilio_reference_signature(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    """Twilio's documented algorithm, written out independently of the SDK."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_twilio_documented_example_signature():
    # The example from Twilio's security docs.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signatures.compute_twilio_signature(TOKEN, url, PARAMS) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio_reference_signature(url, PARAMS) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_validator_accepts_valid_signature_on_public_url():
    validator = TwilioSignatureValidator(auth_token=TOKEN, public_base_url=BASE + "/")
    signature = twilio_reference_signature(BASE + "/twilio/voice", PARAMS)
    assert validator.is_valid(path="/twilio/voice", params=PARAMS, signature=signature)


def test_validator_includes_query_string():
    validator = TwilioSignatureValidator(auth_token=TOKEN, public_base_url=BASE)
    signature = twilio_reference_signature(BASE + "/myapp.php?foo=1&bar=2", PARAMS)
    assert validator.is_valid(path="/myapp.php", query_string="foo=1&bar=2", params=PARAMS, signature=signature)
    assert not validator.is_valid(path="/myapp.php", params=PARAMS, signature=signature)


@pytest.mark.parametrize("signature", [None, "", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", "garbage"])
def test_validator_rejects_missing_or_wrong_signature(signature):
    validator = TwilioSignatureValidator(auth_token=TOKEN, public_base_url=BASE)
    assert not validator.is_valid(path="/twilio/voice", params=PARAMS, signature=signature)


def test_validator_rejects_tampered_params_wrong_token_and_wrong_host():
    signature = twilio_reference_signature(BASE + "/twilio/voice", PARAMS)
    validator = TwilioSignatureValidator(auth_token=TOKEN, public_base_url=BASE)
    assert not validator.is_valid(path="/twilio/voice", params={**PARAMS, "To": "+18005550000"}, signature=signature)
    other = TwilioSignatureValidator(auth_token="other-token", public_base_url=BASE)
    assert not other.is_valid(path="/twilio/voice", params=PARAMS, signature=signature)
    proxied = TwilioSignatureValidator(auth_token=TOKEN, public_base_url="http://127.0.0.1:8000")
    assert not proxied.is_valid(path="/twilio/voice", params=PARAMS, signature=signature)


def test_repeated_form_fields_as_pairs():
    pairs = [("StatusCallbackEvent", "ringing"), ("StatusCallbackEvent", "answered"), ("To", "+1")]
    url = BASE + "/x"
    expected = base64.b64encode(
        hmac.new(
            TOKEN.encode(), (url + "StatusCallbackEventansweredStatusCallbackEventringingTo+1").encode(), hashlib.sha1
        ).digest()
    ).decode()
    assert signatures.compute_twilio_signature(TOKEN, url, pairs) == expected
    assert signatures.is_valid_twilio_signature(auth_token=TOKEN, url=url, params=pairs, signature=expected)


def test_empty_params_and_missing_signature():
    url = "wss://voice.example.com/twilio/media"
    signature = signatures.compute_twilio_signature(TOKEN, url)
    assert signature == twilio_reference_signature(url, {})
    assert signatures.is_valid_twilio_signature(auth_token=TOKEN, url=url, params=None, signature=signature)
    assert not signatures.is_valid_twilio_signature(auth_token=TOKEN, url=url, params=None, signature=None)
    assert not signatures.is_valid_twilio_signature(auth_token="", url=url, params=None, signature=signature)


def test_webhook_url_joins_cleanly():
    assert signatures.webhook_url("https://a.example/", "/twilio/voice") == "https://a.example/twilio/voice"
    assert signatures.webhook_url("https://a.example", "twilio/voice", "x=1") == "https://a.example/twilio/voice?x=1"


# --- stream tokens

SECRET = "s3cret-key-for-tests"


def test_stream_token_round_trip():
    token = issue_stream_token(SECRET, "call-42", ttl=60, now=1_000_000.0)
    assert verify_stream_token(SECRET, token, now=1_000_059.9) == "call-42"


def test_stream_token_expires():
    token = issue_stream_token(SECRET, "call-42", ttl=60, now=1_000_000.0)
    with pytest.raises(ExpiredStreamToken):
        verify_stream_token(SECRET, token, now=1_000_060.0)


def test_stream_token_with_dots_and_unicode_call_id():
    token = issue_stream_token(SECRET.encode(), "org.1/call.ünï", ttl=5, now=10.0)
    assert verify_stream_token(SECRET.encode(), token, now=11.0) == "org.1/call.ünï"


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_stream_token_tampering_is_detected():
    token = issue_stream_token(SECRET, "call-42", ttl=60, now=1000.0)
    expires, call_id, mac = token.split(".")
    later = str(int(expires) + 3_600_000)
    other_call = base64.urlsafe_b64encode(b"call-43").rstrip(b"=").decode()
    for forged in (
        f"{later}.{call_id}.{mac}",
        f"{expires}.{other_call}.{mac}",
        _flip(token, len(token) - 5),
        token + "A",
        token[:-1],
        f"{expires}.{call_id}",
        "",
        "x" * 5000,
        f"-1.{call_id}.{mac}",
    ):
        with pytest.raises(InvalidStreamToken):
            verify_stream_token(SECRET, forged, now=1001.0)
    with pytest.raises(InvalidStreamToken):
        verify_stream_token("another-secret", token, now=1001.0)


def test_stream_token_rejects_bad_arguments():
    with pytest.raises(ValueError):
        issue_stream_token(SECRET, "call", ttl=0, now=1.0)
    with pytest.raises(ValueError):
        issue_stream_token(SECRET, "", ttl=1, now=1.0)
    with pytest.raises(ValueError):
        issue_stream_token("", "call", ttl=1, now=1.0)
