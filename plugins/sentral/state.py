"""Where the pipelines keep their state: the database behind the sync ledger and the shared token.

The database is chosen, in order, by an explicit URL, the Airflow connection ``sentral_ledger``, the
environment variable ``SENTRAL_LEDGER_URL``, and finally a SQLite file under ``AIRFLOW_HOME`` (the
embedded default). Each module that keeps state declares its tables on :data:`metadata`; calling
:func:`get_engine` creates any that are missing.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import sqlalchemy as sa

log = logging.getLogger(__name__)

LEDGER_CONN_ID = "sentral_ledger"

metadata = sa.MetaData()

_engines: dict[str, sa.Engine] = {}
_created: dict[str, set[str]] = {}
_lock = threading.Lock()


def default_sqlite_url() -> str:
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(home / 'sentral_ledger.db').resolve()}"


def _url_from_airflow_connection() -> str | None:
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # running outside Airflow: benchmarks, the sandbox
        return None
    try:
        conn = BaseHook.get_connection(LEDGER_CONN_ID)
    except Exception:
        return None
    return sa.engine.URL.create(
        drivername=_driver_for(conn.conn_type),
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port or None,
        database=conn.schema or None,
    ).render_as_string(hide_password=False)


def _driver_for(conn_type: str | None) -> str:
    if conn_type in ("postgres", "postgresql"):
        return "postgresql+psycopg2"
    if conn_type == "sqlite":
        return "sqlite"
    raise ValueError(
        f"connection {LEDGER_CONN_ID!r} has type {conn_type!r}; the ledger supports postgres or sqlite"
    )


def resolve_url(url: str | None = None) -> str:
    """The database URL the ledger uses, by the order in the module docstring."""
    return (
        url or _url_from_airflow_connection() or os.environ.get("SENTRAL_LEDGER_URL") or default_sqlite_url()
    )


def _enable_sqlite_concurrency(engine: sa.Engine) -> None:
    # Several task processes share the file: WAL lets readers go on while one writes, and the busy
    # timeout makes a writer wait for the lock instead of failing.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def get_engine(url: str | None = None) -> sa.Engine:
    """One engine per database URL per process, with every table declared so far created."""
    resolved = resolve_url(url)
    with _lock:
        engine = _engines.get(resolved)
        if engine is None:
            engine = sa.create_engine(resolved, pool_pre_ping=True)
            if engine.dialect.name == "sqlite":
                _enable_sqlite_concurrency(engine)
            _engines[resolved] = engine
            _created[resolved] = set()
            log.info("ledger database: %s", engine.url.render_as_string(hide_password=True))
        # Tables are declared by the modules that own them, which may be imported after the first call.
        if set(metadata.tables) - _created[resolved]:
            metadata.create_all(engine, checkfirst=True)
            _created[resolved] = set(metadata.tables)
    return engine
