"""One call to EnrolHQ: pacing, the access token, classification of the answer, and back-off.

The client (``enrolhq.client``) says what to ask for; this module decides how a single call is sent
and what its answer means. Every answer is classified by :func:`classify` and nowhere else.

Retries: GET and PUT (a full-record PUT is idempotent) are retried on timeouts, connection errors,
5xx, 429 and non-JSON error pages, honouring ``Retry-After``. A POST other than the sign-in is retried
only when the server certainly did not act on it (429, or a connection that was never made); any
other failure raises :class:`~apicore.errors.ResponseLostError` so that the caller looks for the
effect before posting again.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from apicore.backoff import BackoffPolicy, parse_retry_after
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
from apicore.ratelimit import RateLimiter
from enrolhq.tokens import TokenStore, token_key

log = logging.getLogger(__name__)

SYSTEM = "EnrolHQ"
SIGN_IN_PATH = "accounts/refresh/"
DEFAULT_REQUESTS_PER_SECOND = 4.5

NEW_API_TOKEN_ADVICE = (
    "generate a new API token in EnrolHQ (profile menu → API Token) and put it in the EnrolHQ "
    "connection's password field"
)

_DETAIL_LIMIT = 500
_ID_SEGMENT = re.compile(r"^(\d+|[0-9a-fA-F-]{16,})$")

_shared_limiters: dict[str, RateLimiter] = {}
_shared_limiters_lock = threading.Lock()


def shared_rate_limiter(key: str, per_second: float = DEFAULT_REQUESTS_PER_SECOND) -> RateLimiter:
    """The rate limiter every client of one API token in this process shares.

    EnrolHQ's limit applies to the API token, not to one client object. The first caller's rate wins.
    Processes do not share a limiter: across workers, the Airflow pool bounds concurrency and 429s
    are backed off.

    :param key: from :func:`enrolhq.tokens.token_key`.
    :param per_second: requests a second allowed to start.
    """
    with _shared_limiters_lock:
        return _shared_limiters.setdefault(key, RateLimiter(per_second))


@dataclass
class RequestStats:
    """What a client has sent: for benchmarks and run reports."""

    requests: int = 0
    sign_ins: int = 0
    retries: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_request(self, endpoint: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_endpoint[endpoint] += 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def count_sign_in(self) -> None:
        with self._lock:
            self.sign_ins += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "sign_ins": self.sign_ins,
                "retries": self.retries,
                "by_endpoint": dict(sorted(self.by_endpoint.items())),
            }


def endpoint_name(method: str, path: str) -> str:
    """``GET applications/{id}/`` for ``GET applications/9f2c.../``: ids folded so calls group."""
    segments = ["{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/")]
    return f"{method} {'/'.join(segments)}"


def classify(
    response: requests.Response,
    what: str,
    *,
    sign_in: bool = False,
    expect_json: bool = True,
    redact: Callable[[str], str] = lambda text: text,
) -> tuple[ApiError | None, Any]:
    """Decide what one answer means: ``(None, body)`` on success, else ``(error, None)``.

    :param response: the server's answer.
    :param what: the method and path, for messages.
    :param sign_in: the answer is to a sign-in, where 400 means another sign-in was in flight and
        401/403 mean the API token itself is bad.
    :param expect_json: the caller needs a JSON body (False for file downloads).
    :param redact: removes secrets from the server's text before it goes into a message.
    """
    status = response.status_code
    if 200 <= status < 300 and (not expect_json or status == 204):
        return None, response.content if not expect_json else None
    body, is_json = _parse_json(response)
    if 200 <= status < 300:
        if is_json:
            return None, body
        return RetriableApiError(SYSTEM, f"{what} answered without JSON (a proxy page?)", status=status), None

    detail = redact(_detail(body) if is_json else _html_title(response.text))
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        wait = f"asked to wait {retry_after:g} s" if retry_after is not None else "no wait given"
        message = f"{what} was rate limited ({wait})"
        return RateLimitedError(SYSTEM, message, status=status, retry_after=retry_after), None
    if status >= 500:
        return RetriableApiError(SYSTEM, f"{what} failed on the server: {detail}", status=status), None
    if sign_in and status in (401, 403):
        message = f"the API token was refused at sign-in ({detail}); {NEW_API_TOKEN_ADVICE}"
        return AuthenticationError(SYSTEM, message, status=status), None
    if status == 401:
        return AuthenticationError(SYSTEM, f"{what} refused the access token ({detail})", status=status), None
    if status == 403:
        message = (
            f"{what} is not allowed for the EnrolHQ user who owns the API token ({detail}); give that "
            "user the permission, or use an API token of a user who has it"
        )
        return AuthenticationError(SYSTEM, message, status=status), None
    if status == 404:
        return NotFoundError(SYSTEM, f"{what} found nothing ({detail})", status=status), None
    if sign_in and status == 400:
        message = f"sign-in refused while another sign-in was in flight ({detail})"
        return RetriableApiError(SYSTEM, message, status=status), None
    if not is_json:
        message = f"{what} answered {status} with a page that is not JSON (a proxy or maintenance page?)"
        return RetriableApiError(SYSTEM, message, status=status), None
    details = [redact(item) for item in _field_errors(body)]
    return RequestRejectedError(
        SYSTEM, f"{what} was rejected: {detail}", status=status, details=details
    ), None


def _parse_json(response: requests.Response) -> tuple[Any, bool]:
    if not response.content:
        return None, False
    try:
        return response.json(), True
    except ValueError:
        return None, False


def _detail(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        text = body["detail"]
    else:
        text = "; ".join(_field_errors(body)) or "no detail given"
    return text[:_DETAIL_LIMIT]


def _field_errors(body: Any) -> list[str]:
    """Django REST framework's error shapes as ``field: message`` lines."""
    if isinstance(body, dict):
        lines = []
        for name, value in body.items():
            messages = value if isinstance(value, list) else [value]
            lines.extend(f"{name}: {message}" for message in messages if isinstance(message, str | int))
        return lines
    if isinstance(body, list):
        return [str(item) for item in body if isinstance(item, str)]
    return []


def _html_title(text: str) -> str:
    match = re.search(r"<title>(.*?)</title>", text or "", re.IGNORECASE | re.DOTALL)
    return match.group(1).strip()[:200] if match else "a response that is not JSON"


class Transport:
    """Sends calls to one EnrolHQ instance with one API token.

    :param base_url: the instance's API root, e.g. ``https://school.enrolhq.com.au/api/v2/``.
    :param api_token: the long-lived API token; sent only to the sign-in endpoint.
    :param token_store: where the access token is shared with other clients and workers.
    :param rate_limiter: paces every call, sign-ins included.
    :param backoff: how often and how long to retry one call.
    :param timeout: seconds to wait for the server to answer.
    :param session: the ``requests`` session to send through.
    :param sleep: waits between attempts; tests pass a fake.
    :param mask_secret: told of every access token this transport uses, so that a log masker (Airflow's)
        hides it wherever it might be printed.
    """

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        token_store: TokenStore,
        rate_limiter: RateLimiter | None,
        backoff: BackoffPolicy,
        timeout: float,
        session: requests.Session,
        sleep: Callable[[float], None] = time.sleep,
        mask_secret: Callable[[str], None] | None = None,
    ) -> None:
        if not api_token:
            raise FatalApiError(SYSTEM, f"no API token was given; {NEW_API_TOKEN_ADVICE}")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.key = token_key(self.base_url, api_token)
        self._api_token = api_token
        self._access_token: str | None = None
        self._secrets = {api_token}
        self._mask_secret = mask_secret
        self.token_store = token_store
        self.rate_limiter = rate_limiter or shared_rate_limiter(self.key)
        self.backoff = backoff
        self.timeout = timeout
        self.session = session
        self._sleep = sleep
        self.stats = RequestStats()
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.netloc)
        self._base_path = base.path

    def call(
        self,
        method: str,
        target: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        expect_json: bool = True,
        authenticated: bool = True,
    ) -> Any:
        """Send one call and return its JSON body (or its bytes when ``expect_json`` is False).

        :param target: a path under the base URL, or an absolute URL on the same host (a ``next`` link).
        :param authenticated: send the access token; False only for URLs on another host.
        """
        url = self.url_for(target, authenticated=authenticated)
        what = f"{method} {self.path_of(url)}"
        if not authenticated:
            return self._send(method, url, what, None, params=params, json=json, expect_json=expect_json)

        token = self._current_token()
        try:
            return self._send(method, url, what, token, params=params, json=json, expect_json=expect_json)
        except AuthenticationError as exc:
            if exc.status != 401:
                raise
            log.info("%s: the access token was refused; getting a new one", what)

        token = self._refresh(stale=token)
        try:
            return self._send(method, url, what, token, params=params, json=json, expect_json=expect_json)
        except AuthenticationError as exc:
            if exc.status != 401:
                raise
            message = (
                f"{what} refused the access token again right after a new one was issued; the API token's "
                f"user may have lost API access, or another system signs in with the same API token: "
                f"{NEW_API_TOKEN_ADVICE}"
            )
            raise AuthenticationError(SYSTEM, message, status=401) from None

    def url_for(self, target: str, *, authenticated: bool = True) -> str:
        """The absolute URL of ``target``; an absolute URL on this host is moved onto the base's scheme.

        Servers behind a TLS proxy may write ``http://`` into ``next`` links; the token must still go
        over the scheme the connection names, and never to another host.
        """
        parts = urlsplit(target)
        if not parts.scheme:
            return urljoin(self.base_url, target)
        if parts.netloc.lower() == self._origin[1].lower():
            return urlunsplit((self._origin[0], self._origin[1], parts.path, parts.query, ""))
        if authenticated:
            raise FatalApiError(SYSTEM, f"refusing to send the access token to another host ({parts.netloc})")
        return target

    def same_host(self, url: str) -> bool:
        """Whether ``url`` is relative or on this instance's host."""
        netloc = urlsplit(url).netloc
        return not netloc or netloc.lower() == self._origin[1].lower()

    def path_of(self, url: str) -> str:
        """The URL's path relative to the API root, without query string: safe for logs and messages."""
        path = urlsplit(url).path
        return path[len(self._base_path) :] if path.startswith(self._base_path) else path

    def redact(self, text: str) -> str:
        """``text`` with the API token and the access token taken out."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _current_token(self) -> str:
        if self._access_token is None:
            self._access_token = self._adopt(self.token_store.current(self.key))
        if self._access_token is None:
            self._access_token = self._adopt(self.token_store.replace(self.key, None, self._sign_in))
        return self._access_token

    def _refresh(self, stale: str) -> str:
        self._access_token = self._adopt(self.token_store.replace(self.key, stale, self._sign_in))
        return self._access_token

    def _adopt(self, token: str | None) -> str | None:
        if token and token not in self._secrets:
            self._secrets.add(token)
            if self._mask_secret is not None:
                self._mask_secret(token)
        return token

    def _sign_in(self) -> str:
        url = urljoin(self.base_url, SIGN_IN_PATH)
        what = f"POST {SIGN_IN_PATH}"
        body = self._send("POST", url, what, self._api_token, sign_in=True)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise FatalApiError(SYSTEM, "sign-in answered without an access token")
        self.stats.count_sign_in()
        log.info("signed in to EnrolHQ at %s", self._origin[1])
        return token

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        token: str | None,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        expect_json: bool = True,
        sign_in: bool = False,
    ) -> Any:
        only_if_unsent = method == "POST" and not sign_in
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Token {token}"
        endpoint = endpoint_name(method, self.path_of(url))

        for attempt in range(1, self.backoff.attempts + 1):
            self.rate_limiter.acquire()
            self.stats.count_request(endpoint)
            try:
                response = self.session.request(
                    method, url, params=params, json=json, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                if only_if_unsent and not isinstance(exc, requests.ConnectTimeout):
                    raise ResponseLostError(
                        SYSTEM,
                        f"{what} got no answer ({type(exc).__name__}); it may or may not have been saved",
                    ) from None
                error = _failure_without_answer(exc, what)
            else:
                error, body = classify(
                    response, what, sign_in=sign_in, expect_json=expect_json, redact=self.redact
                )
                if error is None:
                    return body
                if only_if_unsent and error.retriable and not isinstance(error, RateLimitedError):
                    raise ResponseLostError(
                        SYSTEM, f"{error.message}; it may or may not have been saved", status=error.status
                    ) from None

            if not error.retriable or attempt == self.backoff.attempts:
                raise error
            delay = self.backoff.delay(attempt, getattr(error, "retry_after", None))
            log.warning("%s; try %s of %s in %.1f s", error, attempt + 1, self.backoff.attempts, delay)
            self.stats.count_retry()
            self._sleep(delay)
        raise AssertionError("unreachable: the last attempt either returns or raises")


def _failure_without_answer(exc: requests.RequestException, what: str) -> ApiError:
    # The exception's own text may quote the URL's query string (names searched for), so only its
    # kind goes into the message.
    kind = type(exc).__name__
    if isinstance(
        exc, requests.Timeout | requests.ConnectionError | requests.exceptions.ChunkedEncodingError
    ):
        return RetriableApiError(SYSTEM, f"{what} got no answer ({kind})")
    return FatalApiError(SYSTEM, f"{what} could not be sent ({kind})")
