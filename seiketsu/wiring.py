"""Where the domain packages plug into the kernel.

Each package exposes a ``wiring`` module with:

* ``register(container)``: its job handlers, event subscriptions and process-wide resources
  (``container.extras[...]``); the web app and the worker both call it;
* ``routers()``: its FastAPI routers (the web app only);
* ``async startup(container)`` / ``async shutdown(container)``: optional, run by the web app's lifespan.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType

import sqlalchemy as sa
from fastapi import APIRouter

from seiketsu.container import Container

PACKAGES = ("compliance.wiring", "telephony.wiring", "crm_adapters.wiring", "webhooks.wiring")
MODEL_MODULES = (
    "seiketsu.models",
    "compliance.models",
    "telephony.models",
    "telephony.sms_models",
    "telephony.campaigns.models",
    "crm_adapters.models",
    "webhooks.models",
)


def all_metadata() -> sa.MetaData:
    """The metadata of every table, the kernel's and the packages' (for Alembic and the tests)."""
    modules = [importlib.import_module(name) for name in MODEL_MODULES]
    metadata: sa.MetaData = modules[0].metadata
    return metadata


def _modules(names: Sequence[str] = PACKAGES) -> list[ModuleType]:
    return [importlib.import_module(name) for name in names]


def wire_packages(container: Container) -> None:
    """Register every package's jobs, subscriptions and resources; the worker and the web app call this alike."""
    for module in _modules():
        module.register(container)


def package_routers() -> list[APIRouter]:
    return [router for module in _modules() for router in module.routers()]


async def start_packages(container: Container) -> None:
    for module in _modules():
        startup = getattr(module, "startup", None)
        if startup is not None:
            await startup(container)


async def stop_packages(container: Container) -> None:
    for module in reversed(_modules()):
        shutdown = getattr(module, "shutdown", None)
        if shutdown is not None:
            await shutdown(container)
