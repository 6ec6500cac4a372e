"""What an answer from Sentral means: success, or the retriable or fatal error to raise.

Every response and every transport failure of :class:`~sentral.client.SentralClient` is classified here,
in one place, so the retry rules can change without reading the paging or request code. A write whose
outcome is unknown (no answer, a dropped connection, a 5xx) becomes :class:`ResponseLostError`: Sentral
has no idempotency key, so the caller must look for the record before sending it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from apicore.backoff import parse_retry_after
from apicore.errors import (
    ApiError,
    AuthenticationError,
    FatalApiError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    ResponseLostError,
    RetriableApiError,
)
from sentral.jsonapi import error_details

SYSTEM = "Sentral"


def classify(
    response: requests.Response, method: str, path: str, *, redact: Callable[[str], str] = str
) -> ApiError | None:
    """What a response means: None for success, else the error to raise (retriable or fatal).

    :param response: the server's answer.
    :param method: the request's method, for the message.
    :param path: the request's path without query string, for the message.
    :param redact: removes credentials from any text the server sent back.
    """
    status = response.status_code
    request = f"{method} {path}"
    if status < 300:
        return None
    if status < 400:
        target = urlsplit(response.headers.get("Location", "")).netloc or "another address"
        return FatalApiError(
            SYSTEM,
            f"{request} was redirected to {target}; set the connection's host to the REST root Sentral "
            "redirects to (https://<school host>/restapi)",
            status=status,
        )
    if status in (401, 403):
        return AuthenticationError(SYSTEM, _auth_message(status, request, path), status=status)
    if status == 404:
        return NotFoundError(SYSTEM, f"{request}: no such record in Sentral", status=status)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        return RateLimitedError(
            SYSTEM, f"{request}: too many requests", status=status, retry_after=retry_after
        )
    if status >= 500 or status == 408:
        lost = method != "GET"
        return unanswered(
            method, request, f"server error {status}", status=status, retry_after=retry_after, lost=lost
        )
    details = [redact(line) for line in error_details(_json_or_none(response))]
    summary = "; ".join(details) if details else redact(response.text[:300]) or response.reason or "no detail"
    return RequestRejectedError(SYSTEM, f"{request} was rejected: {summary}", status=status, details=details)


def _auth_message(status: int, request: str, path: str) -> str:
    if status == 401:
        return (
            f"{request}: the API key or the tenant code is wrong. Check the Sentral connection: the "
            "password must be the API key and the login the tenant code, both from Sentral's "
            "Setup → Enterprise Setup → API Keys."
        )
    module = _module_of(path)
    return (
        f"{request}: the API key is valid but lacks permission for Sentral's {module} module. In "
        f"Sentral's API key settings, give the key's user access to {module}, or use a key that has it."
    )


def _module_of(path: str) -> str:
    parts = path.split("/")
    name = parts[1] if len(parts) > 1 and parts[0] == "v1" else parts[0]
    return name.capitalize() or "requested"


def unanswered(
    method: str, request: str, what: str, *, status: int | None, retry_after: float | None = None, lost: bool
) -> RetriableApiError:
    if lost:
        return ResponseLostError(
            SYSTEM,
            f"{request}: {what}; Sentral may or may not have applied it. Look for the record before "
            "sending it again.",
            status=status,
        )
    return RetriableApiError(SYSTEM, f"{request}: {what}", status=status, retry_after=retry_after)


def transport_error(
    method: str, path: str, exc: requests.RequestException, timeout: float
) -> RetriableApiError:
    request = f"{method} {path}"
    if isinstance(exc, requests.ConnectTimeout):
        # The connection was never made, so nothing was sent: even a POST is known not to have happened.
        return RetriableApiError(SYSTEM, f"{request}: no connection within {timeout:g}s; nothing was sent")
    if isinstance(exc, requests.Timeout):
        what = f"no answer within {timeout:g}s"
    elif isinstance(exc, requests.ConnectionError):
        what = "the connection failed or was dropped"
    else:
        what = f"the request failed ({type(exc).__name__})"
    return unanswered(method, request, what, status=None, lost=method != "GET")


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def json_body(response: requests.Response, method: str, path: str) -> dict[str, Any]:
    if response.status_code == 204 or not response.content:
        return {}
    body = _json_or_none(response)
    if not isinstance(body, dict):
        raise FatalApiError(
            SYSTEM, f"{method} {path} answered {response.status_code} without a JSON document"
        )
    return body
