"""Keeping a long-running process's start-up objects out of the cycle collector's full passes.

The modules, the ORM's metadata, the app, the rule book and the warmed voices are a quarter of a million objects
that live as long as the process. A full collection walks them all while every thread waits: 70-135 ms of a
stopped event loop (every live call's audio) in the web process, and 15-25 % of a compliance batch's time in a
worker. Collected once and frozen when the process has started, they are never walked again; what requests,
calls and jobs allocate is collected as before.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect start-up garbage, then move every live object to the collector's permanent generation."""
    gc.collect()
    gc.freeze()


def release_startup_objects() -> None:
    """Undo :func:`freeze_startup_objects` (the process stops serving, or a test ends)."""
    gc.unfreeze()
