"""A production-style worker process for the fault-injection test: `seiketsu worker` with short leases.

Started with multiprocessing's spawn method, so it shares nothing with the test process but the database, Redis
and the CRM fake's URL (a local double: private targets allowed); the test kills it with SIGKILL whenever it likes.
"""

from __future__ import annotations

from datetime import timedelta

from crm_adapters.runtime import http_client_factory
from crm_adapters.wiring import register
from seiketsu.container import build_container
from seiketsu.jobs.rq_backend import RQDispatcher, RQWorker
from seiketsu.jobs.runner import JobRunner, RunnerConfig
from tests.conftest import fast_passwords, make_settings
from tests.crm_adapters.delivery_support import use_http

LEASE = timedelta(seconds=2)
CLIENT_TIMEOUT = 0.25
"""Shorter than the fake's slow answers, so those time out on the client while the server goes on."""


def runner_config() -> RunnerConfig:
    return RunnerConfig(lease=LEASE, redispatch_after=timedelta(seconds=3), backoff_base=0.0)


def run_worker(database_url: str, redis_url: str, crm_url: str) -> None:
    settings = make_settings(database_url=database_url, redis_url=redis_url, embedded_jobs=False)
    container = build_container(settings, runner_config=runner_config(), passwords=fast_passwords())
    register(container)
    factory = http_client_factory(timeout=CLIENT_TIMEOUT, allow_private=True)
    use_http(container, factory, base_url=crm_url, delivery_lease=LEASE)
    dispatcher = container.jobs.dispatcher
    assert isinstance(dispatcher, RQDispatcher)
    RQWorker(JobRunner(container, container.runner_config), dispatcher, sweep_interval=0.5).work()
