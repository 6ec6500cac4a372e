"""Test-wide set-up: an isolated Airflow home, and the rule for tests that need a real server.

The Airflow environment is configured here, before anything imports Airflow, because Airflow reads
its configuration once at import.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = ["sandbox_fixtures"]

_home = Path(tempfile.mkdtemp(prefix="sentral-tests-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_home)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home / 'airflow.db'}"
os.environ["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
os.environ.setdefault("SENTRAL_REPORTS_DIR", str(_home / "reports"))
os.environ.setdefault("SENTRAL_LEDGER_URL", f"sqlite:///{_home / 'sentral_ledger.db'}")
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)

for path in (ROOT / "plugins", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def require_server(env_var: str, what: str) -> str:
    """The URL of a server a test needs; skip with the reason when absent, fail instead under CI."""
    url = os.environ.get(env_var)
    reason = None
    if not url:
        reason = f"{env_var} is not set, so no {what} server is named for this test"
    else:
        reason = _unreachable(url, what)
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)
    return url


def _unreachable(url: str, what: str) -> str | None:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or {"redis": 6379}.get(parts.scheme, 5432)
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return f"no {what} server answers at {host}:{port} ({exc.strerror or exc})"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require_server("SENTRAL_TEST_POSTGRES_URL", "PostgreSQL")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return require_server("SENTRAL_TEST_REDIS_URL", "Redis")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database in the session's Airflow home, for ``dag.test()``."""
    from airflow.utils import db

    db.resetdb()
    return _home
