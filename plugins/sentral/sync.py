"""The steps of the application sync, each safe to run again: prepare, send_draft, send_documents, record.

Every step reads the ledger first and does only what is left, so a retried or cleared task resumes
where the last try stopped. Every call that creates something (a draft, an attachment, a note) follows
the same protocol:

1. commit an intent in the ledger;
2. make the call;
3. record what was created.

A step that finds an intent without a result does not know whether the call reached the other system
(the answer was lost, or the worker died between 2 and 3), so it first looks for the result: a draft
whose reference names the application (or, lacking one, with the applicant's name and date of birth),
an attachment of the draft with the document's file name and size, an EnrolHQ note carrying the
draft's marker line. Only when nothing is found is the call made again.

The steps are plain functions of a :class:`SyncSession`; the DAG runs them as mapped tasks and the
throughput benchmark runs them from a thread pool.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apicore.errors import ApiError
from sentral.duplicates import FamilyInSentral, find_family
from sentral.ledger import ApplicationRecord, AppState, DocState, DocumentPlan, Ledger
from sentral.sync_rules import DocumentRules, flatten, offer_accepted, plan_documents

log = logging.getLogger(__name__)

# Where a draft carries the application it came from (the default field map's ``reference`` section).
REFERENCE_SECTION = "reference"
REFERENCE_ID_FIELD = "application_id"
# Where the applicant's name and date of birth sit in a draft, for drafts that lost their reference.
STUDENT_SECTION = "student"
DRAFT_NAME_FIELDS = ("first_name", "family_name", "dob")
# The line of the EnrolHQ note by which a later attempt finds the note again.
NOTE_MARKER = "sentral-sync: draft {draft_id}"


class Outcome:
    """What ``prepare`` found for one application; the values appear in XCom and the run report."""

    READY = "ready"
    DUPLICATE = "duplicate"
    FINISHED = "already synced"
    FAILED = "failed"
    NOT_ELIGIBLE = "not eligible"


@dataclass(frozen=True)
class RunSettings:
    """What one run of the sync was asked to do.

    :param run_id: the Airflow run id (or a benchmark's label); it ties ledger rows to the run report.
    :param synced_by: who is syncing, written to the ledger and the EnrolHQ note.
    :param dry_run: build, validate and check everything, but write nothing anywhere.
    """

    run_id: str
    synced_by: str
    dry_run: bool = False


DraftBuilder = Callable[[Mapping[str, Any], FamilyInSentral, Sequence[str]], dict[str, Any]]


@dataclass
class SyncSession:
    """Everything the steps need for one school and one run.

    :param school: the school key.
    :param enrolhq: the school's EnrolHQ client, built on the shared token store.
    :param sentral: the school's Sentral client.
    :param ledger: the school's ledger.
    :param settings: this run's settings.
    :param build_draft: turns an application in detail, what Sentral holds of the family and the staff's
        notes into the draft's ``data``; raises ``PayloadError`` naming the application and field.
    :param document_rules: which documents are sent.
    :param find_family: looks the family up in Sentral; replaceable in tests.
    :param offer_accepted_field: the dotted path of the application that is set once the family
        accepted the offer; None when the school does not require an accepted offer.
    """

    school: str
    enrolhq: Any
    sentral: Any
    ledger: Ledger
    settings: RunSettings
    build_draft: DraftBuilder
    document_rules: DocumentRules
    find_family: Callable[[Any, Mapping[str, Any]], FamilyInSentral] = field(default=find_family)
    offer_accepted_field: str | None = None


def payload_hash(payload: Mapping[str, Any]) -> str:
    """A stable hash of a draft's ``data``: the same content always gives the same hash."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def applicant_name(application: Mapping[str, Any]) -> str:
    """How the run report names the applicant."""
    return " ".join(part for part in (application.get("first_name"), application.get("last_name")) if part)


def is_fatal(exc: BaseException) -> bool:
    """Whether an error repeats until a person changes something, so retrying it is pointless.

    Fatal: the API clients' fatal errors, and bad data (a draft that cannot be built is a ValueError).
    Everything else, including errors this module did not foresee, is left to Airflow's retries.
    """
    if isinstance(exc, ApiError):
        return not exc.retriable
    return isinstance(exc, ValueError)


@contextmanager
def _step(session: SyncSession, application_id: str, step: str, **row: Any) -> Iterator[None]:
    """Record an error of ``step`` in the ledger before it reaches Airflow; nothing in a dry run."""
    try:
        yield
    except Exception as exc:
        fatal = is_fatal(exc)
        log.warning("application %s: %s failed (%s)", application_id, step, type(exc).__name__)
        if not session.settings.dry_run:
            session.ledger.record_error(application_id, step, str(exc), fatal=fatal, **row)
        raise


# --- prepare ---


def prepare(session: SyncSession, application_id: str) -> dict[str, Any]:
    """Build and validate the draft, check Sentral for the family, and record what will be sent.

    Returns a small summary for XCom; in a dry run it also carries the draft field by field.
    :param application_id: the EnrolHQ application id.
    """
    settings = session.settings
    record = None if settings.dry_run else session.ledger.get(application_id)
    if record is not None and record.is_finished:
        log.info("application %s: already synced as draft %s", application_id, record.draft_id)
        return {"application_id": application_id, "outcome": Outcome.FINISHED, "draft_id": record.draft_id}

    row = {"run_id": settings.run_id, "synced_by": settings.synced_by}
    with _step(session, application_id, "prepare", **row):
        application = session.enrolhq.get_application(application_id)
        applicant = applicant_name(application)
        row["applicant"] = applicant
        if record is not None and record.draft_id is not None:
            return _prepare_resumed(session, application_id, application, record)
        if not offer_accepted(application, session.offer_accepted_field):
            log.info("application %s: offer not accepted yet; not sent", application_id)
            reason = "the enrolment offer has not been accepted"
            return {
                "application_id": application_id,
                "applicant": applicant,
                "outcome": Outcome.NOT_ELIGIBLE,
                "reason": reason,
            }
        family = session.find_family(session.sentral, application)
        if family.is_duplicate:
            return _prepare_duplicate(session, application_id, applicant, family)
        payload = session.build_draft(application, family, staff_notes(session, application_id))
        plans = plan_documents(session.enrolhq.list_documents(application_id), session.document_rules)
    return _record_ready(session, application_id, applicant, payload, family, plans)


def _prepare_resumed(
    session: SyncSession, application_id: str, application: Mapping[str, Any], record: ApplicationRecord
) -> dict[str, Any]:
    # The draft is in Sentral already: what was sent stays as it was, only new documents are planned.
    plans = plan_documents(session.enrolhq.list_documents(application_id), session.document_rules)
    session.ledger.record_prepared(
        application_id,
        run_id=session.settings.run_id,
        synced_by=session.settings.synced_by,
        applicant=applicant_name(application),
        payload=record.payload or {},
        payload_hash=record.payload_hash or "",
        household_to_link=record.household_to_link,
        document_plans=plans,
    )
    log.info("application %s: resuming after draft %s", application_id, record.draft_id)
    return {"application_id": application_id, "outcome": Outcome.READY, "draft_id": record.draft_id}


def _prepare_duplicate(
    session: SyncSession, application_id: str, applicant: str, family: FamilyInSentral
) -> dict[str, Any]:
    student_id = family.student_id or family.person_id or ""
    if not session.settings.dry_run:
        session.ledger.record_duplicate(
            application_id,
            run_id=session.settings.run_id,
            synced_by=session.settings.synced_by,
            applicant=applicant,
            student_id=student_id,
        )
    log.info("application %s: not sent, already in Sentral as student %s", application_id, student_id)
    return {"application_id": application_id, "outcome": Outcome.DUPLICATE, "student_id": student_id}


def _record_ready(
    session: SyncSession,
    application_id: str,
    applicant: str,
    payload: dict[str, Any],
    family: FamilyInSentral,
    plans: list[DocumentPlan],
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "application_id": application_id,
        "outcome": Outcome.READY,
        "household_to_link": family.household_id,
    }
    if session.settings.dry_run:
        summary.update(
            applicant=applicant,
            fields=flatten(payload),
            documents=[[p.file_name, p.kind, p.skip_reason or f"category {p.category_id}"] for p in plans],
        )
        return summary
    session.ledger.record_prepared(
        application_id,
        run_id=session.settings.run_id,
        synced_by=session.settings.synced_by,
        applicant=applicant,
        payload=payload,
        payload_hash=payload_hash(payload),
        household_to_link=family.household_id,
        document_plans=plans,
    )
    log.info("application %s: draft prepared", application_id)
    return summary


def staff_notes(session: SyncSession, application_id: str) -> list[str]:
    """The registrars' notes on the application, oldest first, without notes this sync left."""
    notes = sorted(session.enrolhq.list_notes(application_id), key=lambda note: str(note.get("created_at")))
    marker_start = NOTE_MARKER.split("{", 1)[0]
    return [str(n.get("text") or "") for n in notes if marker_start not in str(n.get("text") or "")]


# --- send_draft ---


def send_draft(session: SyncSession, application_id: str) -> str | None:
    """Send the prepared draft, exactly once; return its Sentral id (None when nothing is to be sent)."""
    record = _live_record(session, application_id)
    if record is None or record.is_duplicate or record.payload is None:
        return None
    if record.draft_id is not None:
        return record.draft_id
    if record.state is AppState.FAILED and record.failed_step == "prepare":
        # The payload on file is from an earlier prepare; this run could not build a valid one.
        return None

    with _step(session, application_id, "send_draft"):
        if record.draft_intent_at is not None:
            found = find_draft(session.sentral, application_id, record.payload)
            if found is not None:
                log.info("application %s: found draft %s from an earlier attempt", application_id, found)
                session.ledger.record_draft_sent(application_id, found)
                return found
        session.ledger.record_draft_intent(application_id)
        draft = session.sentral.create_draft(record.payload)
    session.ledger.record_draft_sent(application_id, draft.id)
    log.info("draft %s sent for application %s", draft.id, application_id)
    return draft.id


def find_draft(sentral: Any, application_id: str, payload: Mapping[str, Any]) -> str | None:
    """The id of a Sentral draft made from this application, or None.

    A draft matches by the application reference it carries; a draft with no reference at all (staff
    may have edited it away) matches by the applicant's name and date of birth. Sentral offers no
    filter for either, so every draft is read once per search.
    """
    wanted = _name_key(payload)
    by_name = None
    for draft in sentral.iter_drafts():
        references = [_reference(draft.get("data")), _reference(draft.get("originalData"))]
        if application_id in references:
            return draft.id
        if by_name is None and not any(references) and wanted and _name_key(draft.get("data")) == wanted:
            by_name = draft.id
    return by_name


def _reference(data: Any) -> str | None:
    section = data.get(REFERENCE_SECTION) if isinstance(data, Mapping) else None
    value = section.get(REFERENCE_ID_FIELD) if isinstance(section, Mapping) else None
    return str(value) if value else None


def _name_key(data: Any) -> tuple[str, ...] | None:
    student = data.get(STUDENT_SECTION) if isinstance(data, Mapping) else None
    if not isinstance(student, Mapping):
        return None
    key = tuple(str(student.get(name) or "").strip().lower() for name in DRAFT_NAME_FIELDS)
    return key if all(key) else None


# --- send_documents ---


def send_documents(session: SyncSession, application_id: str) -> dict[str, int]:
    """Upload the draft's planned documents, each exactly once; return counts sent and skipped."""
    record = _live_record(session, application_id)
    if record is None or record.draft_id is None:
        return {"sent": 0, "skipped": 0}
    documents = session.ledger.documents(application_id)
    counts = {"sent": 0, "skipped": sum(d.state is DocState.SKIPPED for d in documents)}
    attachments: list[Any] | None = None
    sources: dict[str, Mapping[str, Any]] | None = None

    with _step(session, application_id, "send_documents"):
        for document in documents:
            if document.state is DocState.SKIPPED or document.sent:
                counts["sent"] += document.sent
                continue
            if document.intent_at is not None:
                if attachments is None:
                    attachments = session.sentral.list_attachments(record.draft_id)
                found = _find_attachment(attachments, document.file_name, document.size)
                if found is not None:
                    session.ledger.record_document_sent(application_id, document.document_id, found)
                    counts["sent"] += 1
                    continue
            if sources is None:
                # Listed again rather than kept from prepare: a file link may be signed and expire.
                sources = {str(d["id"]): d for d in session.enrolhq.list_documents(application_id)}
            _upload(
                session, record, document, sources.get(document.document_id, {"id": document.document_id})
            )
            counts["sent"] += 1
    if record.state is not AppState.DOCUMENTS_SENT:
        session.ledger.record_documents_done(application_id)
    log.info("application %s: %s documents in draft %s", application_id, counts["sent"], record.draft_id)
    return counts


def _upload(
    session: SyncSession, record: ApplicationRecord, document: Any, source: Mapping[str, Any]
) -> None:
    # The file is fetched before the intent is written, so the window in which an upload's fate is
    # unknown holds nothing but the upload itself.
    content = session.enrolhq.download_document(source)
    session.ledger.record_document_intent(record.application_id, document.document_id, size=len(content))
    attachment = session.sentral.upload_attachment(
        record.draft_id, filename=document.file_name, content=content, category_id=document.category_id
    )
    session.ledger.record_document_sent(record.application_id, document.document_id, attachment.id)


def _find_attachment(attachments: Sequence[Any], file_name: str, size: int | None) -> str | None:
    for attachment in attachments:
        if attachment.get("fileName") != file_name:
            continue
        if size is None or attachment.get("size") in (None, size):
            return attachment.id
    return None


# --- record ---


def record(session: SyncSession, application_id: str) -> str | None:
    """Leave the sync's note on the EnrolHQ application, exactly once; return the note id."""
    row = _live_record(session, application_id)
    if row is None or row.draft_id is None:
        return None
    if row.note_id is not None:
        return row.note_id
    if row.state is not AppState.DOCUMENTS_SENT:
        raise RuntimeError(
            f"application {application_id}: documents of draft {row.draft_id} are not all sent yet"
        )
    marker = NOTE_MARKER.format(draft_id=row.draft_id)

    with _step(session, application_id, "record"):
        if row.note_intent_at is not None:
            found = _find_note(session.enrolhq.list_notes(application_id), marker)
            if found is not None:
                session.ledger.record_noted(application_id, found)
                return found
        session.ledger.record_note_intent(application_id)
        note = session.enrolhq.add_note(application_id, note_text(row, marker))
    note_id = str(note["id"])
    session.ledger.record_noted(application_id, note_id)
    log.info("application %s: sync of draft %s noted in EnrolHQ", application_id, row.draft_id)
    return note_id


def note_text(row: ApplicationRecord, marker: str, *, now: datetime | None = None) -> str:
    """The EnrolHQ note: what was sent, by whom, when, and what a registrar still has to do."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Synced to Sentral as enrolment draft {row.draft_id}.",
        f"Synced by {row.synced_by or 'scheduler'} on {when}.",
    ]
    if row.household_to_link:
        lines.append(f"Link household in Sentral: household {row.household_to_link} (a sibling is enrolled).")
    lines.append(marker)
    return "\n".join(lines)


def _find_note(notes: Sequence[Mapping[str, Any]], marker: str) -> str | None:
    for note in notes:
        if marker in str(note.get("text") or "").splitlines():
            return str(note["id"])
    return None


def _live_record(session: SyncSession, application_id: str) -> ApplicationRecord | None:
    if session.settings.dry_run:
        return None
    return session.ledger.get(application_id)
