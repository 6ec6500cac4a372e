"""The roster import's planning and write safety, without servers: inbox choice, the external-ID
change, merging approved drafts with roster matches, and the report's sections."""

from __future__ import annotations

import os
from datetime import date
from types import SimpleNamespace

import pytest

from sentral.jsonapi import Resource
from sentral.matching import Applicant, Match, MatchResult, Review
from sentral.roster import RosterRow
from sentral.roster_import import (
    DraftOutcome,
    ExternalIdTakenError,
    ImportResult,
    WriteLimitExceededError,
    external_id_change,
    load_roster,
    newest_inbox_file,
    plan_writes,
    student_records,
)
from sentral.roster_report import report_rows

DOB = date(2016, 2, 29)


def applicant(application_id: str, external_id: str = "") -> Applicant:
    return Applicant(application_id, "Ava", "Smith", DOB, external_id=external_id, status=4)


def roster_match(app: Applicant, sentral_id: str) -> Match:
    return Match(RosterRow(row=2, sentral_id=sentral_id, first_name="Ava", last_name="Smith", dob=DOB), app)


def test_the_newest_csv_in_the_inbox_is_chosen(tmp_path):
    older, newer = tmp_path / "a.csv", tmp_path / "b.csv"
    for number, path in enumerate((newer, older)):
        path.write_text("x")
        os.utime(path, (1_700_000_000 + number * 100, 1_700_000_000 + number * 100))
    (tmp_path / "notes.pdf").write_text("x")

    assert newest_inbox_file(tmp_path) == older


def test_an_empty_inbox_gives_no_file(tmp_path):
    assert newest_inbox_file(tmp_path) is None


def test_the_change_sets_only_the_external_id():
    record = {"id": "a1", "first_name": "Ava", "external_id": None, "medical_data": {"allergies": ["Eggs"]}}
    expected = {**record, "external_id": "5001"}

    external_id_change("5001")(record)

    assert record == expected


def test_the_change_never_replaces_an_external_id_set_meanwhile():
    record = {"id": "a1", "external_id": "777"}

    with pytest.raises(ExternalIdTakenError):
        external_id_change("5001")(record)


def test_the_change_leaves_an_equal_id_with_other_leading_zeros_alone():
    record = {"id": "a1", "external_id": "005001"}

    external_id_change("5001")(record)

    assert record["external_id"] == "005001"


def test_an_approved_draft_plans_a_write_for_an_application_without_an_id():
    app = applicant("a1")
    result = ImportResult(roster=None, id_source="id", drafts=[DraftOutcome("a1", "88", "approved", "6001")])

    plan_writes(result, [app])

    assert [(w.applicant.application_id, w.sentral_id, w.source) for w in result.planned] == [
        ("a1", "6001", "approved draft 88")
    ]


def test_an_approved_draft_disagreeing_with_the_roster_sends_the_application_to_review():
    app = applicant("a1")
    result = ImportResult(
        roster=None,
        id_source="id",
        matching=MatchResult(matches=[roster_match(app, "5001")]),
        drafts=[DraftOutcome("a1", "88", "approved", "6001")],
    )

    plan_writes(result, [app])

    assert result.planned == []
    assert "approved draft 88 says 6001" in result.draft_reviews[0].reasons[0]


def test_twins_on_the_roster_are_settled_by_their_approved_drafts():
    first, second = applicant("a1"), applicant("a2")
    row = RosterRow(row=5, sentral_id="6001", first_name="Ava", last_name="Smith", dob=DOB)
    twins = Review(row, [first, second], ["twins: another student has the same surname and date of birth"])
    result = ImportResult(
        roster=None,
        id_source="id",
        matching=MatchResult(review=[twins]),
        drafts=[DraftOutcome("a1", "88", "approved", "6001")],
    )

    plan_writes(result, [first, second])

    assert [(w.applicant.application_id, w.sentral_id) for w in result.planned] == [("a1", "6001")]
    assert result.matching.review == []
    assert "roster row 5" in result.notes[0]


def test_a_review_whose_candidates_exclude_the_drafts_application_stays_open():
    first, other = applicant("a1"), applicant("a3")
    row = RosterRow(row=5, sentral_id="6001", first_name="Ava", last_name="Smith", dob=DOB)
    review = Review(row, [other], ["near miss"])
    result = ImportResult(
        roster=None,
        id_source="id",
        matching=MatchResult(review=[review]),
        drafts=[DraftOutcome("a1", "88", "approved", "6001")],
    )

    plan_writes(result, [first, other])

    assert result.matching.review == [review]


def test_a_pending_draft_plans_nothing():
    result = ImportResult(roster=None, id_source="id", drafts=[DraftOutcome("a1", "88", "pending")])

    plan_writes(result, [applicant("a1")])

    assert result.planned == []


def test_inactive_students_are_left_out_of_an_api_roster():
    person = Resource("person", "p1", {"firstName": "Ava", "lastName": "Smith", "dateOfBirth": "2016-02-29"})
    active = Resource("student", "1", {"studentCode": "S1", "isActive": True}, included={"person": person})
    left = Resource("student", "2", {"studentCode": "S2", "isActive": False}, included={"person": person})

    records = list(student_records([active, left]))

    assert [(r["student_id"], r["first_name"], r["dob"]) for r in records] == [("1", "Ava", "2016-02-29")]


def test_a_run_over_the_limit_reports_its_plan_as_not_written_and_then_fails():
    app = applicant("a1")
    result = ImportResult(
        roster=None, id_source="id", matching=MatchResult(matches=[roster_match(app, "5001")])
    )
    plan_writes(result, [app])
    result.stopped_by_limit = True
    result.notes.append("over the limit")

    rows = report_rows(result)

    assert [row["outcome"] for row in rows] == ["not written: over the limit"]
    with pytest.raises(WriteLimitExceededError):
        result.raise_for_outcome()


def inbox_school(directory, inbox, id_width=None):
    roster = SimpleNamespace(source="inbox", inbox=inbox, id_width=id_width)
    settings = SimpleNamespace(roster=roster, student_id_source="id")
    return SimpleNamespace(name="demo", config=SimpleNamespace(settings=settings, directory=directory))


def test_an_inbox_school_reads_the_newest_file_from_its_inbox_beside_its_mappings(tmp_path):
    (tmp_path / "inbox").mkdir()
    old, new = tmp_path / "inbox" / "old.csv", tmp_path / "inbox" / "new.csv"
    old.write_text("Student ID,First Name,Surname,DOB\n1,Ann,Ng,2015-01-01\n")
    new.write_text("Student ID,First Name,Surname,DOB\n2,Bo,Ng,2016-01-01\n")
    os.utime(old, (1_700_000_000, 1_700_000_000))

    roster = load_roster(inbox_school(tmp_path, "inbox"), None)

    assert [row.sentral_id for row in roster.rows] == ["2"]


def test_the_schools_id_width_restores_leading_zeros_a_spreadsheet_dropped(tmp_path):
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "roster.csv").write_text(
        "Student ID,First Name,Surname,DOB\n42,Ann,Ng,2015-01-01\n"
    )

    roster = load_roster(inbox_school(tmp_path, "inbox", id_width=6), None)

    assert [row.sentral_id for row in roster.rows] == ["000042"]


def test_an_empty_inbox_means_no_roster_this_run(tmp_path):
    (tmp_path / "inbox").mkdir()

    assert load_roster(inbox_school(tmp_path, "inbox"), None) is None
