"""Callbacks into a session that do not keep it alive."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from agent.weak_callbacks import OwnerGone, weakly


class Owner:
    def __init__(self) -> None:
        self.seen: list[int] = []

    def note(self, value: int, *, twice: bool = False) -> int:
        self.seen.extend([value] * (2 if twice else 1))
        return len(self.seen)

    async def later(self, value: int) -> int:
        await asyncio.sleep(0)
        return value * 2


def test_the_callback_calls_the_method_with_its_arguments_and_returns_its_result() -> None:
    owner = Owner()
    note = weakly(owner.note)
    assert note(3) == 1 and note(4, twice=True) == 3
    assert owner.seen == [3, 4, 4]
    assert asyncio.run(weakly(owner.later)(5)) == 10


def test_a_part_holding_the_callback_does_not_keep_its_owner_alive() -> None:
    class Part:
        def __init__(self, callback: object) -> None:
            self.callback = callback

    gc.disable()
    try:
        owner = Owner()
        owner.part = Part(weakly(owner.note))  # type: ignore[attr-defined]
        gone = weakref.ref(owner)
        del owner
        assert gone() is None  # freed by reference counting, with the cycle collector off
    finally:
        gc.enable()


def test_calling_back_into_a_released_owner_is_a_clear_error() -> None:
    owner = Owner()
    note = weakly(owner.note)
    del owner
    gc.collect()
    with pytest.raises(OwnerGone, match="Owner.note"):
        note(1)
