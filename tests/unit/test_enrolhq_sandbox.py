"""EnrolHQClient against the sandbox EnrolHQ: real token cancellation and a real rate limit."""

from __future__ import annotations

import threading

import pytest
import requests

from apicore.backoff import BackoffPolicy
from apicore.ratelimit import RateLimiter
from enrolhq.client import EnrolHQClient
from enrolhq.tokens import MemoryTokenStore
from sandbox.testing import SandboxServers


@pytest.fixture
def limited(sandbox):
    """The sandbox with EnrolHQ's request and sign-in limits on, as on the real service."""
    sandbox.enrolhq.configure(rate_limits=True)
    return sandbox


def api_token(servers: SandboxServers) -> str:
    return servers.seed_doc["enrolhq"]["api_tokens"][0]


def make_client(servers: SandboxServers, store: MemoryTokenStore, limiter: RateLimiter) -> EnrolHQClient:
    return EnrolHQClient(
        servers.enrolhq_url,
        api_token(servers),
        token_store=store,
        rate_limiter=limiter,
        backoff=BackoffPolicy(attempts=8, base=0.05, cap=2.0),
    )


def test_three_unpaced_threads_sharing_a_store_sign_in_once_and_ride_out_the_rate_limit(limited):
    store = MemoryTokenStore()
    clients = [make_client(limited, store, RateLimiter(0)) for _ in range(3)]
    ids = [application["id"] for application in limited.seed_doc["enrolhq"]["applications"]]
    start = threading.Barrier(3)
    read: list[str] = []
    errors: list[Exception] = []

    def work(client: EnrolHQClient) -> None:
        start.wait()
        try:
            read.extend(client.get_application(app_id)["id"] for app_id in ids[:5])
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    metrics = limited.enrolhq.metrics()
    assert errors == []
    assert sorted(read) == sorted(ids[:5] * 3)
    assert metrics["sign_ins"] == 1
    assert metrics["rate_limited"] > 0


def test_token_cancelled_by_another_sign_in_is_replaced_once(limited):
    client = make_client(limited, MemoryTokenStore(), RateLimiter(0))
    client.status_settings()

    stranger = requests.post(
        limited.enrolhq_url + "accounts/refresh/",
        headers={"Authorization": f"Token {api_token(limited)}"},
        timeout=10,
    )
    stranger.raise_for_status()

    assert client.status_settings()
    assert client.stats.sign_ins == 2
