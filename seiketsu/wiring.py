"""Where the domain packages plug into the kernel: their job handlers (and, in create_app, their routes)."""

from __future__ import annotations

from seiketsu.container import Container


def wire_packages(container: Container) -> None:
    """Register every package's job handlers; the worker and the web app call this alike."""
    del container  # no domain package registers jobs yet
