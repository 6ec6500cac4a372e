"""The application sync's run report: one row per application, from the ledger and the run's outcomes.

A live run reads the ledger rows the run touched; what ``prepare`` decided without writing anything
(not eligible, already synced) comes from its small XCom summaries. A dry run has no ledger rows, so
its report is built from the summaries alone and shows each draft field by field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sentral.ledger import ApplicationRecord, AppState, DocState, Ledger
from sentral.reports import ReportFiles, write_report
from sentral.sync import Outcome

REPORT_KIND = "sync"

COLUMNS = [
    ("applicant", "Applicant"),
    ("application_id", "EnrolHQ application"),
    ("result", "Result"),
    ("draft_id", "Sentral draft"),
    ("student_id", "Sentral student (duplicate)"),
    ("household_to_link", "Household to link in Sentral"),
    ("documents_sent", "Documents sent"),
    ("documents_skipped", "Documents not sent, and why"),
    ("action", "What a person needs to do"),
]
DRY_RUN_COLUMNS = [
    ("application", "Application"),
    ("result", "Result"),
    ("field", "Draft field"),
    ("value", "Value that would be sent"),
]

SENT = "sent"
DUPLICATE = "duplicate"
FAILED = "failed"


@dataclass(frozen=True)
class SyncReport:
    """A written run report and what it found."""

    files: ReportFiles
    rows: list[dict[str, Any]]

    @property
    def failed(self) -> list[str]:
        return [row["application_id"] for row in self.rows if row.get("result") == FAILED]


def live_rows(
    ledger: Ledger, run_id: str, selected: Sequence[str], outcomes: Sequence[Mapping[str, Any]]
) -> list[dict]:
    """One row per selected application of a live run.

    :param ledger: the school's ledger.
    :param run_id: the run whose rows to read.
    :param selected: the application ids the run set out to sync.
    :param outcomes: the ``prepare`` summaries that reached XCom (failed tasks leave none).
    """
    records = {record.application_id: record for record in ledger.applications_of_run(run_id)}
    by_id = {str(outcome["application_id"]): outcome for outcome in outcomes if outcome}
    rows = []
    for application_id in dict.fromkeys([*selected, *records]):
        record = records.get(application_id)
        outcome = by_id.get(application_id, {})
        if record is not None:
            rows.append(_row_from_record(ledger, record))
        elif outcome.get("outcome") in (Outcome.NOT_ELIGIBLE, Outcome.FINISHED):
            rows.append(_row_from_outcome(application_id, outcome))
        else:
            rows.append(
                {
                    "application_id": application_id,
                    "result": FAILED,
                    "action": "The sync stopped before preparing this application; see the prepare task's log.",
                }
            )
    return sorted(
        rows, key=lambda row: (row["result"] != FAILED, row.get("applicant") or "", row["application_id"])
    )


def _row_from_record(ledger: Ledger, record: ApplicationRecord) -> dict[str, Any]:
    documents = ledger.documents(record.application_id)
    row: dict[str, Any] = {
        "applicant": record.applicant,
        "application_id": record.application_id,
        "draft_id": record.draft_id,
        "household_to_link": record.household_to_link,
        "documents_sent": sum(document.sent for document in documents),
        "documents_skipped": [f"{d.file_name}: {d.reason}" for d in documents if d.state is DocState.SKIPPED],
    }
    if record.state is AppState.DUPLICATE:
        row.update(
            result=DUPLICATE,
            student_id=record.duplicate_student_id,
            action=f"Already in Sentral as student {record.duplicate_student_id}: check and resolve by hand.",
        )
    elif record.state is AppState.NOTED:
        row["result"] = SENT
        if record.household_to_link:
            row["action"] = f"Link the draft to household {record.household_to_link} in Sentral."
    else:
        stopped = record.failed_step or _next_step(record)
        row.update(
            result=FAILED, action=f"Stopped at {stopped}: {record.last_error or 'the step did not finish'}"
        )
    return row


def _next_step(record: ApplicationRecord) -> str:
    return {
        AppState.PREPARED: "send_draft",
        AppState.DRAFT_SENT: "send_documents",
        AppState.DOCUMENTS_SENT: "record",
    }.get(record.state, "prepare")


def _row_from_outcome(application_id: str, outcome: Mapping[str, Any]) -> dict[str, Any]:
    result = outcome["outcome"]
    return {
        "application_id": application_id,
        "applicant": outcome.get("applicant"),
        "result": result,
        "draft_id": outcome.get("draft_id"),
        "action": outcome.get("reason"),
    }


def dry_run_rows(selected: Sequence[str], outcomes: Sequence[Mapping[str, Any]]) -> list[dict]:
    """The field-by-field rows of a dry run, grouped by application."""
    by_id = {str(outcome["application_id"]): outcome for outcome in outcomes if outcome}
    rows = []
    for application_id in selected:
        outcome = by_id.get(application_id) or {"outcome": FAILED, "reason": "prepare did not finish"}
        label = f"{outcome.get('applicant') or ''} ({application_id})".strip()
        result = outcome["outcome"]
        if result == Outcome.READY:
            result = "would be sent"
        header = {"application": label, "result": result, "field": "", "value": outcome.get("reason", "")}
        if outcome.get("student_id"):
            header["value"] = f"already in Sentral as student {outcome['student_id']}"
        elif outcome.get("household_to_link"):
            header["value"] = f"household {outcome['household_to_link']} to link in Sentral"
        rows.append(header)
        for field, value in outcome.get("fields", []):
            rows.append({"application": label, "result": result, "field": field, "value": value})
        for file_name, kind, what in outcome.get("documents", []):
            rows.append(
                {
                    "application": label,
                    "result": result,
                    "field": f"document {file_name} ({kind})",
                    "value": what,
                }
            )
    return rows


def write_sync_report(
    *,
    school: str,
    run_id: str,
    rows: list[dict[str, Any]],
    dry_run: bool,
    synced_by: str,
) -> SyncReport:
    """Write the run report and return it.

    :param school: the school key.
    :param run_id: the run, which names the files.
    :param rows: from :func:`live_rows` or :func:`dry_run_rows`.
    :param dry_run: whether nothing was sent.
    :param synced_by: who ran the sync.
    """
    if dry_run:
        applications = list(dict.fromkeys(row["application"] for row in rows))
        failed = {row["application"] for row in rows if row["result"] == FAILED}
        summary = {
            "Applications": len(applications),
            "Would be sent": sum(
                1
                for a in applications
                if any(r["application"] == a and r["result"] == "would be sent" for r in rows)
            ),
            "Failed": len(failed),
        }
        notes = ["Dry run: nothing was sent to Sentral or EnrolHQ, and the ledger is unchanged."]
        files = write_report(
            kind=REPORT_KIND,
            school=school,
            title="Application sync (dry run)",
            columns=DRY_RUN_COLUMNS,
            rows=rows,
            summary=summary,
            notes=notes,
            group_by=("application",),
            stamp=run_id,
        )
        report_rows = [
            {"application_id": a, "result": FAILED if a in failed else "checked"} for a in applications
        ]
        return SyncReport(files=files, rows=report_rows)

    counts = {label: sum(row["result"] == label for row in rows) for label in (SENT, DUPLICATE, FAILED)}
    summary = {
        "Applications": len(rows),
        "Sent": counts[SENT],
        "Households to link": sum(bool(row.get("household_to_link")) for row in rows),
        "Duplicates": counts[DUPLICATE],
        "Failed": counts[FAILED],
        "Documents sent": sum(row.get("documents_sent") or 0 for row in rows),
    }
    notes = [
        f"Synced by {synced_by}.",
        "Duplicates were not sent: the applicant already has a Sentral student record.",
        "Households to link: the draft was sent without household data; attach it to the named household.",
    ]
    files = write_report(
        kind=REPORT_KIND,
        school=school,
        title="Application sync",
        columns=COLUMNS,
        rows=rows,
        summary=summary,
        notes=notes,
        stamp=run_id,
    )
    return SyncReport(files=files, rows=rows)
