"""The Sentral REST API client: lookups, students, persons, households, enrolment drafts, attachments.

The client is built from four separate pieces, each changeable without reading the others:
transport and back-off (:meth:`SentralClient._send`), response classification (:func:`sentral.responses.classify`),
paging (:meth:`SentralClient._iter`), and document parsing (:mod:`sentral.jsonapi`).

Retries: a GET is retried on timeouts, dropped connections, 5xx and 429 (honouring ``Retry-After``).
A POST is retried only on 429, which Sentral sends before doing anything; any other failure of a POST
leaves its outcome unknown and raises :class:`~apicore.errors.ResponseLostError`, because Sentral has
no idempotency key: the caller must look for the draft or attachment before sending it again.

Neither the API key nor the tenant code ever appears in a message or a log line; neither does a query
string, which can carry a person's name.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from apicore.backoff import BackoffPolicy
from apicore.errors import (
    FatalApiError,
    RateLimitedError,
    RetriableApiError,
)
from apicore.ratelimit import RateLimiter
from sentral.jsonapi import DocumentError, Resource, next_link, parse_resource, parse_resources
from sentral.responses import SYSTEM, classify, json_body, transport_error

log = logging.getLogger(__name__)


# --- Guesses about the Sentral API (docs/api-surface.md). A tenant that differs is corrected here. ---

# The draft's JSON:API type, by Sentral's naming rule (lower camel case of the path's resource name).
DRAFT_TYPE = "studentEnrolmentDraft"
# The draft attribute that holds the application; its inner shape lives in include/mappings/.
DRAFT_DATA_ATTRIBUTE = "data"
# Draft statuses, and the relationship naming the student an approved draft became.
DRAFT_STATUS_PENDING = "pending"
DRAFT_STATUS_APPROVED = "approved"
DRAFT_STATUS_REJECTED = "rejected"
DRAFT_STUDENT_RELATIONSHIP = "student"
# Attachments are uploaded as multipart/form-data with the file in this part, the category in the query.
ATTACHMENT_PART = "attachment"
ATTACHMENT_CATEGORY_PARAM = "categoryId"
# Sentral keeps contact details and addresses in sub-resources; these flattened attribute names are
# what the client reads from a person and a household.
PERSON_EMAIL_ATTRIBUTE = "email"
PERSON_MOBILE_ATTRIBUTE = "mobile"
HOUSEHOLD_POSTCODE_ATTRIBUTE = "postcode"

# --- Paths, relative to the base URL (``https://<school host>/restapi/``). ---

STUDENT_PATH = "v1/enrolments/student"
PERSON_PATH = "v1/enrolments/person"
HOUSEHOLD_PATH = "v1/enrolments/household"
DRAFT_PATH = "v1/portal/student-enrolment-draft"
ATTACHMENT_PATH = DRAFT_PATH + "/{draft_id}/attachment"

# Lookup kind → (path, query parameters always sent). Campuses include inactive ones so that a mapping
# naming a campus Sentral has retired is reported as inactive, not as missing.
LOOKUPS: dict[str, tuple[str, dict[str, str]]] = {
    "year_levels": ("v1/enrolments/year-level", {}),
    "academic_periods": ("v1/enrolments/academic-period", {}),
    "campuses": ("v1/enrolments/campus", {"includeInactive": "true"}),
    "houses": ("v1/enrolments/house", {}),
    "flags": ("v1/enrolments/flag", {}),
    "document_categories": ("v1/enrolments/student-document-category", {}),
    "note_types": ("v1/enrolments/note-type", {}),
}

PAGE_SIZE = 200  # the largest page Sentral is known to serve
ACCEPT = "application/vnd.api+json, application/json"
JSONAPI_CONTENT_TYPE = "application/vnd.api+json"
DEFAULT_STUDENT_INCLUDE = ("person", "households")


@dataclass
class ClientStats:
    """Counters a benchmark reads after a run.

    :param requests: HTTP requests sent, retries included.
    :param retries: requests that repeated an earlier failed one.
    :param by_endpoint: requests per ``"<METHOD> <path>"``, ids in the path replaced by ``{id}``.
    """

    requests: int = 0
    retries: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """The counters as plain JSON-ready values."""
        return {"requests": self.requests, "retries": self.retries, "by_endpoint": dict(self.by_endpoint)}


class SentralClient:
    """Talks to one school's Sentral REST API.

    :param base_url: the REST root, ``https://<school host>/restapi`` (a trailing slash is optional).
    :param api_key: the key sent as ``X-API-KEY``.
    :param tenant: the tenant code sent as ``X-API-TENANT``.
    :param rate_limiter: spaces requests; shared by every client of the process talking to this school.
    :param backoff: how often and how long one request is retried.
    :param timeout: seconds to wait for a connection and for each read of the answer.
    :param session: the ``requests`` session to send through; a new one by default.
    :param sleep: how the client waits between tries; tests pass a fake.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        tenant: str,
        *,
        rate_limiter: RateLimiter | None = None,
        backoff: BackoffPolicy | None = None,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key or not tenant:
            raise ValueError("a Sentral client needs both an API key and a tenant code")
        self.base_url = base_url.rstrip("/") + "/"
        self._origin = urlsplit(self.base_url)
        self._secrets = (api_key, tenant)
        self._auth_headers = {"X-API-KEY": api_key, "X-API-TENANT": tenant, "Accept": ACCEPT}
        self.rate_limiter = rate_limiter
        self.backoff = backoff or BackoffPolicy()
        self.timeout = timeout
        self.session = session or requests.Session()
        self._sleep = sleep
        self.stats = ClientStats()
        self._stats_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SentralClient({self.base_url!r})"

    # --- Lookups ---

    def lookup(self, kind: str, **filters: Any) -> list[Resource]:
        """Every row of one of Sentral's lookup tables.

        :param kind: one of ``year_levels``, ``academic_periods``, ``campuses`` (inactive ones
            included), ``houses``, ``flags``, ``document_categories``, ``note_types``.
        :param filters: further query parameters, in Sentral's spelling.
        """
        if kind not in LOOKUPS:
            raise ValueError(f"unknown Sentral lookup {kind!r}; known: {', '.join(sorted(LOOKUPS))}")
        path, fixed = LOOKUPS[kind]
        return list(self._iter(path, {**fixed, **filters}))

    def check(self) -> None:
        """Read one row of a small lookup, proving the host, the key and the tenant work.

        Raises :class:`~apicore.errors.AuthenticationError` with what to fix when they do not.
        """
        path, fixed = LOOKUPS["year_levels"]
        self._get(path, {**fixed, "limit": 1, "offset": 0})

    # --- Students, persons, households ---

    def iter_students(
        self, *, include: Sequence[str] = DEFAULT_STUDENT_INCLUDE, **filters: Any
    ) -> Iterator[Resource]:
        """Students matching ``filters`` (Sentral's query parameters, e.g. ``studentCodes``), page by page.

        :param include: relationships to resolve from the same answer.
        """
        return self._iter(STUDENT_PATH, _with_include(filters, include))

    def get_student(
        self, student_id: str | int, *, include: Sequence[str] = DEFAULT_STUDENT_INCLUDE
    ) -> Resource:
        """One student by Sentral id.

        :param include: relationships to resolve from the same answer.
        """
        return self._get_resource(f"{STUDENT_PATH}/{_id(student_id)}", _with_include({}, include))

    def iter_persons(self, *, include: Sequence[str] = (), **filters: Any) -> Iterator[Resource]:
        """Persons matching ``filters``: ``firstName`` and ``lastName`` match exactly, ignoring case.

        :param include: relationships to resolve, e.g. ``("primaryHousehold",)``.
        """
        return self._iter(PERSON_PATH, _with_include(filters, include))

    def get_person(self, person_id: str | int, *, include: Sequence[str] = ()) -> Resource:
        """One person by Sentral id.

        :param include: relationships to resolve, e.g. ``("primaryHousehold",)``.
        """
        return self._get_resource(f"{PERSON_PATH}/{_id(person_id)}", _with_include({}, include))

    def iter_households(self, **filters: Any) -> Iterator[Resource]:
        """Households matching ``filters``, page by page."""
        return self._iter(HOUSEHOLD_PATH, filters)

    def get_household(self, household_id: str | int) -> Resource:
        """One household by Sentral id."""
        return self._get_resource(f"{HOUSEHOLD_PATH}/{_id(household_id)}", {})

    # --- Enrolment drafts and their attachments ---

    def iter_drafts(self, **filters: Any) -> Iterator[Resource]:
        """Enrolment drafts matching ``filters`` (e.g. ``status="pending"``), page by page."""
        return self._iter(DRAFT_PATH, filters)

    def get_draft(self, draft_id: str | int) -> Resource:
        """One enrolment draft by Sentral id."""
        return self._get_resource(f"{DRAFT_PATH}/{_id(draft_id)}", {})

    def create_draft(self, data: Mapping[str, Any]) -> Resource:
        """Send one enrolment draft; return the draft Sentral created.

        :param data: the draft's ``data`` attribute, as the field map built it.

        Raises :class:`~apicore.errors.ResponseLostError` when the answer is lost: the draft may exist.
        """
        application_id = _application_id(data)
        try:
            _check_json(data, "data")
        except ValueError as exc:
            raise ValueError(f"draft for application {application_id}: {exc}") from None

        body = {"data": {"type": DRAFT_TYPE, "attributes": {DRAFT_DATA_ATTRIBUTE: data}}}
        draft = self._post(DRAFT_PATH, data=json.dumps(body), content_type=JSONAPI_CONTENT_TYPE)
        log.info("draft %s created for application %s", draft.id, application_id)
        return draft

    def list_attachments(self, draft_id: str | int) -> list[Resource]:
        """The documents already attached to a draft (``studentDocument`` resources)."""
        return list(self._iter(ATTACHMENT_PATH.format(draft_id=_id(draft_id)), {}))

    def upload_attachment(
        self,
        draft_id: str | int,
        *,
        filename: str,
        content: bytes,
        category_id: str | int,
        content_type: str = "application/octet-stream",
    ) -> Resource:
        """Attach one document to a draft; return the ``studentDocument`` Sentral created.

        :param filename: the name Sentral shows for the document.
        :param content: the file's bytes.
        :param category_id: the Sentral document category the file is filed under.
        :param content_type: the file's media type.

        Raises :class:`~apicore.errors.ResponseLostError` when the answer is lost: the attachment may
        exist.
        """
        if not isinstance(content, bytes | bytearray):
            raise TypeError(f"attachment for draft {draft_id}: content must be bytes")
        attachment = self._post(
            ATTACHMENT_PATH.format(draft_id=_id(draft_id)),
            params={ATTACHMENT_CATEGORY_PARAM: category_id},
            files={ATTACHMENT_PART: (filename, bytes(content), content_type)},
        )
        log.info("attachment %s uploaded to draft %s (%d bytes)", attachment.id, draft_id, len(content))
        return attachment

    # --- Paging ---

    def _iter(self, path: str, params: Mapping[str, Any]) -> Iterator[Resource]:
        """Every resource of a collection, following ``links.next`` from the first page to the last."""
        url: str | None = self._url(path, {"limit": PAGE_SIZE, "offset": 0, **params})
        seen: set[str] = set()
        while url:
            if url in seen:
                raise FatalApiError(SYSTEM, f"paging of GET {path} loops back to a page it already read")
            seen.add(url)
            document = self._send("GET", url)
            yield from self._parsed(parse_resources, document, "GET", path)
            url = self._own_url(next_link(document), path)

    def _own_url(self, link: str | None, path: str) -> str | None:
        """The next-page link, sent only to the configured host so the key never goes anywhere else."""
        if not link:
            return None
        parts = urlsplit(link)
        if not parts.netloc:
            return urlunsplit((self._origin.scheme, self._origin.netloc, parts.path, parts.query, ""))
        if parts.hostname != self._origin.hostname or parts.port != self._origin.port:
            raise FatalApiError(SYSTEM, f"the next page of GET {path} is on another host; not following it")
        # Behind a proxy the link may say http:// for an https:// service; keep the configured scheme.
        return urlunsplit((self._origin.scheme, self._origin.netloc, parts.path, parts.query, ""))

    # --- Transport and back-off ---

    def _get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._send("GET", self._url(path, params))

    def _get_resource(self, path: str, params: Mapping[str, Any]) -> Resource:
        return self._parsed(parse_resource, self._get(path, params), "GET", path)

    def _url(self, path: str, params: Mapping[str, Any]) -> str:
        query = _query(params)
        return self.base_url + path + ("?" + query if query else "")

    def _post(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: str | None = None,
        content_type: str | None = None,
        files: Mapping[str, Any] | None = None,
    ) -> Resource:
        headers = {"Content-Type": content_type} if content_type else {}
        url = self._url(path, params or {})
        document = self._send("POST", url, data=data, files=files, headers=headers)
        return self._parsed(parse_resource, document, "POST", path)

    def _send(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """One request with its retries; the parsed JSON body on success."""
        path = self._path_of(url)
        attempts = max(1, self.backoff.attempts)
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(method, url, path, attempt, **kwargs)
            except RetriableApiError as exc:
                if method != "GET" and not isinstance(exc, RateLimitedError):
                    raise
                if attempt == attempts:
                    raise
                delay = self.backoff.delay(attempt, exc.retry_after)
                log.warning(
                    "Sentral %s %s failed (%s); try %d of %d in %.1fs",
                    method,
                    path,
                    exc.status or "no answer",
                    attempt + 1,
                    attempts,
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _attempt(self, method: str, url: str, path: str, attempt: int, **kwargs: Any) -> dict[str, Any]:
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()
        self._count(method, path, retry=attempt > 1)
        headers = {**self._auth_headers, **kwargs.pop("headers", {})}
        try:
            # Redirects are not followed: requests would carry the key headers to wherever they point.
            response = self.session.request(
                method, url, headers=headers, timeout=self.timeout, allow_redirects=False, **kwargs
            )
        except requests.RequestException as exc:
            # The exception's text holds the URL with its query string (names); it is not chained.
            raise transport_error(method, path, exc, self.timeout) from None
        error = classify(response, method, path, redact=self._redact)
        if error is not None:
            raise error
        return json_body(response, method, path)

    def _count(self, method: str, path: str, *, retry: bool) -> None:
        endpoint = f"{method} {_ID_SEGMENT.sub('/{id}', path)}"
        with self._stats_lock:
            self.stats.requests += 1
            self.stats.retries += int(retry)
            self.stats.by_endpoint[endpoint] += 1

    def _path_of(self, url: str) -> str:
        """The request's path below the base URL, without the query string: safe for messages and logs."""
        path = urlsplit(url).path
        base = self._origin.path
        return path[len(base) :] if path.startswith(base) else path.lstrip("/")

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @staticmethod
    def _parsed(
        parse: Callable[[dict[str, Any]], Any], document: dict[str, Any], method: str, path: str
    ) -> Any:
        try:
            return parse(document)
        except DocumentError as exc:
            raise FatalApiError(
                SYSTEM, f"{method} {path} answered with an unreadable document: {exc}"
            ) from None


_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")

# --- Request building ---


def _query(params: Mapping[str, Any]) -> str:
    """Sentral's query spelling: lists comma-joined, booleans lower case, dates ISO; None left out."""
    pairs = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, list | tuple | set | frozenset):
            value = ",".join(str(item) for item in value)
        pairs.append((name, str(value)))
    return urlencode(pairs)


def _id(value: str | int) -> str:
    """A record id fit for a URL path; anything else is refused before it can change the path."""
    text = str(value)
    if not _SAFE_ID.fullmatch(text):
        raise ValueError(f"{text!r} is not a Sentral record id")
    return text


_SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")


def _with_include(params: Mapping[str, Any], include: Sequence[str]) -> dict[str, Any]:
    if isinstance(include, str):
        include = (include,)
    return {**params, "include": ",".join(include) or None}


def _check_json(value: Any, where: str) -> None:
    """Raise ValueError naming the first field of ``value`` that JSON cannot carry."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"field {where} has a key that is not text: {key!r}")
            _check_json(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for n, item in enumerate(value):
            _check_json(item, f"{where}[{n}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"field {where} holds {value}, which JSON cannot carry")
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise ValueError(f"field {where} holds a {type(value).__name__}, which JSON cannot carry")


def _application_id(data: Any) -> str:
    if not isinstance(data, Mapping):
        raise TypeError("draft data must be a mapping of the draft's sections")
    reference = data.get("reference")
    if isinstance(reference, Mapping) and reference.get("application_id"):
        return str(reference["application_id"])
    return "(no reference)"
