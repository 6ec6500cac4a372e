"""Fixtures of the distributed test: a throw-away PostgreSQL database and Redis key space per run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def stack_database_url(postgres_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server, dropped afterwards with everything in it."""
    import sqlalchemy as sa

    name = f"sentral_dist_{os.getpid()}"
    # Databases are created from the maintenance database, which exists on every server.
    maintenance = sa.engine.make_url(postgres_url).set(database="postgres")
    server = sa.create_engine(maintenance, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            # FORCE ends sessions that a killed process may have left open.
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@pytest.fixture(scope="module")
def broker(redis_url: str) -> Iterator[tuple[str, str]]:
    """The Redis URL and a key prefix for this run's Celery; its keys are deleted afterwards."""
    import redis

    prefix = f"sentral_dist_{os.getpid()}:"
    yield redis_url, prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test of the native stack shows where its logs are and how each one ends."""
    report = yield
    stack = getattr(item, "funcargs", {}).get("stack")
    if report.failed and stack is not None:
        report.sections.append(("native stack logs", f"{stack.logs}\n{stack.log_tails()}"))
    return report
