from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compliance.consent import (
    ConsentAction,
    ConsentEvent,
    ConsentKind,
    ConsentStatus,
    effective_consent,
)
from compliance.vocabulary import Channel, ConsentChannel, Purpose, VoiceKind, consent_channel_for
from tests.compliance.factories import grant, revoke

T0 = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 6, 1, tzinfo=UTC)
VOICE = ConsentChannel.ARTIFICIAL_VOICE_CALL


def consent_for(*events: ConsentEvent, channel: ConsentChannel = VOICE, purpose: Purpose = Purpose.MARKETING):
    return effective_consent(events, channel=channel, purpose=purpose, at=NOW)


def test_no_events_no_consent() -> None:
    assert consent_for().status is ConsentStatus.NONE


def test_written_consent_satisfies_express() -> None:
    consent = consent_for(grant(T0))
    assert consent.satisfies(ConsentKind.WRITTEN) and consent.satisfies(ConsentKind.EXPRESS)
    assert consent.granted_on(ConsentKind.EXPRESS) == T0.date()


def test_express_consent_does_not_satisfy_written() -> None:
    consent = consent_for(grant(T0, kind=ConsentKind.EXPRESS))
    assert consent.satisfies(ConsentKind.EXPRESS) and not consent.satisfies(ConsentKind.WRITTEN)


def test_a_later_express_grant_keeps_the_written_one() -> None:
    consent = consent_for(grant(T0), grant(T0 + timedelta(days=1), kind=ConsentKind.EXPRESS))
    assert consent.written_on == T0.date()
    assert consent.granted_on(ConsentKind.EXPRESS) == (T0 + timedelta(days=1)).date()


def test_revocation_clears_every_kind() -> None:
    consent = consent_for(grant(T0), grant(T0, kind=ConsentKind.EXPRESS), revoke(T0 + timedelta(days=1)))
    assert consent.status is ConsentStatus.REVOKED
    assert not consent.satisfies(ConsentKind.EXPRESS)


def test_scope_by_channel_and_purpose() -> None:
    events = (grant(T0, channels=frozenset({ConsentChannel.SMS}), purposes=frozenset({Purpose.INFORMATIONAL})),)
    assert consent_for(*events, channel=ConsentChannel.SMS, purpose=Purpose.INFORMATIONAL).satisfies(
        ConsentKind.WRITTEN
    )
    assert consent_for(*events, channel=ConsentChannel.SMS).status is ConsentStatus.NONE
    assert consent_for(*events, purpose=Purpose.INFORMATIONAL).status is ConsentStatus.NONE


def test_revocation_of_one_channel_leaves_the_others() -> None:
    events = (grant(T0), revoke(T0 + timedelta(days=1), channels=frozenset({ConsentChannel.SMS})))
    assert consent_for(*events, channel=ConsentChannel.SMS).status is ConsentStatus.REVOKED
    assert consent_for(*events, channel=VOICE).satisfies(ConsentKind.WRITTEN)


def test_events_after_the_moment_are_ignored() -> None:
    assert consent_for(grant(NOW + timedelta(seconds=1))).status is ConsentStatus.NONE
    assert consent_for(grant(T0), revoke(NOW + timedelta(days=1))).satisfies(ConsentKind.WRITTEN)


def test_regrant_after_revocation() -> None:
    consent = consent_for(grant(T0), revoke(T0 + timedelta(days=1)), grant(T0 + timedelta(days=2)))
    assert consent.satisfies(ConsentKind.WRITTEN)
    assert consent.revoked_on == (T0 + timedelta(days=1)).date()


def test_simultaneous_grant_and_revocation_revoke_in_any_order() -> None:
    for events in ((grant(T0), revoke(T0)), (revoke(T0), grant(T0))):
        assert consent_for(*events).status is ConsentStatus.REVOKED


def test_order_of_events_given_does_not_matter() -> None:
    events = [grant(T0), revoke(T0 + timedelta(days=3)), grant(T0 + timedelta(days=5), kind=ConsentKind.EXPRESS)]
    assert consent_for(*events) == consent_for(*reversed(events))


def test_consent_is_dated_to_the_utc_day_after_the_events_are_applied_to_the_instant() -> None:
    """A revocation and a regrant on one day: the order of the instants decides, and the answer names the days."""
    morning, evening = T0 + timedelta(hours=8), T0 + timedelta(hours=20)
    regranted = consent_for(revoke(morning), grant(evening))
    assert regranted.satisfies(ConsentKind.WRITTEN)
    assert (regranted.written_on, regranted.revoked_on) == (T0.date(), T0.date())
    assert regranted.describe() == f"written consent granted {T0.date()}; last revoked {T0.date()}"
    assert consent_for(grant(morning), revoke(evening)).status is ConsentStatus.REVOKED
    assert consent_for(grant(morning)) == consent_for(grant(evening))  # one day, one value


def test_events_in_other_time_zones_compare_by_instant() -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2025, 1, 1, 20, tzinfo=ZoneInfo("America/Los_Angeles"))  # 04:00 UTC on Jan 2
    consent = consent_for(revoke(datetime(2025, 1, 2, 3, tzinfo=UTC)), grant(local))
    assert consent.satisfies(ConsentKind.WRITTEN)
    assert consent.written_on == datetime(2025, 1, 2, tzinfo=UTC).date()  # the UTC day, not the local one


@pytest.mark.parametrize(
    "kwargs",
    [
        {"at": datetime(2025, 1, 1), "action": ConsentAction.REVOKE},
        {"at": T0, "action": ConsentAction.GRANT},
        {"at": T0, "action": ConsentAction.REVOKE, "channels": frozenset()},
    ],
)
def test_malformed_events_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ConsentEvent(**kwargs)  # type: ignore[arg-type]


def test_consent_channel_of_a_call() -> None:
    assert consent_channel_for(Channel.VOICE, VoiceKind.LIVE) is ConsentChannel.LIVE_CALL
    assert consent_channel_for(Channel.VOICE, VoiceKind.ARTIFICIAL) is ConsentChannel.ARTIFICIAL_VOICE_CALL
    assert consent_channel_for(Channel.VOICE, None) is ConsentChannel.ARTIFICIAL_VOICE_CALL
    assert consent_channel_for(Channel.SMS, None) is ConsentChannel.SMS
