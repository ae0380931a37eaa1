"""The fact statement is planned for each execution's arrays: psycopg never prepares it (a prepared statement's
generic plan read a chunk of 2,000 numbers 30 times slower)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from compliance.fact_query import FactQuery
from seiketsu.container import Container
from tests.compliance.support import NOW


def test_fact_statement_is_never_prepared(container: Container) -> None:
    query = FactQuery()
    with container.engine.connect() as conn:
        driver = conn.connection.driver_connection
        threshold = getattr(driver, "prepare_threshold", None)
        for _ in range(12):  # psycopg prepares a statement after five executions by default
            query.read(
                conn,
                uuid.uuid4(),
                phones=["+12125550134"],
                lead_ids=[],
                area_codes=["212"],
                numbers=[2125550134],
                earliest=NOW,
                since=NOW,
                until=NOW,
            )
        prepared = conn.execute(sa.text("SELECT statement FROM pg_prepared_statements")).scalars().all()
        assert not [s for s in prepared if "dnc_registry_numbers" in s]
        assert getattr(driver, "prepare_threshold", None) == threshold
