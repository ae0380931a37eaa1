"""The models and the migrations must describe the same schema, on PostgreSQL and SQLite."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from seiketsu.settings import Settings
from seiketsu.wiring import all_metadata


def _drift(url: str) -> list[object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, all_metadata()))
    finally:
        engine.dispose()


def test_models_and_migrations_do_not_drift_on_postgresql(pg_url: str) -> None:
    assert _drift(pg_url) == []


def test_migrations_build_the_same_tables_on_sqlite(sqlite_settings: Settings) -> None:
    engine = sa.create_engine(sqlite_settings.database_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(all_metadata().tables) <= tables
