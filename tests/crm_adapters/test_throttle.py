"""Request pacing per CRM account: the sliding-window log in memory and in Redis, and the rolling-window promise."""

import random
import time

import pytest
from redis import Redis

from crm_adapters.throttle import (
    VENDOR_LIMITS,
    MemoryThrottle,
    RedisThrottle,
    RequestLimit,
    ThrottleUnavailable,
    ThrottleWait,
    limit_for,
    next_slot,
    take_slot,
)
from tests.conftest import REDIS_URL


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_hubspot_default_books_97_per_10_2_seconds():
    limit = limit_for("hubspot")
    assert limit == RequestLimit(100, 10.0)
    assert limit.allowed == 97 and limit.span == pytest.approx(10.2)
    assert limit_for("hubspot", requests=190) == RequestLimit(190, 10.0)
    assert RequestLimit(1, 1.0).allowed == 1
    assert set(VENDOR_LIMITS) == {"hubspot", "salesforce", "zoho", "pipedrive", "followupboss"}


def test_a_quiet_account_sends_at_once_and_a_full_window_waits_for_its_oldest_request():
    limit = RequestLimit(4, 1.0)  # 3 allowed per 1.11 s
    assert next_slot([], now=5.0, limit=limit) == 5.0
    assert next_slot([4.5, 4.6], now=5.0, limit=limit) == 5.0
    assert next_slot([4.5, 4.6, 4.7], now=5.0, limit=limit) == pytest.approx(5.61)
    assert next_slot([3.0, 3.1, 3.2], now=5.0, limit=limit) == 5.0  # all out of the window


@pytest.mark.parametrize("limit", [RequestLimit(100, 10.0), RequestLimit(5, 1.0), RequestLimit(20, 2.0)])
def test_no_rolling_window_ever_holds_more_than_the_limit_however_callers_arrive(limit):
    clock = Clock()
    throttle = MemoryThrottle(clock)
    rng = random.Random(3)
    sent = []
    for _ in range(5 * limit.requests):
        reservation = throttle.reserve("acct", limit=limit, max_wait=1e9)
        sent.append(clock.now + reservation.wait)
        clock.now += rng.choice([0.0, 0.001, limit.window_seconds / 3])  # bursts, trickles and pauses
    for start in sent:
        in_window = [t for t in sent if start <= t < start + limit.window_seconds]
        assert len(in_window) <= limit.allowed < limit.requests


def test_time_lost_by_a_stalled_worker_is_made_up():
    limit = RequestLimit(10, 1.0)  # 9 per 1.11 s
    clock = Clock()
    throttle = MemoryThrottle(clock)
    clock.now += 5  # nobody sent anything for 5 s
    waits = [throttle.reserve("k", limit=limit, max_wait=10).wait for _ in range(9)]
    assert waits == [0.0] * 9  # a full window at once
    assert throttle.reserve("k", limit=limit, max_wait=10).wait == pytest.approx(limit.span)


def test_a_slot_too_far_away_is_refused_and_not_booked():
    limit = RequestLimit(2, 10.0)
    throttle = MemoryThrottle(Clock())
    assert throttle.reserve("k", limit=limit, max_wait=1).granted
    refused = throttle.reserve("k", limit=limit, max_wait=1)
    assert not refused.granted and refused.wait == pytest.approx(limit.span)
    assert throttle.reserve("k", limit=limit, max_wait=100).wait == pytest.approx(limit.span)  # nothing was booked


def test_keys_are_independent():
    throttle = MemoryThrottle(Clock())
    limit = RequestLimit(2, 1.0)
    throttle.reserve("a", limit=limit, max_wait=10)
    assert throttle.reserve("b", limit=limit, max_wait=10).wait == 0
    assert throttle.reserve("a", limit=limit, max_wait=10).wait == pytest.approx(limit.span)


def test_workers_on_separate_connections_share_one_redis_log(redis_client: Redis):
    one = RedisThrottle(Redis.from_url(REDIS_URL))
    two = RedisThrottle(Redis.from_url(REDIS_URL))
    limit = RequestLimit(3, 0.5)  # 2 per 0.605 s
    waits = [throttle.reserve("org:int", limit=limit, max_wait=10).wait for throttle in (one, two, one, two)]
    assert waits[0] == pytest.approx(0, abs=0.02) and waits[1] == pytest.approx(0, abs=0.02)
    assert waits[2] == pytest.approx(0.605, abs=0.03) and waits[3] == pytest.approx(0.605, abs=0.03)
    refused = one.reserve("org:int", limit=limit, max_wait=0.2)
    assert not refused.granted and refused.wait == pytest.approx(1.21, abs=0.05)
    assert two.reserve("org:int", limit=limit, max_wait=10).wait == pytest.approx(1.21, abs=0.05)


def test_a_redis_restart_only_frees_the_log(redis_client: Redis):
    throttle = RedisThrottle(redis_client)
    limit = RequestLimit(2, 10.0)
    throttle.reserve("org:int", limit=limit, max_wait=100)
    assert throttle.reserve("org:int", limit=limit, max_wait=100).wait > 9
    redis_client.flushdb()  # the script cache and the log are gone
    assert throttle.reserve("org:int", limit=limit, max_wait=100).wait == pytest.approx(0, abs=0.02)


def test_an_unreachable_redis_is_reported_not_ignored():
    throttle = RedisThrottle(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    with pytest.raises(ThrottleUnavailable):
        throttle.reserve("org:int", limit=RequestLimit(2, 1.0), max_wait=10)


async def test_take_slot_sleeps_until_the_slot_or_hands_back_a_far_one():
    throttle = MemoryThrottle()
    limit = RequestLimit(2, 0.1)  # 1 per 0.201 s
    started = time.monotonic()
    assert await take_slot(throttle, "k", limit=limit, max_wait=1) == 0
    waited = await take_slot(throttle, "k", limit=limit, max_wait=1)
    assert waited == pytest.approx(0.201, abs=0.02) and time.monotonic() - started >= 0.19
    slow = RequestLimit(2, 100.0)
    await take_slot(throttle, "slow", limit=slow, max_wait=1)
    with pytest.raises(ThrottleWait) as refused:
        await take_slot(throttle, "slow", limit=slow, max_wait=1)
    assert refused.value.wait > 1
