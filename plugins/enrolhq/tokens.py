"""Where EnrolHQ access tokens live, so that every task and worker of a deployment shares one.

EnrolHQ cancels the previous access token of an API token at each sign-in, and allows about five
sign-ins a minute. Workers that each signed in for themselves would cancel each other's tokens in a
loop; so a worker that meets a 401 asks the store to replace the token that failed, and the store,
under a lock, either hands back a token another worker already fetched or signs in once.

A store is keyed by :func:`token_key`, a hash of the instance's base URL and the API token: the API
token itself is never stored. The access token is stored as is, because every worker must be able to
send it; it lives as long as the next sign-in.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import sqlalchemy as sa

from apicore.errors import RetriableApiError

log = logging.getLogger(__name__)

DEFAULT_TABLE_NAME = "enrolhq_access_token"


def token_key(base_url: str, api_token: str) -> str:
    """The store key of one API token on one EnrolHQ instance.

    :param base_url: the instance's API base URL; a trailing slash makes no difference.
    :param api_token: the long-lived API token; only its hash leaves this function.
    """
    material = f"{base_url.rstrip('/').lower()}\n{api_token}".encode()
    return hashlib.sha256(material).hexdigest()


@runtime_checkable
class TokenStore(Protocol):
    """One current access token per key, replaced at most once per failure across all its users."""

    def current(self, key: str) -> str | None:
        """The stored access token for ``key``, or None when nobody has signed in yet."""
        ...

    def replace(self, key: str, stale: str | None, sign_in: Callable[[], str]) -> str:
        """A usable access token for ``key``.

        :param key: from :func:`token_key`.
        :param stale: the token the caller holds and found refused (None when it holds none). When the
            stored token differs from it, another user already signed in and the stored one is returned.
        :param sign_in: fetches a new access token; called at most once, while the key is locked.
        """
        ...


class MemoryTokenStore:
    """A token store for the threads of one process."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def current(self, key: str) -> str | None:
        return self._tokens.get(key)

    def replace(self, key: str, stale: str | None, sign_in: Callable[[], str]) -> str:
        with self._lock_for(key):
            stored = self._tokens.get(key)
            if stored is not None and stored != stale:
                return stored
            token = sign_in()
            self._tokens[key] = token
            return token

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


class TokenLockTimeout(RetriableApiError):
    """Another worker held the token lock for longer than the store is willing to wait."""

    def __init__(self, waited: float) -> None:
        super().__init__("EnrolHQ", f"waited {waited:.0f} s for another worker's sign-in to finish")


class SqlTokenStore:
    """A token store in a database table, shared by every process that reaches the database.

    The lock is the database's: ``SELECT ... FOR UPDATE`` on the key's row on PostgreSQL, and a
    ``BEGIN IMMEDIATE`` transaction (the whole file's write lock) on SQLite. The lock is held while
    ``sign_in`` runs, so a second process that found the same token refused waits, then sees the new
    token and does not sign in again.

    :param engine: the database; the table is created in it when missing.
    :param table_name: the table's name, for deployments (and tests) that keep several apart.
    :param lock_timeout: seconds to wait for another process's sign-in before giving up.
    """

    def __init__(
        self, engine: sa.Engine, *, table_name: str = DEFAULT_TABLE_NAME, lock_timeout: float = 120.0
    ) -> None:
        self.engine = engine
        self.lock_timeout = lock_timeout
        self._metadata = sa.MetaData()
        self.table = sa.Table(
            table_name,
            self._metadata,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("access_token", sa.Text, nullable=True),
            sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=True),
        )
        self._create_table()

    def _create_table(self) -> None:
        try:
            self._metadata.create_all(self.engine, checkfirst=True)
        except sa.exc.DatabaseError:
            # Two workers starting together may both find the table missing; the loser's CREATE fails
            # although the table is there.
            if not sa.inspect(self.engine).has_table(self.table.name):
                raise

    def current(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(self.table.c.access_token).where(self.table.c.key == key)
            ).scalar_one_or_none()

    def replace(self, key: str, stale: str | None, sign_in: Callable[[], str]) -> str:
        if self.engine.dialect.name == "sqlite":
            return self._replace_sqlite(key, stale, sign_in)
        return self._replace_row_locked(key, stale, sign_in)

    def drop(self) -> None:
        """Remove the table; for tests and for tearing down a deployment."""
        self._metadata.drop_all(self.engine, checkfirst=True)

    def _replace_row_locked(self, key: str, stale: str | None, sign_in: Callable[[], str]) -> str:
        # FOR UPDATE locks only rows that exist, so the key's row is created first, outside the lock.
        self._ensure_row(key)
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(self.lock_timeout * 1000)}")
            try:
                stored = conn.execute(
                    sa.select(self.table.c.access_token).where(self.table.c.key == key).with_for_update()
                ).scalar_one()
            except sa.exc.OperationalError as exc:
                if "lock timeout" in str(exc.orig):
                    raise TokenLockTimeout(self.lock_timeout) from exc
                raise
            if stored is not None and stored != stale:
                return stored
            token = sign_in()
            conn.execute(self._update(key, token))
            return token

    def _ensure_row(self, key: str) -> None:
        try:
            with self.engine.begin() as conn:
                exists = conn.execute(
                    sa.select(self.table.c.key).where(self.table.c.key == key)
                ).scalar_one_or_none()
                if exists is None:
                    conn.execute(sa.insert(self.table).values(key=key, access_token=None))
        except sa.exc.IntegrityError:
            pass  # another process inserted the row first, which is all this needed

    def _replace_sqlite(self, key: str, stale: str | None, sign_in: Callable[[], str]) -> str:
        # pysqlite opens transactions lazily and never as IMMEDIATE; in autocommit mode the driver
        # leaves transaction control to the statements sent here.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            self._begin_immediate(conn)
            try:
                stored = conn.execute(
                    sa.select(self.table.c.access_token).where(self.table.c.key == key)
                ).scalar_one_or_none()
                if stored is not None and stored != stale:
                    conn.exec_driver_sql("COMMIT")
                    return stored
                token = sign_in()
                conn.execute(self._sqlite_upsert(key, token))
                conn.exec_driver_sql("COMMIT")
                return token
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise

    def _begin_immediate(self, conn: sa.Connection) -> None:
        # The driver's busy timeout bounds one wait; a sign-in that backs off on 429 can hold the lock
        # for longer, so the wait is repeated up to lock_timeout.
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except sa.exc.OperationalError as exc:
                if "locked" not in str(exc.orig):
                    raise
                if time.monotonic() >= deadline:
                    raise TokenLockTimeout(self.lock_timeout) from exc
                log.info("waiting for another worker's EnrolHQ sign-in")
                time.sleep(0.05)

    def _sqlite_upsert(self, key: str, token: str) -> sa.Insert:
        from sqlalchemy.dialects.sqlite import insert

        values = {"key": key, "access_token": token, "signed_in_at": datetime.now(UTC)}
        return (
            insert(self.table)
            .values(**values)
            .on_conflict_do_update(index_elements=[self.table.c.key], set_=values)
        )

    def _update(self, key: str, token: str) -> sa.Update:
        return (
            sa.update(self.table)
            .where(self.table.c.key == key)
            .values(access_token=token, signed_in_at=datetime.now(UTC))
        )
