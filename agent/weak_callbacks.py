"""Callbacks from a call session's parts into the session that do not keep it alive.

A session owns its parts (speaker, listener, call control) and hands them its own methods as callbacks. Held
strongly, each such callback closes a reference cycle (session -> part -> bound method -> session), so a finished
call's objects, buffers and socket would wait for the cyclic garbage collector's next full pass, which comes
rarely once a process has frozen its start-up objects, instead of going as soon as the host drops the session.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class OwnerGone(RuntimeError):
    """A part called back into a session that no longer exists (a bug: the session owns its parts)."""


def weakly(method: Callable[P, R]) -> Callable[P, R]:
    """``method`` (a bound method) called through a weak reference to its object."""
    ref = weakref.WeakMethod(method)
    name = getattr(method, "__qualname__", repr(method))

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        target = ref()
        if target is None:
            raise OwnerGone(f"{name} called after its owner was released")
        result: R = target(*args, **kwargs)
        return result

    return call
