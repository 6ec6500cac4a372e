"""Pytest fixtures that start the sandbox servers for end-to-end tests.

``sandbox_school`` is a small generated school; ``sandbox`` runs both servers on it, once per test
module, and resets them before each test that uses it (data, faults, metrics and settings).
EnrolHQ's rate limits are off here so that tests run at full speed; a test that needs them turns
them on with ``sandbox.enrolhq.configure(rate_limits=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

SCHOOL_SIZE = 16


@pytest.fixture(scope="session")
def sandbox_school() -> dict:
    """A generated school of 16 applications (every scenario) plus two current students."""
    from sandbox.generator import generate_school

    return generate_school(size=SCHOOL_SIZE, seed=1, name="demo")


@pytest.fixture(scope="module")
def _sandbox_servers(sandbox_school: dict) -> Iterator:
    from sandbox.testing import SandboxServers

    with SandboxServers(sandbox_school, enrolhq_config={"rate_limits": False}) as servers:
        yield servers


@pytest.fixture
def sandbox(_sandbox_servers):
    """Both sandbox servers, freshly reset to ``sandbox_school``; ``sandbox.reset()`` resets again."""
    _sandbox_servers.reset()
    return _sandbox_servers


def point_dags_at(servers, ledger_dir, *, school: str = "demo", requests_per_second: float | None = None):
    """Sets the environment the DAGs read: the school's two connections and a ledger of its own.

    Returns the ``MonkeyPatch`` that holds the settings; ``undo()`` it when the servers stop.

    :param ledger_dir: a folder for the ledger's SQLite file, so that no other module's drafts show up.
    :param requests_per_second: EnrolHQ client pacing for this school; None keeps the connection's own.
    """
    import json

    env = servers.connection_env(school)
    if requests_per_second is not None:
        name = f"AIRFLOW_CONN_ENROLHQ_{school.upper()}"
        conn = json.loads(env[name])
        conn["extra"]["requests_per_second"] = requests_per_second
        env[name] = json.dumps(conn)
    patch = pytest.MonkeyPatch()
    for name, value in env.items():
        patch.setenv(name, value)
    patch.setenv("SENTRAL_LEDGER_URL", f"sqlite:///{ledger_dir / 'ledger.db'}")
    return patch
