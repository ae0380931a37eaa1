"""A bounded memo for answers that are pure functions of their key.

A ``RuleBook`` owns one (``RuleBook.memo``), so answers that also depend on the rule book's tables are keyed by
what varies between decisions only. Keys are tuples whose first item names the answer, so that two kinds of answer
never share a key. When the memo is full it starts again empty: a miss costs a recomputation, never a wrong answer.
Safe across threads: a race computes an answer twice and keeps either copy.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import ParamSpec, TypeVar, cast

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_SIZE = 1 << 16


class Memo:
    def __init__(self, maxsize: int = DEFAULT_SIZE) -> None:
        self._values: dict[Hashable, object] = {}
        self._maxsize = maxsize

    def get(self, key: tuple[Hashable, ...], compute: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """The answer for ``key``: ``compute(*args, **kwargs)`` on a miss, which must depend on nothing the key
        (and the memo's owner) does not determine."""
        try:
            return cast(T, self._values[key])
        except KeyError:
            pass
        value = compute(*args, **kwargs)
        if len(self._values) >= self._maxsize:
            self._values.clear()
        self._values[key] = value
        return value

    def __len__(self) -> int:
        return len(self._values)
