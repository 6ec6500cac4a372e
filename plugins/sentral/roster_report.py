"""The roster import's run report: one line per student, grouped by what happened to them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sentral.matching import Applicant, Review
from sentral.roster import RosterRow
from sentral.roster_import import APPROVED, ID_SOURCE_LABELS, MISSING, PENDING, REJECTED, ImportResult

KIND = "roster"

COLUMNS = (
    ("outcome", "Outcome"),
    ("application_id", "Application"),
    ("applicant", "Applicant"),
    ("dob", "Date of birth"),
    ("sentral_id", "Sentral ID"),
    ("roster_row", "Roster row"),
    ("roster_student", "Roster student"),
    ("candidates", "Candidates"),
    ("reasons", "Why"),
)

# The order sections appear in: what needs a person first.
OUTCOMES = (
    "rejected",
    "write failed",
    "review",
    "not written: over the limit",
    "would be set",
    "set",
    "already set",
    "draft rejected in Sentral",
    "draft no longer in Sentral",
    "roster row matches no application",
    "application matches no roster row",
)


def report_rows(result: ImportResult) -> list[dict[str, Any]]:
    """Every line of the report, sorted into the sections of :data:`OUTCOMES`."""
    rows = [*_rejected(result), *_writes(result), *_reviews(result), *_unmatched(result), *_drafts(result)]
    rows.sort(key=lambda row: OUTCOMES.index(row["outcome"]))
    return rows


def summary(result: ImportResult) -> dict[str, object]:
    """The counts at the top of the report."""
    roster = result.roster
    if result.dry_run or result.stopped_by_limit:
        written_label, written = "Would be set", len(result.planned)
    else:
        written_label, written = "Set", len(result.written)
    return {
        "Roster": roster.source if roster else "none (inbox empty)",
        "Sentral ID used": ID_SOURCE_LABELS[result.id_source],
        "Roster rows": len(roster.rows) if roster else 0,
        "Rows rejected": len(roster.problems) if roster else 0,
        written_label: written,
        "Already set": len(result.matching.already_set),
        "Review": len(result.matching.review) + len(result.draft_reviews),
        "Unmatched roster rows": len(result.matching.unmatched_rows),
        "Unmatched applications": len(result.matching.unmatched_applications),
        "Approved drafts": sum(1 for draft in result.drafts if draft.status == APPROVED),
        "Pending drafts": sum(1 for draft in result.drafts if draft.status == PENDING),
        "Write limit": result.limit,
        "Failed writes": len(result.failed),
    }


def notes(result: ImportResult) -> list[str]:
    """Sentences under the summary: how the roster was read, and anything that stopped the run."""
    lines = []
    roster = result.roster
    if roster is not None:
        if roster.columns or roster.ignored_columns:
            lines.append(f"Columns: {roster.describe_columns()}.")
        if roster.encoding not in ("", "n/a"):
            lines.append(f"Read as {roster.encoding}, separated by {_delimiter_name(roster.delimiter)}.")
        if not roster.ok:
            lines.append(
                "The roster failed validation: nothing was written. Correct the rows below and run again."
            )
    lines.extend(result.notes)
    return lines


def write_roster_report(result: ImportResult, *, school: str, stamp: str | None = None, out_dir: Any = None):
    """Write the HTML and CSV report of one run; returns :class:`~sentral.reports.ReportFiles`."""
    from sentral.reports import write_report

    return write_report(
        kind=KIND,
        school=school,
        title="Roster import: external IDs" + (" (dry run)" if result.dry_run else ""),
        columns=COLUMNS,
        rows=report_rows(result),
        summary=summary(result),
        notes=notes(result),
        group_by=("outcome",),
        stamp=stamp,
        out_dir=out_dir,
    )


def _delimiter_name(delimiter: str) -> str:
    return {",": "commas", ";": "semicolons", "\t": "tabs"}.get(delimiter, repr(delimiter))


def _applicant_cells(applicant: Applicant) -> dict[str, object]:
    return {
        "application_id": applicant.application_id,
        "applicant": applicant.display_name,
        "dob": applicant.dob,
    }


def _row_cells(row: RosterRow | None) -> dict[str, object]:
    if row is None:
        return {}
    return {"sentral_id": row.sentral_id, "roster_row": row.row, "roster_student": row.display_name}


def _candidate_text(applicant: Applicant) -> str:
    held = f", holds {applicant.external_id}" if applicant.external_id else ""
    return f"{applicant.application_id}: {applicant.display_name} ({applicant.dob}{held})"


def _rejected(result: ImportResult) -> Iterator[dict[str, Any]]:
    if result.roster is None:
        return
    for problem in result.roster.problems:
        yield {"outcome": "rejected", "roster_row": problem.row, "reasons": str(problem)}


def _writes(result: ImportResult) -> Iterator[dict[str, Any]]:
    failed = {write.applicant.application_id: reason for write, reason, _retriable in result.failed}
    written = {write.applicant.application_id for write in result.written}
    for write in result.planned:
        application_id = write.applicant.application_id
        if result.stopped_by_limit:
            outcome = "not written: over the limit"
        elif result.dry_run:
            outcome = "would be set"
        elif application_id in failed:
            outcome = "write failed"
        elif application_id in written:
            outcome = "set"
        else:
            continue
        yield {
            "outcome": outcome,
            **_applicant_cells(write.applicant),
            "sentral_id": write.sentral_id,
            "reasons": failed.get(application_id) or f"from {write.source}",
        }
    for match in result.matching.already_set:
        yield {"outcome": "already set", **_applicant_cells(match.applicant), **_row_cells(match.row)}


def _reviews(result: ImportResult) -> Iterator[dict[str, Any]]:
    reviews: list[Review] = [*result.matching.review, *result.draft_reviews]
    for review in reviews:
        first = review.candidates[0] if len(review.candidates) == 1 else None
        yield {
            "outcome": "review",
            **(_applicant_cells(first) if first else {}),
            **_row_cells(review.row),
            "candidates": [_candidate_text(candidate) for candidate in review.candidates],
            "reasons": review.reasons,
        }


def _unmatched(result: ImportResult) -> Iterator[dict[str, Any]]:
    for row in result.matching.unmatched_rows:
        yield {"outcome": "roster row matches no application", **_row_cells(row), "dob": row.dob}
    for applicant in result.matching.unmatched_applications:
        yield {"outcome": "application matches no roster row", **_applicant_cells(applicant)}


def _drafts(result: ImportResult) -> Iterator[dict[str, Any]]:
    for draft in result.drafts:
        if draft.status == REJECTED:
            outcome, reason = (
                "draft rejected in Sentral",
                f"draft {draft.draft_id} was rejected by a registrar",
            )
        elif draft.status == MISSING:
            outcome, reason = "draft no longer in Sentral", f"draft {draft.draft_id} was not found in Sentral"
        else:
            continue
        yield {"outcome": outcome, "application_id": draft.application_id, "reasons": reason}
