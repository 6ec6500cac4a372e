"""The Airflow hook that builds an :class:`~enrolhq.client.EnrolHQClient` from a connection.

Connection fields:

- ``host``: the instance host (``school.enrolhq.com.au``, which means
  ``https://school.enrolhq.com.au/api/v2/``), or a full base URL (``http://127.0.0.1:8701/api/v2/``
  for the sandbox). A full URL without a path gets ``/api/v2/``.
- ``password``: the long-lived API token.
- ``extra``: ``requests_per_second`` (default 4.5) and ``timeout`` in seconds (default 30).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from enrolhq.client import EnrolHQClient
    from enrolhq.tokens import TokenStore

DEFAULT_TIMEOUT = 30.0
API_PATH = "/api/v2/"


class EnrolHQHook(BaseHook):
    """Reads an ``enrolhq`` connection and hands out clients for it.

    :param enrolhq_conn_id: the Airflow connection holding the instance host and API token.
    """

    conn_name_attr = "enrolhq_conn_id"
    default_conn_name = "enrolhq_default"
    conn_type = "enrolhq"
    hook_name = "EnrolHQ"

    def __init__(self, enrolhq_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.enrolhq_conn_id = enrolhq_conn_id

    def get_conn(self) -> EnrolHQClient:
        """A client for the connection, sharing this process's access token."""
        return self.get_client()

    def get_client(self, token_store: TokenStore | None = None) -> EnrolHQClient:
        """A client for the connection.

        :param token_store: where the access token is shared; pass a
            :class:`~enrolhq.tokens.SqlTokenStore` on the ledger database when tasks run on several
            machines. By default the token is shared within this process only.
        """
        from airflow.sdk.log import mask_secret

        from enrolhq.client import EnrolHQClient
        from enrolhq.tokens import token_key
        from enrolhq.transport import DEFAULT_REQUESTS_PER_SECOND, shared_rate_limiter

        conn = self.get_connection(self.enrolhq_conn_id)
        base_url = base_url_from_host(conn.host or "", conn.port)
        api_token = conn.password or ""
        if not base_url or not api_token:
            raise ValueError(
                f"connection {self.enrolhq_conn_id!r} needs the EnrolHQ instance host in its host field "
                "and the API token in its password field"
            )
        extra = conn.extra_dejson or {}
        per_second = self._number(extra, "requests_per_second", DEFAULT_REQUESTS_PER_SECOND)
        timeout = self._number(extra, "timeout", DEFAULT_TIMEOUT)
        return EnrolHQClient(
            base_url,
            api_token,
            token_store=token_store,
            rate_limiter=shared_rate_limiter(token_key(base_url, api_token), per_second),
            timeout=timeout,
            mask_secret=mask_secret,
        )

    def test_connection(self) -> tuple[bool, str]:
        """Sign in and read one summary: what the connection form's Test button runs."""
        try:
            visible = self.get_client().check()
        except Exception as exc:
            return False, str(exc)
        return True, f"signed in; {visible} applications visible"

    def _number(self, extra: dict, name: str, default: float) -> float:
        value = extra.get(name, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"connection {self.enrolhq_conn_id!r}: extra field {name!r} must be a number, not {value!r}"
            ) from None
        if number <= 0:
            raise ValueError(f"connection {self.enrolhq_conn_id!r}: extra field {name!r} must be above 0")
        return number


def base_url_from_host(host: str, port: int | None = None) -> str:
    """The API root for a connection's host field.

    :param host: an instance host, or a URL with a scheme (and optionally the API path).
    :param port: the connection's port, used when ``host`` is a bare host name.
    """
    host = host.strip()
    if not host:
        return ""
    if "://" not in host:
        netloc = f"{host.strip('/')}:{port}" if port else host.strip("/")
        return f"https://{netloc}{API_PATH}"
    parts = urlsplit(host)
    path = parts.path if parts.path not in ("", "/") else API_PATH
    if not path.endswith("/"):
        path += "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
