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
