"""The EnrolHQ API v2 client: applications, documents, notes, the audit log and status settings.

Endpoints and fields follow ``docs/api-surface.md``. How one call is sent (pacing, sign-in, retries,
error classification) lives in ``enrolhq.transport``; this module knows the endpoints and their paging.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import requests

from apicore.backoff import BackoffPolicy
from apicore.errors import FatalApiError, RetriableApiError
from apicore.ratelimit import RateLimiter
from enrolhq.tokens import MemoryTokenStore, TokenStore
from enrolhq.transport import SYSTEM, RequestStats, Transport

log = logging.getLogger(__name__)

# The summary list accepts up to 200 a page; the detail list up to 100.
SUMMARY_PAGE_LIMIT = 200
DETAIL_PAGE_LIMIT = 100

# Clients built without a store share this one, so that every hook and task in one process signs in
# once. Workers on other machines need a SqlTokenStore on a shared database.
_process_token_store = MemoryTokenStore()


class ConflictError(RetriableApiError):
    """An application kept changing between our read and our write; trying later is safe."""


class EnrolHQClient:
    """A client for one EnrolHQ instance and one API token.

    :param base_url: the API root, e.g. ``https://school.enrolhq.com.au/api/v2/``.
    :param api_token: the long-lived API token, exchanged at ``accounts/refresh/`` for access tokens.
    :param token_store: where the access token is shared; by default one store per process. Pass a
        :class:`~enrolhq.tokens.SqlTokenStore` when tasks run on several machines.
    :param rate_limiter: paces every request; by default 4.5 a second, shared per API token in the process.
    :param backoff: retries of one request; by default :class:`~apicore.backoff.BackoffPolicy`'s.
    :param timeout: seconds to wait for an answer.
    :param session: a ``requests`` session to send through (tests and connection pooling).
    :param sleep: waits between retries; tests pass a fake.
    :param mask_secret: told of each access token the client uses (the hook passes Airflow's log masker).
    """

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        token_store: TokenStore | None = None,
        rate_limiter: RateLimiter | None = None,
        backoff: BackoffPolicy | None = None,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        mask_secret: Callable[[str], None] | None = None,
    ) -> None:
        self._transport = Transport(
            base_url,
            api_token,
            token_store=token_store if token_store is not None else _process_token_store,
            rate_limiter=rate_limiter,
            backoff=backoff or BackoffPolicy(),
            timeout=timeout,
            session=session or requests.Session(),
            sleep=sleep,
            mask_secret=mask_secret,
        )

    def __repr__(self) -> str:
        return f"EnrolHQClient({self.base_url!r})"

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def rate_limiter(self) -> RateLimiter:
        return self._transport.rate_limiter

    @property
    def timeout(self) -> float:
        return self._transport.timeout

    @property
    def stats(self) -> RequestStats:
        """Requests, sign-ins and retries so far, and requests by endpoint."""
        return self._transport.stats

    # Applications

    def iter_applications(
        self,
        *,
        statuses: Iterable[int] | None = None,
        has_external_id: bool | None = None,
        page_size: int = SUMMARY_PAGE_LIMIT,
        **filters: Any,
    ) -> Iterator[dict]:
        """Application summaries, page by page.

        :param statuses: application status ids to include; None for every status, empty for none.
        :param has_external_id: only applications with (True) or without (False) an external ID.
        :param page_size: summaries a page, at most 200.
        :param filters: other list filters (``first_name``, ``last_name``, ``dob``, ``search``,
            ``ordering``, ...). ``external_id`` is refused: EnrolHQ ignores it and would return everyone.
        """
        params = self._summary_filters(statuses, has_external_id, filters)
        if params.get("application_statuses") == []:
            return
        params["page_size"] = min(page_size, SUMMARY_PAGE_LIMIT)
        yield from self._iter_pages("applications-list/", params)

    def count_applications(
        self, *, statuses: Iterable[int] | None = None, has_external_id: bool | None = None, **filters: Any
    ) -> int:
        """How many applications the same filters as :meth:`iter_applications` select."""
        params = self._summary_filters(statuses, has_external_id, filters)
        if params.get("application_statuses") == []:
            return 0
        params.update(page=1, page_size=1)
        return int(self._transport.call("GET", "applications-list/", params=params)["count"])

    def iter_updated_applications(self, updated_after: datetime) -> Iterator[dict]:
        """Applications in detail that changed after ``updated_after`` (naive times are taken as UTC)."""
        params = {"updated_after": _as_utc(updated_after).isoformat(), "page_size": DETAIL_PAGE_LIMIT}
        yield from self._iter_pages("applications/", params)

    def get_application(self, application_id: str) -> dict:
        """One application in detail."""
        return self._transport.call("GET", f"applications/{application_id}/")

    def update_application(
        self, application_id: str, change: Callable[[dict], dict | None], *, attempts: int = 3
    ) -> dict:
        """Change one application and write the whole record back, unless it changed meanwhile.

        EnrolHQ's PUT replaces the whole record, so a write based on a stale read would undo someone
        else's edit. The record is re-read right before the PUT, and the write starts over when its
        ``updated_at`` moved. A small window between that re-read and the PUT remains; EnrolHQ offers
        no conditional write to close it.

        :param application_id: the application's id.
        :param change: edits the record it is given in place, or returns the record to write.
        :param attempts: reads before giving up with :class:`ConflictError`.
        :returns: the record as saved, or as read when ``change`` left it as it was.
        """
        for attempt in range(1, attempts + 1):
            current = self.get_application(application_id)
            edited = copy.deepcopy(current)
            returned = change(edited)
            if returned is not None:
                edited = returned
            if edited == current:
                log.info("application %s already as wanted; nothing written", application_id)
                return current

            latest = self.get_application(application_id)
            if latest.get("updated_at") != current.get("updated_at"):
                log.info(
                    "application %s changed while being edited (try %s of %s)",
                    application_id,
                    attempt,
                    attempts,
                )
                continue
            saved = self._transport.call("PUT", f"applications/{application_id}/", json=edited)
            log.info("application %s updated", application_id)
            return saved
        raise ConflictError(
            SYSTEM,
            f"application {application_id} changed during each of {attempts} attempts to update it; "
            "try again later",
        )

    # Documents and notes

    def list_documents(self, application_id: str) -> list[dict]:
        """The application's documents, verified or not."""
        return list(self._iter_pages("application-documents/", {"student_profile": application_id}))

    def download_document(self, document: dict) -> bytes:
        """The bytes of one document, from its ``file`` URL.

        The access token goes only to EnrolHQ's own host: a ``file`` URL on another host (a storage
        service's signed link) is fetched without it.
        """
        url = document.get("file") or f"application-documents/{document['id']}/download/"
        return self._transport.call(
            "GET", url, expect_json=False, authenticated=self._transport.same_host(url)
        )

    def list_notes(self, application_id: str) -> list[dict]:
        """The staff notes on an application."""
        return list(self._iter_pages("notes/", {"student_profile": application_id}))

    def add_note(self, application_id: str, text: str) -> dict:
        """Add a staff note; returns the note as saved.

        Not retried after a lost answer: :class:`~apicore.errors.ResponseLostError` tells the caller to
        look in :meth:`list_notes` before adding it again.
        """
        body = {"student_profile": application_id, "text": text, "is_pinned": False}
        note = self._transport.call("POST", "notes/", json=body)
        log.info("note %s added to application %s", note.get("id"), application_id)
        return note

    # Audit log and settings

    def iter_audit_log(
        self, *, student_profile: str | None = None, parent: str | None = None, since: datetime | None = None
    ) -> Iterator[dict]:
        """Audit entries of one application or one parent, newest first.

        :param student_profile: the application whose entries to read.
        :param parent: the parent whose entries to read (instead of ``student_profile``).
        :param since: stop at the first entry older than this (naive times are taken as UTC); the
            pages after it are not read.
        """
        if (student_profile is None) == (parent is None):
            raise ValueError("iter_audit_log needs exactly one of student_profile or parent")
        params = {"student_profile": student_profile} if student_profile else {"parent": parent}
        since = _as_utc(since) if since is not None else None
        for entry in self._iter_pages("audit/log/", params):
            if since is not None and _parse_time(entry, "updated_at") < since:
                return
            yield entry

    def status_settings(self) -> list[dict]:
        """The school's application statuses: ``{"id", "label", "is_enabled"}`` each."""
        return list(self._iter_pages("application-status-settings/", None))

    def check(self) -> int:
        """Sign in and read one summary; returns how many applications the API token can see."""
        return self.count_applications()

    # Paging

    def _iter_pages(self, path: str, params: dict[str, Any] | None) -> Iterator[dict]:
        """Every result of a list, following ``next`` links (page-number and cursor lists alike).

        A list endpoint that answers with a bare JSON array is taken as one page.
        """
        page = self._transport.call("GET", path, params=params)
        while True:
            if isinstance(page, list):
                yield from page
                return
            yield from page.get("results", [])
            next_url = page.get("next")
            if not next_url:
                return
            page = self._transport.call("GET", next_url)

    @staticmethod
    def _summary_filters(
        statuses: Iterable[int] | None, has_external_id: bool | None, filters: dict[str, Any]
    ) -> dict[str, Any]:
        if "external_id" in filters:
            raise ValueError(
                "EnrolHQ ignores the external_id filter and would return every application; "
                "filter the results by their external_id instead"
            )
        params = dict(filters)
        if statuses is not None:
            params["application_statuses"] = [int(status) for status in statuses]
        if has_external_id is not None:
            params["has_external_id"] = "true" if has_external_id else "false"
        return params


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _parse_time(record: dict, field: str) -> datetime:
    value = record.get(field)
    try:
        return _as_utc(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        raise FatalApiError(
            SYSTEM, f"audit entry {record.get('id')} has no readable {field} ({value!r})"
        ) from None
