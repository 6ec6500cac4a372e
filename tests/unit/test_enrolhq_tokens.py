"""One access token per API token: shared by clients, refreshed once on 401, under a lock."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import responses
import sqlalchemy as sa

from apicore.backoff import BackoffPolicy
from apicore.errors import AuthenticationError, RateLimitedError
from apicore.ratelimit import RateLimiter
from enrolhq.client import EnrolHQClient
from enrolhq.tokens import MemoryTokenStore, SqlTokenStore, TokenLockTimeout, token_key

BASE = "https://school.enrolhq.test/api/v2/"
API_TOKEN = "api-token-7c1f0e2a9b"
KEY = token_key(BASE, API_TOKEN)


class FakeEnrolHQ:
    """Sign-in and one list endpoint with EnrolHQ's rule: each sign-in cancels the previous token."""

    def __init__(self, rsps: responses.RequestsMock, *, sign_in_delay: float = 0.0) -> None:
        self.sign_ins = 0
        self.valid: str | None = None
        self.sign_in_delay = sign_in_delay
        self._lock = threading.Lock()
        rsps.add_callback(responses.POST, BASE + "accounts/refresh/", callback=self._sign_in)
        rsps.add_callback(responses.GET, BASE + "application-status-settings/", callback=self._settings)

    def _sign_in(self, request):
        if request.headers["Authorization"] != f"Token {API_TOKEN}":
            return 401, {}, '{"detail": "Invalid token."}'
        time.sleep(self.sign_in_delay)
        with self._lock:
            self.sign_ins += 1
            self.valid = f"access-{self.sign_ins}"
        return 200, {"Content-Type": "application/json"}, f'{{"access_token": "{self.valid}"}}'

    def _settings(self, request):
        if request.headers.get("Authorization") != f"Token {self.valid}":
            return 401, {"Content-Type": "application/json"}, '{"detail": "Invalid token."}'
        return 200, {"Content-Type": "application/json"}, '[{"id": 4, "label": "Orientation"}]'


def make_client(store, **overrides) -> EnrolHQClient:
    options = {
        "token_store": store,
        "rate_limiter": RateLimiter(0),
        "backoff": BackoffPolicy(attempts=3, base=0.0),
        "sleep": lambda seconds: None,
    }
    options.update(overrides)
    return EnrolHQClient(BASE, API_TOKEN, **options)


@pytest.fixture
def server():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeEnrolHQ(rsps)


def test_two_clients_on_one_store_sign_in_once(server):
    store = MemoryTokenStore()

    make_client(store).status_settings()
    make_client(store).status_settings()

    assert server.sign_ins == 1


def test_client_built_on_a_store_holding_a_valid_token_does_not_sign_in(server):
    store = MemoryTokenStore()
    make_client(store).status_settings()

    later = make_client(store)
    later.status_settings()

    assert later.stats.sign_ins == 0
    assert server.sign_ins == 1


def test_cancelled_token_is_refreshed_once_and_the_call_retried(server):
    store = MemoryTokenStore()
    store.replace(KEY, None, lambda: "access-cancelled-earlier")
    client = make_client(store)

    assert client.status_settings() == [{"id": 4, "label": "Orientation"}]
    assert server.sign_ins == 1
    assert store.current(KEY) == "access-1"


def test_second_401_after_a_refresh_is_fatal_and_says_to_replace_the_api_token():
    store = MemoryTokenStore()
    with responses.RequestsMock() as rsps:
        rsps.post(BASE + "accounts/refresh/", json={"access_token": "access-new"})
        rsps.get(BASE + "application-status-settings/", status=401, json={"detail": "Invalid token."})

        with pytest.raises(AuthenticationError) as raised:
            make_client(store).status_settings()

        sign_ins = len([call for call in rsps.calls if call.request.url.endswith("accounts/refresh/")])
    assert sign_ins == 2
    assert raised.value.status == 401
    assert "EnrolHQ" in str(raised.value)
    assert "new API token" in str(raised.value)


def test_refused_api_token_fails_at_sign_in_without_retrying():
    with responses.RequestsMock() as rsps:
        rsps.post(BASE + "accounts/refresh/", status=401, json={"detail": "Invalid token."})

        with pytest.raises(AuthenticationError, match="API token was refused"):
            make_client(MemoryTokenStore()).status_settings()

        assert len(rsps.calls) == 1


def test_rate_limited_sign_in_waits_and_retries_instead_of_blaming_the_credentials():
    waits = []
    with responses.RequestsMock() as rsps:
        rsps.post(BASE + "accounts/refresh/", status=429, headers={"Retry-After": "12"}, body="")
        rsps.post(BASE + "accounts/refresh/", json={"access_token": "access-1"})
        rsps.get(BASE + "application-status-settings/", json=[])

        make_client(MemoryTokenStore(), sleep=waits.append).status_settings()

    assert waits == [12.0]


def test_sign_in_rate_limited_every_time_stays_retriable():
    with responses.RequestsMock() as rsps:
        rsps.post(BASE + "accounts/refresh/", status=429, headers={"Retry-After": "1"}, body="")

        with pytest.raises(RateLimitedError):
            make_client(MemoryTokenStore()).status_settings()


def test_sign_in_refused_while_another_is_in_flight_is_retried():
    with responses.RequestsMock() as rsps:
        rsps.post(BASE + "accounts/refresh/", status=400, json={"detail": "Refresh already in progress."})
        rsps.post(BASE + "accounts/refresh/", json={"access_token": "access-1"})
        rsps.get(BASE + "application-status-settings/", json=[])

        assert make_client(MemoryTokenStore()).status_settings() == []


def test_two_threads_meeting_401_together_sign_in_once():
    store = MemoryTokenStore()
    store.replace(KEY, None, lambda: "access-cancelled-earlier")
    clients = [make_client(store), make_client(store)]
    start = threading.Barrier(2)
    errors = []

    def work(client):
        start.wait()
        try:
            client.status_settings()
        except Exception as exc:
            errors.append(exc)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        server = FakeEnrolHQ(rsps, sign_in_delay=0.05)
        threads = [threading.Thread(target=work, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert server.sign_ins == 1


def test_memory_store_hands_back_a_token_someone_else_already_refreshed():
    store = MemoryTokenStore()
    store.replace("k", None, lambda: "fresh")

    token = store.replace("k", "stale", lambda: pytest.fail("signed in although a fresh token was stored"))

    assert token == "fresh"


# SqlTokenStore


def sign_in_counter(delay: float = 0.0):
    calls = []

    def sign_in():
        time.sleep(delay)
        calls.append(1)
        return f"access-{len(calls)}"

    return sign_in, calls


def replace_concurrently(stores, stale):
    """Each store replaces ``stale`` in its own thread at the same moment; returns the sign-in count."""
    sign_in, calls = sign_in_counter(delay=0.1)
    start = threading.Barrier(len(stores))
    results = []

    def work(store):
        start.wait()
        results.append(store.replace(KEY, stale, sign_in))

    threads = [threading.Thread(target=work, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(calls), results


@pytest.fixture
def sqlite_engines(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engines = [sa.create_engine(url), sa.create_engine(url)]
    yield engines
    for engine in engines:
        engine.dispose()


def test_sql_store_on_sqlite_shares_the_token_between_engines(sqlite_engines):
    first, second = (SqlTokenStore(engine) for engine in sqlite_engines)

    first.replace(KEY, None, lambda: "access-1")

    assert second.current(KEY) == "access-1"


def test_sql_store_on_sqlite_signs_in_once_when_two_engines_refresh_together(sqlite_engines):
    stores = [SqlTokenStore(engine) for engine in sqlite_engines]
    stores[0].replace(KEY, None, lambda: "access-0")

    sign_ins, results = replace_concurrently(stores, stale="access-0")

    assert sign_ins == 1
    assert results == ["access-1", "access-1"]


def test_sql_store_never_holds_the_api_token(sqlite_engines):
    store = SqlTokenStore(sqlite_engines[0])
    store.replace(KEY, None, lambda: "access-1")

    with sqlite_engines[0].connect() as conn:
        rows = [tuple(row) for row in conn.execute(sa.select(store.table))]

    assert API_TOKEN not in repr(rows)
    assert [row[:2] for row in rows] == [(KEY, "access-1")]


def test_sql_store_keeps_the_old_token_when_sign_in_fails(sqlite_engines):
    store = SqlTokenStore(sqlite_engines[0])
    store.replace(KEY, None, lambda: "access-1")

    def failing_sign_in():
        raise RateLimitedError("EnrolHQ", "rate limited", status=429)

    with pytest.raises(RateLimitedError):
        store.replace(KEY, "access-1", failing_sign_in)

    assert store.current(KEY) == "access-1"


@pytest.mark.postgres
def test_sql_store_on_postgresql_signs_in_once_when_two_engines_refresh_together(postgres_url):
    table = f"enrolhq_token_test_{uuid.uuid4().hex[:8]}"
    engines = [sa.create_engine(postgres_url), sa.create_engine(postgres_url)]
    stores = [SqlTokenStore(engine, table_name=table) for engine in engines]
    try:
        stores[0].replace(KEY, None, lambda: "access-0")

        sign_ins, results = replace_concurrently(stores, stale="access-0")

        assert sign_ins == 1
        assert results == ["access-1", "access-1"]
        assert stores[1].current(KEY) == "access-1"
    finally:
        stores[0].drop()
        for engine in engines:
            engine.dispose()


def test_each_access_token_used_is_handed_to_the_log_masker_once(server):
    store = MemoryTokenStore()
    store.replace(KEY, None, lambda: "access-cancelled-earlier")
    masked = []
    client = make_client(store, mask_secret=masked.append)

    client.status_settings()
    client.status_settings()

    assert masked == ["access-cancelled-earlier", "access-1"]


def test_sql_store_on_sqlite_gives_up_retriably_when_another_sign_in_holds_the_lock_too_long(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    holder_engine = sa.create_engine(url)
    waiter_engine = sa.create_engine(url, connect_args={"timeout": 0.05})
    waiter = SqlTokenStore(waiter_engine, lock_timeout=0.3)
    try:
        with holder_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
            holder.exec_driver_sql("BEGIN IMMEDIATE")

            with pytest.raises(TokenLockTimeout) as raised:
                waiter.replace(KEY, None, lambda: pytest.fail("signed in without the lock"))

            holder.exec_driver_sql("ROLLBACK")
        assert raised.value.retriable
    finally:
        holder_engine.dispose()
        waiter_engine.dispose()
