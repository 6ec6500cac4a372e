"""The two kinds of error every API client in this project raises.

Airflow retries a task only for :class:`RetriableApiError`; a :class:`FatalApiError` fails the task at
once. Messages name the system, the request and what to do, and never carry credentials: clients build
them from the method, the path (no query string) and the server's error text.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base of every error raised by the project's API clients.

    :param system: the remote system, ``"EnrolHQ"`` or ``"Sentral"``.
    :param message: what went wrong, in words an operator can act on.
    :param status: the HTTP status, when there was a response.
    """

    retriable = False

    def __init__(self, system: str, message: str, *, status: int | None = None) -> None:
        self.system = system
        self.status = status
        self.message = message
        prefix = f"{system} {status}" if status else system
        super().__init__(f"{prefix}: {message}")


class RetriableApiError(ApiError):
    """A failure that may pass on its own: timeout, connection error, 5xx, 429."""

    retriable = True

    def __init__(
        self, system: str, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(system, message, status=status)
        self.retry_after = retry_after


class RateLimitedError(RetriableApiError):
    """429 from the server; ``retry_after`` holds the seconds it asked for, when it said."""


class FatalApiError(ApiError):
    """A failure that repeats until a person changes something: bad data, bad credentials, 4xx."""


class AuthenticationError(FatalApiError):
    """401 or 403 that survived one token refresh: the credentials or their permissions are wrong."""


class NotFoundError(FatalApiError):
    """404: the record named in the request does not exist."""


class RequestRejectedError(FatalApiError):
    """4xx validation failure; ``details`` holds the server's per-field errors when it gave them."""

    def __init__(
        self, system: str, message: str, *, status: int | None = None, details: list[str] | None = None
    ) -> None:
        super().__init__(system, message, status=status)
        self.details = details or []


class ResponseLostError(RetriableApiError):
    """A write whose answer never arrived: it may or may not have been applied.

    Callers must look for the effect before sending the write again.
    """
