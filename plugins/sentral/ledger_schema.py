"""The sync ledger's tables and the records read from them.

Declared on :data:`sentral.state.metadata`, so :func:`sentral.state.get_engine` creates them. What the
columns mean, and how an application moves through its states, is described in :mod:`sentral.ledger`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from sentral.state import metadata


class AppState(StrEnum):
    PREPARED = "prepared"
    DRAFT_SENT = "draft_sent"
    DOCUMENTS_SENT = "documents_sent"
    NOTED = "noted"
    DUPLICATE = "duplicate"
    FAILED = "failed"


class DocState(StrEnum):
    PLANNED = "planned"
    INTENT = "intent"
    SENT = "sent"
    SKIPPED = "skipped"


# Errors stored in the ledger are cut to this length: enough for a registrar to act on.
ERROR_LIMIT = 2000

applications = sa.Table(
    "sync_application",
    metadata,
    sa.Column("school", sa.String(100), primary_key=True),
    sa.Column("application_id", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("run_id", sa.String(250)),
    sa.Column("synced_by", sa.String(250)),
    sa.Column("applicant", sa.String(250)),
    sa.Column("payload_hash", sa.String(64)),
    sa.Column("payload", sa.Text),
    sa.Column("draft_id", sa.String(64)),
    sa.Column("draft_intent_at", sa.DateTime(timezone=True)),
    sa.Column("draft_sent_at", sa.DateTime(timezone=True)),
    sa.Column("documents_sent_at", sa.DateTime(timezone=True)),
    sa.Column("note_id", sa.String(64)),
    sa.Column("note_intent_at", sa.DateTime(timezone=True)),
    sa.Column("noted_at", sa.DateTime(timezone=True)),
    sa.Column("duplicate_student_id", sa.String(64)),
    sa.Column("household_to_link", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("failed_step", sa.String(30)),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

documents = sa.Table(
    "sync_document",
    metadata,
    sa.Column("school", sa.String(100), primary_key=True),
    sa.Column("application_id", sa.String(64), primary_key=True),
    sa.Column("document_id", sa.String(64), primary_key=True),
    sa.Column("file_name", sa.String(500), nullable=False),
    sa.Column("size", sa.BigInteger),
    sa.Column("kind", sa.String(100)),
    sa.Column("category_id", sa.String(64)),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("attachment_id", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("intent_at", sa.DateTime(timezone=True)),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class DocumentPlan:
    """What the sync intends for one EnrolHQ document.

    :param document_id: the EnrolHQ document id.
    :param file_name: the file's name, also how its attachment is found again in Sentral.
    :param size: the file's size in bytes, as EnrolHQ reports it.
    :param kind: EnrolHQ's document kind (``group_kind``).
    :param category_id: the Sentral document category it goes to; None when it is skipped.
    :param skip_reason: why it is not sent (no category mapped, too large); None when it is sent.
    """

    document_id: str
    file_name: str
    size: int | None
    kind: str | None
    category_id: str | None = None
    skip_reason: str | None = None


@dataclass(frozen=True)
class DocumentRecord:
    """One document's row in the ledger."""

    application_id: str
    document_id: str
    file_name: str
    size: int | None
    kind: str | None
    category_id: str | None
    state: DocState
    reason: str | None
    attachment_id: str | None
    attempts: int
    intent_at: datetime | None

    @property
    def sent(self) -> bool:
        return self.attachment_id is not None


@dataclass(frozen=True)
class ApplicationRecord:
    """One application's row in the ledger."""

    application_id: str
    state: AppState
    run_id: str | None
    synced_by: str | None
    applicant: str | None
    payload_hash: str | None
    payload_json: str | None
    draft_id: str | None
    draft_intent_at: datetime | None
    draft_sent_at: datetime | None
    note_id: str | None
    note_intent_at: datetime | None
    noted_at: datetime | None
    duplicate_student_id: str | None
    household_to_link: str | None
    attempts: int
    failed_step: str | None
    last_error: str | None
    updated_at: datetime

    @property
    def payload(self) -> dict[str, Any] | None:
        return json.loads(self.payload_json) if self.payload_json else None

    @property
    def is_duplicate(self) -> bool:
        return self.state is AppState.DUPLICATE

    @property
    def is_finished(self) -> bool:
        return self.note_id is not None


def application_record(row: sa.Row) -> ApplicationRecord:
    return ApplicationRecord(
        application_id=row.application_id,
        state=AppState(row.state),
        run_id=row.run_id,
        synced_by=row.synced_by,
        applicant=row.applicant,
        payload_hash=row.payload_hash,
        payload_json=row.payload,
        draft_id=row.draft_id,
        draft_intent_at=row.draft_intent_at,
        draft_sent_at=row.draft_sent_at,
        note_id=row.note_id,
        note_intent_at=row.note_intent_at,
        noted_at=row.noted_at,
        duplicate_student_id=row.duplicate_student_id,
        household_to_link=row.household_to_link,
        attempts=row.attempts,
        failed_step=row.failed_step,
        last_error=row.last_error,
        updated_at=row.updated_at,
    )


def document_record(row: sa.Row) -> DocumentRecord:
    return DocumentRecord(
        application_id=row.application_id,
        document_id=row.document_id,
        file_name=row.file_name,
        size=row.size,
        kind=row.kind,
        category_id=row.category_id,
        state=DocState(row.state),
        reason=row.reason,
        attachment_id=row.attachment_id,
        attempts=row.attempts,
        intent_at=row.intent_at,
    )
