"""The roster import: from a Sentral roster to external IDs in EnrolHQ, safely.

One run reads the roster (a CSV named by the run, the newest CSV in the school's inbox, or the Sentral
API's current students), matches it to the applications, reads back the drafts the sync sent to find
those a registrar has approved into students, and then either writes the planned external IDs or,
for a dry run, only reports them. The run report (:mod:`sentral.roster_report`) lists every outcome.

Guarantees:
- nothing is written from a roster that failed validation;
- a run that would write more external IDs than the limit stops before its first write;
- each write changes only ``external_id``, through EnrolHQ's read-modify-write with a conflict check,
  and never replaces an external ID someone set in the meantime;
- a second run over the same roster writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apicore.errors import RetriableApiError
from sentral.matching import Applicant, MatchResult, Review, match_roster
from sentral.roster import RosterFile, RosterInvalidError, id_key, rows_from_records
from sentral.roster_csv import read_roster_csv

log = logging.getLogger(__name__)

# school.yml spells the choice as Sentral's attribute names; the roster reader as its column names.
_ID_SOURCES = {"id": "id", "studentCode": "student_code", "student_code": "student_code"}
ID_SOURCE_LABELS = {"id": "Sentral's internal student id", "student_code": "the school's student code"}

# What reading back a draft found, in this module's words. Sentral's own status values are a Guess kept
# in sentral.client (DRAFT_STATUS_*); read_back_drafts translates them.
APPROVED, PENDING, REJECTED, MISSING = "approved", "pending", "rejected", "missing"


class RosterRunStoppedError(RuntimeError):
    """The run stopped for a person to look at its report; trying again unchanged would not help."""


class WriteLimitExceededError(RosterRunStoppedError):
    """The run would set more external IDs than its limit; nothing was written."""


class WritesFailedError(RosterRunStoppedError):
    """Some planned writes failed for good; the rest were made and the report lists which and why."""


@dataclass(frozen=True)
class PlannedWrite:
    """One external ID to set.

    :param source: where the ID came from: ``"roster row 12"`` or ``"approved draft 4411"``.
    """

    applicant: Applicant
    sentral_id: str
    source: str


@dataclass
class DraftOutcome:
    """What reading back one draft the sync sent found."""

    application_id: str
    draft_id: str
    status: str
    sentral_id: str = ""


@dataclass
class ImportResult:
    """Everything one run found and did; the report is built from it."""

    roster: RosterFile | None
    id_source: str
    matching: MatchResult = field(default_factory=MatchResult)
    drafts: list[DraftOutcome] = field(default_factory=list)
    planned: list[PlannedWrite] = field(default_factory=list)
    draft_reviews: list[Review] = field(default_factory=list)
    written: list[PlannedWrite] = field(default_factory=list)
    failed: list[tuple[PlannedWrite, str, bool]] = field(default_factory=list)
    limit: int = 0
    dry_run: bool = False
    stopped_by_limit: bool = False
    notes: list[str] = field(default_factory=list)

    def raise_for_outcome(self) -> None:
        """Fail the run when a person must act: invalid roster, limit reached, or failed writes."""
        if self.roster is not None and not self.roster.ok:
            raise RosterInvalidError(self.roster)
        if self.stopped_by_limit and not self.dry_run:
            raise WriteLimitExceededError(self.notes[-1])
        if self.failed:
            message = (
                f"{len(self.failed)} of {len(self.planned)} external IDs were not written; see the run report"
            )
            if any(retriable for _write, _reason, retriable in self.failed):
                # Worth another try: the next run skips every ID this one already wrote.
                raise RetriableApiError("EnrolHQ", message)
            raise WritesFailedError(message)

    def counts(self) -> dict[str, int]:
        counts = self.matching.counts()
        counts.update(
            planned=len(self.planned),
            written=len(self.written),
            failed=len(self.failed),
            rejected_rows=len(self.roster.problems) if self.roster else 0,
            drafts_approved=sum(1 for draft in self.drafts if draft.status == APPROVED),
        )
        return counts


def id_source_of(config: Any) -> str:
    """The roster field holding the Sentral ID the school writes: ``"id"`` or ``"student_code"``.

    :param config: the school's :class:`~sentral.mappings.SchoolConfig`.
    """
    return _ID_SOURCES[config.settings.student_id_source]


def newest_inbox_file(inbox: str | Path) -> Path | None:
    """The most recently modified CSV in the inbox folder, or None when there is none.

    :param inbox: the folder the school's roster exports are dropped into.
    """
    folder = Path(inbox)
    if not folder.is_dir():
        raise FileNotFoundError(f"roster inbox {folder} is not a folder")
    files = [path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in (".csv", ".txt")]
    return max(files, key=lambda path: (path.stat().st_mtime, path.name), default=None)


def load_roster(school: Any, csv_path: str | None) -> RosterFile | None:
    """Read the roster this run uses: the given CSV, else the source school.yml names.

    :param school: the :class:`~sentral.school.School`.
    :param csv_path: a CSV named by a triggered run; empty or None to use the configured source.
    :returns: the roster, or None when the inbox holds no file yet.
    """
    id_source = id_source_of(school.config)
    settings = school.config.settings.roster
    if csv_path:
        return read_roster_csv(csv_path, id_source=id_source, id_width=settings.id_width)
    if settings.source == "inbox":
        if not settings.inbox:
            raise ValueError(f"school {school.name}: roster.source is inbox but roster.inbox names no folder")
        # A relative inbox is read from the school's mappings folder, not wherever the worker started.
        newest = newest_inbox_file(Path(school.config.directory) / settings.inbox)
        if newest is None:
            log.info("roster inbox of %s holds no CSV; only drafts are read back", school.name)
            return None
        return read_roster_csv(newest, id_source=id_source, id_width=settings.id_width)
    return rows_from_records(
        student_records(school.sentral.iter_students(include=("person",))), id_source=id_source
    )


def student_records(students: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Sentral students (with their person included) as roster records; inactive students are left out.

    :param students: :class:`~sentral.jsonapi.Resource` objects of type student.
    """
    for student in students:
        if student.get("isActive") is False:
            continue
        person = student.related("person")
        attributes = person.attributes if person is not None and not isinstance(person, list) else {}
        yield {
            "student_id": student.id,
            "student_code": student.get("studentCode") or "",
            "first_name": attributes.get("firstName"),
            "preferred_name": attributes.get("preferredName"),
            "last_name": attributes.get("lastName"),
            "dob": attributes.get("dateOfBirth"),
        }


def read_applications(enrolhq: Any) -> list[Applicant]:
    """Every application, as matching needs it (all statuses: any may already hold a Sentral ID)."""
    return [Applicant.from_summary(summary) for summary in enrolhq.iter_applications()]


def read_back_drafts(sentral: Any, sent: Iterable[tuple[str, str]], id_source: str) -> list[DraftOutcome]:
    """The status of each sent draft and, for an approved one, its student's Sentral ID.

    :param sent: ``(application_id, draft_id)`` pairs from the ledger.
    :param id_source: ``"id"`` or ``"student_code"``: which of the student's identifiers is wanted.
    """
    from apicore.errors import NotFoundError
    from sentral.client import DRAFT_STATUS_APPROVED, DRAFT_STATUS_REJECTED, DRAFT_STUDENT_RELATIONSHIP

    statuses = {DRAFT_STATUS_APPROVED: APPROVED, DRAFT_STATUS_REJECTED: REJECTED}
    outcomes = []
    for application_id, draft_id in sent:
        try:
            draft = sentral.get_draft(draft_id)
        except NotFoundError:
            # A registrar may delete a draft instead of approving it; the report says so.
            log.info("draft %s of application %s is no longer in Sentral", draft_id, application_id)
            outcomes.append(DraftOutcome(application_id, draft_id, MISSING))
            continue
        outcome = DraftOutcome(application_id, draft_id, statuses.get(draft.get("status"), PENDING))
        student_id = draft.relationships.get(DRAFT_STUDENT_RELATIONSHIP)
        if outcome.status == APPROVED and student_id:
            if id_source == "student_code":
                outcome.sentral_id = str(sentral.get_student(student_id, include=()).get("studentCode") or "")
            else:
                outcome.sentral_id = str(student_id)
        log.info("draft %s of application %s is %s", draft_id, application_id, outcome.status)
        outcomes.append(outcome)
    return outcomes


def plan_writes(result: ImportResult, applicants: list[Applicant]) -> None:
    """Merge roster matches and approved drafts into one plan; disagreements go to review."""
    by_id = {applicant.application_id: applicant for applicant in applicants}
    planned: dict[str, PlannedWrite] = {
        match.applicant.application_id: PlannedWrite(
            match.applicant, match.row.sentral_id, f"roster row {match.row.row}"
        )
        for match in result.matching.matches
    }
    for draft in result.drafts:
        applicant = by_id.get(draft.application_id)
        if not draft.sentral_id or applicant is None:
            continue
        if applicant.external_id:
            if id_key(applicant.external_id) != id_key(draft.sentral_id):
                reason = f"approved draft {draft.draft_id} is student {draft.sentral_id}, but the application holds {applicant.external_id}"
                result.draft_reviews.append(Review(None, [applicant], [reason]))
            continue
        earlier = planned.get(draft.application_id)
        if earlier is None:
            planned[draft.application_id] = PlannedWrite(
                applicant, draft.sentral_id, f"approved draft {draft.draft_id}"
            )
        elif id_key(earlier.sentral_id) != id_key(draft.sentral_id):
            del planned[draft.application_id]
            reason = f"{earlier.source} says {earlier.sentral_id}, approved draft {draft.draft_id} says {draft.sentral_id}"
            result.draft_reviews.append(Review(None, [applicant], [reason]))
    result.planned = list(planned.values())
    _settle_reviews_by_drafts(result)


def _settle_reviews_by_drafts(result: ImportResult) -> None:
    # A registrar approved the draft made from this very application, so that draft says which of a roster
    # row's candidates (twins, say) the Sentral student is: the row needs no person any more.
    from_drafts = {
        id_key(write.sentral_id): write.applicant.application_id
        for write in result.planned
        if write.source.startswith("approved draft")
    }
    still_open = []
    for review in result.matching.review:
        settled_by = from_drafts.get(id_key(review.row.sentral_id)) if review.row else None
        if settled_by and settled_by in {candidate.application_id for candidate in review.candidates}:
            result.notes.append(
                f"roster row {review.row.row} ({', '.join(review.reasons)}) was settled by the approved "
                f"draft of application {settled_by}"
            )
            continue
        still_open.append(review)
    result.matching.review = still_open


def write_external_ids(enrolhq: Any, planned: Iterable[PlannedWrite], result: ImportResult) -> None:
    """Set each planned external ID, changing nothing else; record what happened to each."""
    from apicore.errors import ApiError

    for write in planned:
        application_id = write.applicant.application_id
        try:
            enrolhq.update_application(application_id, external_id_change(write.sentral_id))
        except ExternalIdTakenError as exc:
            result.failed.append((write, str(exc), False))
            log.warning("application %s: external ID not written, %s", application_id, exc)
        except ApiError as exc:
            result.failed.append((write, str(exc), exc.retriable))
            log.warning("application %s: external ID not written (%s)", application_id, type(exc).__name__)
        else:
            result.written.append(write)
            log.info("application %s: external ID set from %s", application_id, write.source)


class ExternalIdTakenError(ValueError):
    """Someone set a different external ID between the plan and the write; it is left as it is."""


def external_id_change(sentral_id: str):
    """The edit :meth:`EnrolHQClient.update_application` applies: set ``external_id``, touch nothing else.

    :param sentral_id: the ID to set; an application already holding it (leading zeros aside) is left
        as it is, and one holding another ID raises :class:`ExternalIdTakenError`.
    """

    def change(record: dict) -> None:
        current = str(record.get("external_id") or "").strip()
        if current and id_key(current) != id_key(sentral_id):
            raise ExternalIdTakenError(
                f"it now holds external ID {current}, set since the roster was matched"
            )
        if not current:
            record["external_id"] = sentral_id

    return change


def run_roster_import(
    school: Any, *, csv_path: str | None = None, dry_run: bool = False, max_writes: int | None = None
) -> ImportResult:
    """Read, match, plan and (unless a dry run, invalid or over the limit) write; return what happened.

    Nothing here raises for an outcome a person must see in the report (an invalid roster, the limit,
    failed writes): the caller writes the report first, then calls :meth:`ImportResult.raise_for_outcome`.

    :param school: the :class:`~sentral.school.School`.
    :param csv_path: a roster CSV to use instead of the configured source.
    :param dry_run: plan and report only.
    :param max_writes: this run's limit on external-ID writes, replacing the school's
        ``roster.max_external_id_writes``; None keeps the school's.
    """
    settings = school.config.settings.roster
    result = ImportResult(roster=None, id_source=id_source_of(school.config), dry_run=dry_run)
    result.limit = settings.max_external_id_writes if max_writes is None else max(int(max_writes), 0)

    result.roster = load_roster(school, csv_path)
    if result.roster is not None and not result.roster.ok:
        return result

    applicants = read_applications(school.enrolhq)
    if result.roster is not None:
        result.matching = match_roster(
            result.roster.rows, applicants, eligible_statuses=settings.synced_statuses
        )
    else:
        result.notes.append(f"the roster inbox {settings.inbox} holds no CSV yet; only drafts were read back")
    # An application that already holds its external ID needs nothing from its draft any more.
    without_id = {applicant.application_id for applicant in applicants if not applicant.external_id}
    from sentral.ledger import Ledger

    sent = [pair for pair in Ledger(school.engine, school.name).sent_drafts() if pair[0] in without_id]
    result.drafts = read_back_drafts(school.sentral, sent, result.id_source)
    plan_writes(result, applicants)

    if len(result.planned) > result.limit:
        result.stopped_by_limit = True
        result.notes.append(
            f"this run would set {len(result.planned)} external IDs, more than the limit of {result.limit}; "
            "nothing was written. Check the plan below, then trigger the run with a higher max_writes"
        )
        return result
    if dry_run:
        result.notes.append(f"dry run: {len(result.planned)} external IDs would be set; nothing was written")
        return result

    write_external_ids(school.enrolhq, result.planned, result)
    log.info("roster import of %s: %s", school.name, result.counts())
    return result
