"""The circuit breaker, on a clock the test moves."""

from __future__ import annotations

import pytest

from seiketsu.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Down(Exception):
    pass


def _fail() -> None:
    raise Down("no answer")


def _breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker("dep", failures=(Down,), threshold=3, reset_after=5.0, clock=clock)


def _fail_times(breaker: CircuitBreaker, count: int) -> None:
    for _ in range(count):
        with pytest.raises(Down):
            breaker.call(_fail)


def test_it_opens_after_threshold_failures_in_a_row_and_then_refuses_without_calling() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    _fail_times(breaker, 2)
    assert breaker.call(lambda: "ok") == "ok"  # a success resets the count
    _fail_times(breaker, 3)
    assert breaker.state == OPEN
    calls: list[int] = []
    with pytest.raises(CircuitOpen, match="dep is unavailable"):
        breaker.call(lambda: calls.append(1))
    assert calls == []


def test_after_reset_after_one_trial_goes_through_and_its_result_decides() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    _fail_times(breaker, 3)
    clock.now += 5.0
    assert breaker.state == HALF_OPEN
    with pytest.raises(Down):
        breaker.call(_fail)  # the trial fails: open for another reset_after
    assert breaker.state == OPEN
    clock.now += 4.9
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: "refused")
    clock.now += 0.1
    assert breaker.call(lambda: "back") == "back"
    assert breaker.state == CLOSED


def test_only_one_trial_runs_at_a_time() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    _fail_times(breaker, 3)
    clock.now += 5.0
    refused: list[bool] = []

    def trial() -> str:
        try:
            breaker.call(lambda: "second")
        except CircuitOpen:
            refused.append(True)
        return "first"

    assert breaker.call(trial) == "first"
    assert refused == [True]
    assert breaker.state == CLOSED


def test_errors_that_are_not_failures_mean_the_dependency_answered() -> None:
    breaker = _breaker(Clock())
    for _ in range(5):
        with pytest.raises(ValueError):
            breaker.call(lambda: int("not a number"))
    assert breaker.state == CLOSED
