import xml.etree.ElementTree as ET

import pytest

from telephony import twiml
from telephony.twiml import InvalidTwiML


def find(root: ET.Element, path: str) -> ET.Element:
    element = root.find(path)
    assert element is not None, path
    return element


def parse(document: str) -> ET.Element:
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(document)
    assert root.tag == "Response"
    return root


def test_connect_stream_with_parameters():
    root = parse(twiml.connect_stream("wss://voice.example.com/twilio/media", {"callId": "42", "token": "a.b.c"}))
    assert [child.tag for child in root] == ["Connect"]
    (stream,) = list(find(root, "Connect"))
    assert stream.tag == "Stream"
    assert stream.attrib == {"url": "wss://voice.example.com/twilio/media"}
    assert [(p.tag, p.attrib) for p in stream] == [
        ("Parameter", {"name": "callId", "value": "42"}),
        ("Parameter", {"name": "token", "value": "a.b.c"}),
    ]


def test_parameter_values_are_escaped():
    root = parse(twiml.connect_stream("wss://h/twilio/media", {"x": "<&\"'>"}))
    assert find(root, "Connect/Stream/Parameter").get("value") == "<&\"'>"


@pytest.mark.parametrize(
    "url",
    [
        "ws://voice.example.com/twilio/media",
        "https://voice.example.com/twilio/media",
        "wss://voice.example.com/twilio/media?token=abc",
        "wss://voice.example.com/twilio/media?",
        "wss://voice.example.com/twilio/media#x",
        "/twilio/media",
        "wss:///twilio/media",
    ],
)
def test_connect_stream_rejects_bad_urls(url):
    with pytest.raises(InvalidTwiML):
        twiml.connect_stream(url, {})


def test_say_and_hang_up():
    root = parse(twiml.say_and_hang_up("This number is not in service.", voice="Polly.Joanna", language="en-US"))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    say = find(root, "Say")
    assert say.text == "This number is not in service."
    assert say.attrib == {"voice": "Polly.Joanna", "language": "en-US"}


def test_say_without_voice_has_no_attributes():
    root = parse(twiml.say_and_hang_up("All our lines are busy."))
    assert find(root, "Say").attrib == {}


def test_transfer_announces_then_dials_with_caller_id():
    root = parse(twiml.transfer("+15125550100", caller_id="+15125550199", announcement="Connecting you now."))
    assert [child.tag for child in root] == ["Say", "Dial"]
    assert find(root, "Say").text == "Connecting you now."
    dial = find(root, "Dial")
    assert dial.attrib == {"callerId": "+15125550199", "timeout": "30"}
    assert [(n.tag, n.text) for n in dial] == [("Number", "+15125550100")]


def test_transfer_without_announcement_only_dials():
    root = parse(twiml.transfer("+15125550100", caller_id="+15125550199"))
    assert [child.tag for child in root] == ["Dial"]


@pytest.mark.parametrize(("to", "caller_id"), [("5125550100", "+15125550199"), ("+15125550100", "anonymous")])
def test_transfer_requires_e164(to, caller_id):
    with pytest.raises(InvalidTwiML):
        twiml.transfer(to, caller_id=caller_id)


def test_voicemail_play_or_say_then_hang_up():
    root = parse(twiml.voicemail(audio_url="https://cdn.example.com/vm.wav"))
    assert [(c.tag, c.text) for c in root] == [("Play", "https://cdn.example.com/vm.wav"), ("Hangup", None)]
    root = parse(twiml.voicemail(message="Hi, this is Acme Realty."))
    assert [(c.tag, c.text) for c in root] == [("Say", "Hi, this is Acme Realty."), ("Hangup", None)]
    with pytest.raises(InvalidTwiML):
        twiml.voicemail()
    with pytest.raises(InvalidTwiML):
        twiml.voicemail(audio_url="file:///etc/passwd")


def test_hang_up():
    assert [c.tag for c in parse(twiml.hang_up())] == ["Hangup"]


def test_sms_reply_and_empty_reply():
    root = parse(twiml.sms_reply("You are unsubscribed."))
    assert [(c.tag, c.text) for c in root] == [("Message", "You are unsubscribed.")]
    assert list(parse(twiml.sms_reply())) == []


def test_empty_say_is_rejected():
    with pytest.raises(InvalidTwiML):
        twiml.say_and_hang_up("   ")
