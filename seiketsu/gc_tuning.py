"""Keeping a long-running process's start-up objects out of the cycle collector's full passes.

The modules, the ORM's metadata, the app, the rule book and the warmed voices are a quarter of a million objects
that live as long as the process. A full collection walks them all while every thread waits: 70-135 ms of a
stopped event loop (every live call's audio) in the web process, and 15-25 % of a compliance batch's time in a
worker. Collected once and frozen when the process has started, they are never walked again; what requests,
calls and jobs allocate is collected as before.

Freezing has a side effect the collector does not correct: its rule that a full pass waits until the objects
promoted since the last one are a quarter of all long-lived objects counts only unfrozen ones, so after a freeze
a full pass comes every tenth middle-generation pass. Work that keeps what it allocates (a compliance batch keeps
an answer per decision) then pays one full pass per 7,000 objects kept, each walking everything kept so far:
0.5-0.7 s of a 100,000-decision batch. The full passes are spaced out again (every ``FULL_PASS_EVERY``-th middle
pass); the young generations, whose short passes are the ones live calls meet, are left as they are.
"""

from __future__ import annotations

import gc

FULL_PASS_EVERY = 100
"""Middle-generation passes per full pass once frozen (CPython's default is 10)."""

_DEFAULT_THRESHOLDS = gc.get_threshold()


def freeze_startup_objects() -> None:
    """Collect start-up garbage, move every live object to the collector's permanent generation, and space the
    full passes out again."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_PASS_EVERY)


def release_startup_objects() -> None:
    """Undo :func:`freeze_startup_objects` (the process stops serving, or a test ends)."""
    gc.unfreeze()
    gc.set_threshold(*_DEFAULT_THRESHOLDS)
