"""The sync ledger: what the application sync has done, so that nothing is sent twice or lost.

One row per application and one per document, in the ledger database of :mod:`sentral.state`. Every
change is its own committed transaction, and every intent is committed before the external call it
announces, so a retried, cleared or crashed task can tell which calls may already have reached Sentral
or EnrolHQ and must be looked for before being made again.

An application moves ``prepared → draft_sent → documents_sent → noted``; ``duplicate`` and ``failed``
stop it. Whether a step is done is read from the facts recorded (a draft id, a note id, a document's
attachment id), not from the state alone, so that an application marked ``failed`` resumes where it
stopped when it is run again.

The ledger keeps the draft exactly as it was sent (and the applicant's name, for the run report), so
it holds personal data: protect its database as the Airflow metadata database is protected.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from sentral.ledger_schema import (
    ERROR_LIMIT,
    ApplicationRecord,
    AppState,
    DocState,
    DocumentPlan,
    DocumentRecord,
    application_record,
    applications,
    document_record,
    documents,
)

__all__ = [
    "AppState",
    "ApplicationRecord",
    "DocState",
    "DocumentPlan",
    "DocumentRecord",
    "Ledger",
    "applications",
    "documents",
]

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """The ledger of one school.

    :param engine: the ledger database (see :func:`sentral.state.get_engine`); its tables must exist.
    :param school: the school whose applications these are; one database may serve several schools.
    """

    def __init__(self, engine: sa.Engine, school: str) -> None:
        self.engine = engine
        self.school = school

    def _app_key(self, application_id: str) -> sa.ColumnElement[bool]:
        return sa.and_(applications.c.school == self.school, applications.c.application_id == application_id)

    def _doc_key(self, application_id: str, document_id: str) -> sa.ColumnElement[bool]:
        return sa.and_(
            documents.c.school == self.school,
            documents.c.application_id == application_id,
            documents.c.document_id == document_id,
        )

    def _update_application(self, application_id: str, **values: Any) -> None:
        values["updated_at"] = _now()
        with self.engine.begin() as conn:
            result = conn.execute(applications.update().where(self._app_key(application_id)).values(**values))
        if result.rowcount != 1:
            raise LookupError(f"application {application_id} is not in the ledger of school {self.school}")

    # Reading

    def get(self, application_id: str) -> ApplicationRecord | None:
        """The application's row, or None when the sync has never prepared it."""
        with self.engine.connect() as conn:
            row = conn.execute(applications.select().where(self._app_key(application_id))).first()
        return application_record(row) if row else None

    def documents(self, application_id: str) -> list[DocumentRecord]:
        """The application's documents, in the order they were planned."""
        query = (
            documents.select()
            .where(documents.c.school == self.school, documents.c.application_id == application_id)
            .order_by(documents.c.file_name, documents.c.document_id)
        )
        with self.engine.connect() as conn:
            return [document_record(row) for row in conn.execute(query)]

    def finished_application_ids(self) -> set[str]:
        """Applications whose sync is complete (noted in EnrolHQ); they are never selected again."""
        query = sa.select(applications.c.application_id).where(
            applications.c.school == self.school, applications.c.note_id.is_not(None)
        )
        with self.engine.connect() as conn:
            return set(conn.scalars(query))

    def sent_drafts(self) -> list[tuple[str, str]]:
        """``(application_id, draft_id)`` of every application whose draft reached Sentral."""
        query = (
            sa.select(applications.c.application_id, applications.c.draft_id)
            .where(applications.c.school == self.school, applications.c.draft_id.is_not(None))
            .order_by(applications.c.application_id)
        )
        with self.engine.connect() as conn:
            return [(str(row.application_id), str(row.draft_id)) for row in conn.execute(query)]

    def applications_of_run(self, run_id: str) -> list[ApplicationRecord]:
        """Every application the given run touched, for the run report."""
        query = (
            applications.select()
            .where(applications.c.school == self.school, applications.c.run_id == run_id)
            .order_by(applications.c.applicant, applications.c.application_id)
        )
        with self.engine.connect() as conn:
            return [application_record(row) for row in conn.execute(query)]

    # Writing: one committed transaction per change

    def record_prepared(
        self,
        application_id: str,
        *,
        run_id: str,
        synced_by: str,
        applicant: str,
        payload: dict[str, Any],
        payload_hash: str,
        household_to_link: str | None,
        document_plans: Iterable[DocumentPlan],
    ) -> ApplicationRecord:
        """Record a validated draft and its document plan, ready to send.

        An application whose draft already reached Sentral keeps that draft's payload and hash: what
        was sent does not change. Its run, who is syncing it and any new documents are still recorded.
        """
        now = _now()
        with self.engine.begin() as conn:
            row = conn.execute(applications.select().where(self._app_key(application_id))).first()
            run_values = {"run_id": run_id, "synced_by": synced_by, "applicant": applicant, "updated_at": now}
            if row is None:
                conn.execute(
                    applications.insert().values(
                        school=self.school,
                        application_id=application_id,
                        state=AppState.PREPARED,
                        payload=json.dumps(payload, sort_keys=True),
                        payload_hash=payload_hash,
                        household_to_link=household_to_link,
                        attempts=0,
                        created_at=now,
                        **run_values,
                    )
                )
            elif row.draft_id is None:
                conn.execute(
                    applications.update()
                    .where(self._app_key(application_id))
                    .values(
                        state=AppState.PREPARED,
                        payload=json.dumps(payload, sort_keys=True),
                        payload_hash=payload_hash,
                        household_to_link=household_to_link,
                        duplicate_student_id=None,
                        failed_step=None,
                        last_error=None,
                        **run_values,
                    )
                )
            else:
                conn.execute(
                    applications.update()
                    .where(self._app_key(application_id))
                    .values(state=_resumed_state(row), failed_step=None, last_error=None, **run_values)
                )
            self._plan_documents(conn, application_id, document_plans, now)
        return self.get(application_id)  # type: ignore[return-value]

    def _plan_documents(
        self, conn: sa.Connection, application_id: str, plans: Iterable[DocumentPlan], now: datetime
    ) -> None:
        known = {
            row.document_id: row
            for row in conn.execute(
                documents.select().where(
                    documents.c.school == self.school, documents.c.application_id == application_id
                )
            )
        }
        for plan in plans:
            state = DocState.SKIPPED if plan.skip_reason else DocState.PLANNED
            values = {
                "file_name": plan.file_name,
                "size": plan.size,
                "kind": plan.kind,
                "category_id": plan.category_id,
                "state": state,
                "reason": plan.skip_reason,
                "updated_at": now,
            }
            existing = known.get(plan.document_id)
            if existing is None:
                conn.execute(
                    documents.insert().values(
                        school=self.school,
                        application_id=application_id,
                        document_id=plan.document_id,
                        attempts=0,
                        **values,
                    )
                )
            elif existing.attachment_id is None and existing.intent_at is None:
                # A document with an upload under way keeps its row: the upload may have landed.
                conn.execute(
                    documents.update().where(self._doc_key(application_id, plan.document_id)).values(**values)
                )

    def record_duplicate(
        self, application_id: str, *, run_id: str, synced_by: str, applicant: str, student_id: str
    ) -> None:
        """Record that the applicant is already a Sentral student; nothing is sent for them."""
        now = _now()
        values = {
            "state": AppState.DUPLICATE,
            "run_id": run_id,
            "synced_by": synced_by,
            "applicant": applicant,
            "duplicate_student_id": student_id,
            "failed_step": None,
            "last_error": None,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(applications.c.application_id).where(self._app_key(application_id))
            ).first()
            if exists:
                conn.execute(applications.update().where(self._app_key(application_id)).values(**values))
            else:
                conn.execute(
                    applications.insert().values(
                        school=self.school,
                        application_id=application_id,
                        attempts=0,
                        created_at=now,
                        **values,
                    )
                )

    def record_draft_intent(self, application_id: str) -> None:
        """Announce a draft POST; committed before the POST is made."""
        self._update_application(application_id, draft_intent_at=_now(), attempts=applications.c.attempts + 1)

    def record_draft_sent(self, application_id: str, draft_id: str) -> None:
        """Record the id of the draft Sentral holds for the application."""
        now = _now()
        self._update_application(
            application_id,
            draft_id=draft_id,
            draft_sent_at=now,
            state=AppState.DRAFT_SENT,
            failed_step=None,
            last_error=None,
        )
        log.info("ledger: draft %s recorded for application %s", draft_id, application_id)

    def record_document_intent(
        self, application_id: str, document_id: str, *, size: int | None = None
    ) -> None:
        """Announce a document upload; committed before the upload is made.

        :param size: the bytes about to be uploaded, by which the attachment is found again; the size
            EnrolHQ listed is kept when not given.
        """
        now = _now()
        values: dict[str, Any] = {"state": DocState.INTENT, "intent_at": now, "updated_at": now}
        if size is not None:
            values["size"] = size
        with self.engine.begin() as conn:
            conn.execute(
                documents.update()
                .where(self._doc_key(application_id, document_id))
                .values(attempts=documents.c.attempts + 1, **values)
            )

    def record_document_sent(self, application_id: str, document_id: str, attachment_id: str) -> None:
        """Record the Sentral attachment that holds the document."""
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(
                documents.update()
                .where(self._doc_key(application_id, document_id))
                .values(state=DocState.SENT, attachment_id=attachment_id, sent_at=now, updated_at=now)
            )

    def record_documents_done(self, application_id: str) -> None:
        """Record that every document to send is in Sentral."""
        self._update_application(
            application_id,
            state=AppState.DOCUMENTS_SENT,
            documents_sent_at=_now(),
            failed_step=None,
            last_error=None,
        )

    def record_note_intent(self, application_id: str) -> None:
        """Announce the EnrolHQ note; committed before the note is posted."""
        self._update_application(application_id, note_intent_at=_now())

    def record_noted(self, application_id: str, note_id: str) -> None:
        """Record the EnrolHQ note that closes the application's sync."""
        self._update_application(
            application_id,
            note_id=note_id,
            noted_at=_now(),
            state=AppState.NOTED,
            failed_step=None,
            last_error=None,
        )

    def record_error(
        self,
        application_id: str,
        step: str,
        error: str,
        *,
        fatal: bool,
        run_id: str | None = None,
        synced_by: str | None = None,
        applicant: str | None = None,
    ) -> None:
        """Record an error of a step; a fatal one marks the application failed.

        A retriable error only notes what happened: the step will run again and resume. An application
        that fails before it was ever prepared gets a row, so that the run report lists it.

        :param run_id: the run, needed only when the application may not have a row yet.
        """
        now = _now()
        values: dict[str, Any] = {"failed_step": step, "last_error": error[:ERROR_LIMIT], "updated_at": now}
        if fatal:
            values["state"] = AppState.FAILED
        if run_id is not None:
            values.update(run_id=run_id, synced_by=synced_by)
        if applicant is not None:
            values["applicant"] = applicant
        with self.engine.begin() as conn:
            result = conn.execute(applications.update().where(self._app_key(application_id)).values(**values))
            if result.rowcount == 0 and run_id is not None:
                values.setdefault("state", AppState.FAILED)
                conn.execute(
                    applications.insert().values(
                        school=self.school,
                        application_id=application_id,
                        attempts=0,
                        created_at=now,
                        **values,
                    )
                )


def _resumed_state(row: sa.Row) -> AppState:
    if row.note_id is not None:
        return AppState.NOTED
    if row.documents_sent_at is not None:
        return AppState.DOCUMENTS_SENT
    return AppState.DRAFT_SENT
