"""The sync's run report: one row per application from the ledger, and the dry run's field-by-field rows."""

from __future__ import annotations

import csv
import uuid

import pytest
import sqlalchemy as sa

from sentral.ledger import DocumentPlan, Ledger, applications, documents
from sentral.sync import Outcome
from sentral.sync_report import FAILED, dry_run_rows, live_rows, write_sync_report

RUN = "manual__2026-12-03"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('report') / 'ledger.db'}")
    applications.metadata.create_all(engine, tables=[applications, documents])
    return engine


@pytest.fixture
def ledger(engine):
    return Ledger(engine, f"school-{uuid.uuid4().hex[:8]}")


def prepared(ledger: Ledger, application_id: str, *, household=None, plans=()) -> None:
    ledger.record_prepared(
        application_id,
        run_id=RUN,
        synced_by="registrar",
        applicant=f"Applicant {application_id}",
        payload={"student": {}},
        payload_hash="h",
        household_to_link=household,
        document_plans=plans,
    )


def synced(ledger: Ledger, application_id: str, **kw) -> None:
    prepared(ledger, application_id, **kw)
    ledger.record_draft_sent(application_id, f"d-{application_id}")
    ledger.record_documents_done(application_id)
    ledger.record_noted(application_id, f"n-{application_id}")


def by_id(rows):
    return {row["application_id"]: row for row in rows}


def test_synced_application_is_sent_with_its_draft(ledger):
    synced(ledger, "a1")

    (row,) = live_rows(ledger, RUN, ["a1"], [])

    assert (row["result"], row["draft_id"]) == ("sent", "d-a1")


def test_household_to_link_tells_a_person_what_to_do(ledger):
    synced(ledger, "a1", household="3001")

    (row,) = live_rows(ledger, RUN, ["a1"], [])

    assert row["household_to_link"] == "3001"
    assert "household 3001" in row["action"]


def test_duplicate_names_the_sentral_student(ledger):
    ledger.record_duplicate("a2", run_id=RUN, synced_by="registrar", applicant="B", student_id="5001")

    (row,) = live_rows(ledger, RUN, ["a2"], [])

    assert (row["result"], row["student_id"]) == ("duplicate", "5001")


def test_application_stopped_midway_is_failed_with_the_step_and_error(ledger):
    prepared(ledger, "a3")
    ledger.record_error("a3", "send_draft", "Sentral 503: unavailable", fatal=False)

    (row,) = live_rows(ledger, RUN, ["a3"], [])

    assert row["result"] == FAILED
    assert row["action"] == "Stopped at send_draft: Sentral 503: unavailable"


def test_selected_application_with_no_trace_is_failed(ledger):
    (row,) = live_rows(ledger, RUN, ["never-prepared"], [])

    assert row["result"] == FAILED


def test_not_eligible_application_is_reported_with_the_reason(ledger):
    outcome = {"application_id": "a4", "outcome": Outcome.NOT_ELIGIBLE, "reason": "offer not accepted"}

    (row,) = live_rows(ledger, RUN, ["a4"], [outcome])

    assert (row["result"], row["action"]) == (Outcome.NOT_ELIGIBLE, "offer not accepted")


def test_skipped_documents_are_listed_with_why(ledger):
    plans = [
        DocumentPlan("1", "birth.pdf", 10, "BIRTH_CERT", category_id="1"),
        DocumentPlan("2", "big.pdf", 10**9, "NAPLAN", skip_reason="over the limit"),
    ]
    prepared(ledger, "a5", plans=plans)
    ledger.record_document_intent("a5", "1")
    ledger.record_document_sent("a5", "1", "att-1")

    (row,) = live_rows(ledger, RUN, ["a5"], [])

    assert row["documents_sent"] == 1
    assert row["documents_skipped"] == ["big.pdf: over the limit"]


def test_failed_rows_come_first(ledger):
    synced(ledger, "a1")
    prepared(ledger, "a3")

    rows = live_rows(ledger, RUN, ["a1", "a3"], [])

    assert [row["result"] for row in rows] == [FAILED, "sent"]


def test_dry_run_rows_show_each_field_that_would_be_sent():
    outcome = {
        "application_id": "a1",
        "outcome": Outcome.READY,
        "applicant": "Ada",
        "fields": [["student.first_name", "Ada"], ["enrolment.year", "4"]],
        "documents": [["birth.pdf", "BIRTH_CERT", "category 1"]],
    }

    rows = dry_run_rows(["a1"], [outcome])

    fields = {row["field"]: row["value"] for row in rows}
    assert fields["student.first_name"] == "Ada"
    assert fields["document birth.pdf (BIRTH_CERT)"] == "category 1"
    assert {row["result"] for row in rows} == {"would be sent"}


def test_written_report_csv_has_one_line_per_application(ledger, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTRAL_REPORTS_DIR", str(tmp_path))
    synced(ledger, "a1")
    ledger.record_duplicate("a2", run_id=RUN, synced_by="registrar", applicant="B", student_id="5001")

    report = write_sync_report(
        school="demo", run_id=RUN, rows=live_rows(ledger, RUN, ["a1", "a2"], []), dry_run=False, synced_by="x"
    )

    with report.files.csv.open(encoding="utf-8-sig") as handle:
        results = {row["EnrolHQ application"]: row["Result"] for row in csv.DictReader(handle)}
    assert results == {"a1": "sent", "a2": "duplicate"}
    assert report.failed == []
