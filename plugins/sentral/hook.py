"""The Airflow hook that builds a :class:`~sentral.client.SentralClient` from a ``sentral`` connection.

Connection fields:

- ``host``: the REST root, ``https://<school host>/restapi``. A bare host name gets ``https://``, and
  a URL without a path gets ``/restapi``.
- ``login``: the tenant code (``X-API-TENANT``).
- ``password``: the API key (``X-API-KEY``).
- ``extra``: ``requests_per_second`` (no limit when absent: Sentral publishes none) and ``timeout``
  (seconds, 30 when absent).
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow.sdk import BaseHook

from apicore.errors import FatalApiError
from apicore.ratelimit import RateLimiter
from sentral.client import SYSTEM, SentralClient

DEFAULT_TIMEOUT = 30.0
REST_ROOT = "/restapi"

# One limiter per connection and rate, shared by every client of the process, so that parallel tasks
# in one worker process stay under the rate together.
_limiters: dict[tuple[str, float], RateLimiter] = {}
_limiters_lock = threading.Lock()


class SentralHook(BaseHook):
    """Reads a Sentral connection and hands out clients for it.

    :param sentral_conn_id: the Airflow connection holding the school's Sentral host, tenant and key.
    """

    conn_name_attr = "sentral_conn_id"
    default_conn_name = "sentral_default"
    conn_type = "sentral"
    hook_name = "Sentral"

    def __init__(self, sentral_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sentral_conn_id = sentral_conn_id

    def get_conn(self) -> SentralClient:
        """The client, under the name Airflow's hook interface uses."""
        return self.get_client()

    def get_client(self) -> SentralClient:
        """A client configured from the connection; raises FatalApiError naming any field that is missing."""
        conn = self.get_connection(self.sentral_conn_id)
        if not conn.host:
            raise self._missing("host", "the Sentral REST root, e.g. https://school.sentral.com.au/restapi")
        if not conn.login:
            raise self._missing("login", "the tenant code (X-API-TENANT)")
        if not conn.password:
            raise self._missing("password", "the API key (X-API-KEY)")

        extra = conn.extra_dejson
        rate = self._number(extra, "requests_per_second", None)
        return SentralClient(
            base_url_from(conn.host, conn.port),
            conn.password,
            conn.login,
            rate_limiter=_shared_limiter(self.sentral_conn_id, rate) if rate else None,
            timeout=self._number(extra, "timeout", DEFAULT_TIMEOUT),
        )

    def test_connection(self) -> tuple[bool, str]:
        """What the UI's "Test" button shows: whether one lookup read succeeds, and why not."""
        try:
            self.get_client().check()
        except Exception as exc:
            return False, str(exc)
        return True, "Sentral answered with the key and tenant of this connection"

    def _missing(self, name: str, meaning: str) -> FatalApiError:
        return FatalApiError(
            SYSTEM, f"connection {self.sentral_conn_id!r} has no {name}; set it to {meaning}"
        )

    def _number(self, extra: dict[str, Any], name: str, default: float | None) -> float | None:
        value = extra.get(name)
        if value in (None, ""):
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = -1.0
        if number <= 0:
            raise FatalApiError(
                SYSTEM, f"connection {self.sentral_conn_id!r}: extra {name} must be a positive number"
            )
        return number


def base_url_from(host: str, port: int | None = None) -> str:
    """The REST root URL from a connection's host (and port, when the host does not carry one)."""
    host = host.strip()
    if "://" not in host:
        host = "https://" + host
    parts = urlsplit(host)
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/") or REST_ROOT
    return urlunsplit((parts.scheme, netloc, path + "/", "", ""))


def _shared_limiter(conn_id: str, per_second: float) -> RateLimiter:
    with _limiters_lock:
        limiter = _limiters.get((conn_id, per_second))
        if limiter is None:
            limiter = _limiters[(conn_id, per_second)] = RateLimiter(per_second)
        return limiter
