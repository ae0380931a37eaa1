"""In-call duties: identification on artificial-voice calls, the interactive opt-out on outbound marketing."""

from __future__ import annotations

import pytest

from compliance.duties import Direction, DutyPolicy, duties_for, duty_policy
from compliance.vocabulary import Purpose, VoiceKind

POLICY = DutyPolicy(business_name="Lone Star Realty", callback_number="+15125550100")


@pytest.mark.parametrize(
    ("purpose", "direction", "voice", "identify", "opt_out"),
    [
        (Purpose.MARKETING, Direction.OUTBOUND, VoiceKind.ARTIFICIAL, True, True),
        (Purpose.INFORMATIONAL, Direction.OUTBOUND, VoiceKind.ARTIFICIAL, True, False),
        (None, Direction.INBOUND, VoiceKind.ARTIFICIAL, True, False),
        (Purpose.MARKETING, Direction.OUTBOUND, VoiceKind.LIVE, True, False),
        (None, Direction.INBOUND, VoiceKind.LIVE, False, False),
    ],
)
def test_duties_follow_the_call(
    purpose: Purpose | None, direction: Direction, voice: VoiceKind, identify: bool, opt_out: bool
) -> None:
    duties = duties_for(purpose, direction, policy=POLICY, voice=voice)
    assert (duties.identify, duties.interactive_opt_out) == (identify, opt_out)
    assert (duties.business_name, duties.callback_number, duties.opt_out_digit) == (
        "Lone Star Realty", "+15125550100", "9",
    )  # fmt: skip


def test_an_organization_may_offer_the_opt_out_on_every_outbound_call() -> None:
    policy = duty_policy("Acme", {"compliance": {"offerOptOutOnAllOutbound": True, "optOutDigit": "8"}})
    duties = duties_for(Purpose.INFORMATIONAL, Direction.OUTBOUND, policy=policy, caller_id="+15125550111")
    assert duties.interactive_opt_out and duties.opt_out_digit == "8"
    assert (duties.business_name, duties.callback_number) == ("Acme", "+15125550111")


@pytest.mark.parametrize(
    "settings",
    [None, {}, {"compliance": "yes"}, {"compliance": {"businessName": " ", "optOutDigit": "99",
                                                        "offerOptOutOnAllOutbound": "true"}}],
)  # fmt: skip
def test_bad_settings_fall_back_to_the_defaults(settings: dict[str, object] | None) -> None:
    assert duty_policy("Acme", settings) == DutyPolicy(business_name="Acme")
