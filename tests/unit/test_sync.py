"""The sync's steps against in-memory EnrolHQ and Sentral: exactly once, resuming, dry run, failures.

The fakes apply a write and then lose its answer when told to, which is the case the protocol exists
for. Applications come from the sandbox's family generator.
"""

from __future__ import annotations

import random
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from apicore.errors import RequestRejectedError, ResponseLostError, RetriableApiError
from sandbox.families import FamilyBuilder
from sentral.duplicates import FamilyInSentral
from sentral.fieldmap import PayloadError
from sentral.jsonapi import Resource
from sentral.ledger import AppState, DocState, Ledger, applications, documents
from sentral.sync import (
    NOTE_MARKER,
    Outcome,
    RunSettings,
    SyncSession,
    find_draft,
    prepare,
    record,
    send_documents,
    send_draft,
)
from sentral.sync_rules import DocumentRules
from sentral.sync_setup import select_applications

NO_FAMILY = FamilyInSentral()
RULES = DocumentRules(
    categories={"BIRTH_CERT": "1", "SCHOOL_REPORT": "2", "IMMUNISATION": "7", "NAPLAN": "3"},
    max_bytes=100_000,
)


class FakeSentral:
    """Drafts and attachments in memory; ``lose`` names writes that are applied but whose answer is lost."""

    def __init__(self) -> None:
        self.drafts: list[Resource] = []
        self.attachments: dict[str, list[Resource]] = {}
        self.lose: set[str] = set()
        self.fail: dict[str, Exception] = {}
        self.calls: list[str] = []

    def _write(self, name: str, resource: Resource, into: list[Resource]) -> Resource:
        self.calls.append(name)
        if name in self.fail:
            raise self.fail.pop(name)
        into.append(resource)
        if name in self.lose:
            self.lose.discard(name)
            raise ResponseLostError("Sentral", f"POST {name}: the connection was dropped")
        return resource

    def iter_drafts(self, **_filters):
        self.calls.append("iter_drafts")
        return iter(list(self.drafts))

    def create_draft(self, data):
        draft = Resource(
            "studentEnrolmentDraft", str(4400 + len(self.drafts)), {"status": "pending", "data": data}
        )
        return self._write("create_draft", draft, self.drafts)

    def list_attachments(self, draft_id):
        self.calls.append("list_attachments")
        return list(self.attachments.get(draft_id, []))

    def upload_attachment(self, draft_id, *, filename, content, category_id):
        attachments = self.attachments.setdefault(draft_id, [])
        attachment = Resource(
            "studentDocument",
            f"{draft_id}-{len(attachments)}",
            {"fileName": filename, "categoryId": category_id, "size": len(content)},
        )
        return self._write("upload_attachment", attachment, attachments)


class FakeEnrolHQ:
    """Applications, documents and notes in memory, from a generated family."""

    def __init__(self, builder: FamilyBuilder) -> None:
        self.applications = {app["id"]: app for app in builder.applications}
        self.documents = builder.documents
        self.notes: list[dict] = [dict(note) for note in builder.notes]
        self.lose: set[str] = set()
        self.calls: list[str] = []

    def iter_applications(self, *, statuses, has_external_id):
        return (
            app
            for app in self.applications.values()
            if app["application_status"] in statuses and bool(app["external_id"]) == has_external_id
        )

    def get_application(self, application_id):
        return self.applications[application_id]

    def list_documents(self, application_id):
        return [d for d in self.documents if d["student_profile"] == application_id]

    def download_document(self, document):
        self.calls.append("download")
        size = next(d["size"] for d in self.documents if d["id"] == int(document["id"]))
        return b"x" * size

    def list_notes(self, application_id):
        self.calls.append("list_notes")
        return [n for n in self.notes if n["student_profile"] == application_id]

    def add_note(self, application_id, text):
        self.calls.append("add_note")
        note = {"id": 90000 + len(self.notes), "text": text, "student_profile": application_id}
        self.notes.append(note)
        if "add_note" in self.lose:
            self.lose.discard("add_note")
            raise ResponseLostError("EnrolHQ", "POST notes/: the connection was dropped")
        return note


def simple_draft(application, family, notes):
    return {
        "reference": {"source": "EnrolHQ", "application_id": application["id"]},
        "student": {
            "first_name": application["first_name"],
            "family_name": application["last_name"],
            "dob": application["dob"],
        },
    }


def failing_draft(application, family, notes):
    raise PayloadError(application["id"], "student.dob", "is missing")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('sync') / 'ledger.db'}")
    applications.metadata.create_all(engine, tables=[applications, documents])
    return engine


@pytest.fixture
def builder():
    builder = FamilyBuilder(random.Random(3), date(2026, 10, 1))
    builder.family("together", [{"status": 4, "accepted": True}])
    return builder


@pytest.fixture
def application(builder):
    app = builder.applications[0]
    # Documents the rules below cover: one to send, one unverified, one unmapped, one too large.
    builder.documents[:] = [
        builder.document(app, "BIRTH_CERT", True),
        builder.document(app, "SCHOOL_REPORT", False),
        builder.document(app, "CUSTOM_3", True),
        builder.document(app, "NAPLAN", True, oversized=True),
    ]
    return app


def make_session(engine, builder, *, dry_run=False, family=NO_FAMILY, build=simple_draft, **kw):
    # A school of its own per test keeps the module's shared ledger database apart between tests.
    school = f"school-{uuid.uuid4().hex[:8]}"
    return SyncSession(
        school=school,
        enrolhq=FakeEnrolHQ(builder),
        sentral=FakeSentral(),
        ledger=Ledger(engine, school),
        settings=RunSettings(run_id="run-1", synced_by="registrar", dry_run=dry_run),
        build_draft=build,
        document_rules=RULES,
        find_family=lambda _sentral, _app: family,
        **kw,
    )


@pytest.fixture
def session(engine, builder, application):
    return make_session(engine, builder)


def run_all(session, application_id):
    prepare(session, application_id)
    send_draft(session, application_id)
    send_documents(session, application_id)
    return record(session, application_id)


# prepare


def test_prepare_records_the_draft_and_plans_only_verified_documents(session, application):
    prepare(session, application["id"])

    row = session.ledger.get(application["id"])
    assert row.state is AppState.PREPARED
    assert row.payload["reference"]["application_id"] == application["id"]
    planned = {d.kind: d.state for d in session.ledger.documents(application["id"])}
    assert planned == {
        "BIRTH_CERT": DocState.PLANNED,
        "CUSTOM_3": DocState.SKIPPED,
        "NAPLAN": DocState.SKIPPED,
    }


def test_unmapped_and_oversized_documents_are_skipped_with_a_reason(session, application):
    prepare(session, application["id"])

    reasons = {d.kind: d.reason for d in session.ledger.documents(application["id"]) if d.reason}
    assert "no Sentral category" in reasons["CUSTOM_3"]
    assert "over the 100000 byte limit" in reasons["NAPLAN"]


def test_duplicate_applicant_is_recorded_and_never_sent(engine, builder, application):
    session = make_session(engine, builder, family=FamilyInSentral(student_id="5001", person_id="7001"))

    run_all(session, application["id"])

    row = session.ledger.get(application["id"])
    assert (row.state, row.duplicate_student_id) == (AppState.DUPLICATE, "5001")
    assert session.sentral.drafts == []
    assert "add_note" not in session.enrolhq.calls


def test_offer_not_accepted_is_not_eligible_and_leaves_no_row(engine, builder, application):
    application["progress"]["enrolment_offer"]["accepted_at"] = None
    session = make_session(engine, builder, offer_accepted_field="progress.enrolment_offer.accepted_at")

    outcome = prepare(session, application["id"])

    assert outcome["outcome"] == Outcome.NOT_ELIGIBLE
    assert outcome["applicant"] == f"{application['first_name']} {application['last_name']}"
    assert session.ledger.get(application["id"]) is None


def test_payload_error_marks_the_application_failed_with_the_field(engine, builder, application):
    session = make_session(engine, builder, build=failing_draft)

    with pytest.raises(PayloadError):
        prepare(session, application["id"])

    row = session.ledger.get(application["id"])
    assert row.state is AppState.FAILED
    assert "student.dob is missing" in row.last_error


def test_dry_run_writes_nothing_and_returns_the_fields(engine, builder, application):
    session = make_session(engine, builder, dry_run=True)

    outcome = prepare(session, application["id"])
    send_draft(session, application["id"])
    send_documents(session, application["id"])
    record(session, application["id"])

    assert ["student.first_name", application["first_name"]] in outcome["fields"]
    assert session.ledger.get(application["id"]) is None
    assert session.sentral.calls == []
    assert "add_note" not in session.enrolhq.calls


def test_draft_prepared_earlier_is_not_sent_after_prepare_fails_on_new_data(session, application):
    prepare(session, application["id"])
    session.build_draft = failing_draft
    with pytest.raises(PayloadError):
        prepare(session, application["id"])

    assert send_draft(session, application["id"]) is None
    assert session.sentral.drafts == []


# send_draft


def test_draft_is_sent_once_and_its_id_recorded(session, application):
    prepare(session, application["id"])

    draft_id = send_draft(session, application["id"])
    again = send_draft(session, application["id"])

    assert draft_id == again == session.sentral.drafts[0].id
    assert session.sentral.calls.count("create_draft") == 1
    assert session.ledger.get(application["id"]).state is AppState.DRAFT_SENT


def test_lost_draft_answer_is_found_by_reference_not_sent_again(session, application):
    prepare(session, application["id"])
    session.sentral.lose.add("create_draft")

    with pytest.raises(ResponseLostError):
        send_draft(session, application["id"])
    draft_id = send_draft(session, application["id"])

    assert len(session.sentral.drafts) == 1
    assert draft_id == session.sentral.drafts[0].id


def test_draft_intent_without_a_draft_in_sentral_is_sent(session, application):
    prepare(session, application["id"])
    # The worker died after writing the intent and before the POST left.
    session.ledger.record_draft_intent(application["id"])

    draft_id = send_draft(session, application["id"])

    assert [d.id for d in session.sentral.drafts] == [draft_id]


def test_rejected_draft_fails_the_application_with_sentrals_reason(session, application):
    prepare(session, application["id"])
    session.sentral.fail["create_draft"] = RequestRejectedError(
        "Sentral", "POST v1/portal/student-enrolment-draft was rejected: /data/enrolment/year: unknown"
    )

    with pytest.raises(RequestRejectedError):
        send_draft(session, application["id"])

    row = session.ledger.get(application["id"])
    assert (row.state, row.failed_step) == (AppState.FAILED, "send_draft")
    assert "enrolment/year" in row.last_error


def test_retriable_error_keeps_the_application_resumable(session, application):
    prepare(session, application["id"])
    session.sentral.fail["create_draft"] = RetriableApiError("Sentral", "POST draft: server error 503")

    with pytest.raises(RetriableApiError):
        send_draft(session, application["id"])

    assert session.ledger.get(application["id"]).state is AppState.PREPARED
    assert send_draft(session, application["id"]) is not None


def test_find_draft_matches_a_draft_without_reference_by_name_and_birth_date(application):
    sentral = FakeSentral()
    payload = simple_draft(application, None, [])
    edited = {"student": dict(payload["student"])}
    sentral.drafts = [Resource("studentEnrolmentDraft", "12", {"data": edited})]

    assert find_draft(sentral, application["id"], payload) == "12"


def test_find_draft_ignores_a_same_named_draft_of_another_application(application):
    sentral = FakeSentral()
    payload = simple_draft(application, None, [])
    other = {**payload, "reference": {"source": "EnrolHQ", "application_id": "another"}}
    sentral.drafts = [Resource("studentEnrolmentDraft", "12", {"data": other})]

    assert find_draft(sentral, application["id"], payload) is None


# send_documents


def test_each_planned_document_is_uploaded_once(session, application):
    prepare(session, application["id"])
    draft_id = send_draft(session, application["id"])

    first = send_documents(session, application["id"])
    second = send_documents(session, application["id"])

    assert [a["fileName"] for a in session.sentral.attachments[draft_id]] == [
        d["filename"] for d in session.enrolhq.documents if d["group_kind"] == "BIRTH_CERT"
    ]
    assert first == second == {"sent": 1, "skipped": 2}


def test_lost_upload_answer_is_found_by_file_name_and_size(session, application):
    prepare(session, application["id"])
    draft_id = send_draft(session, application["id"])
    session.sentral.lose.add("upload_attachment")

    with pytest.raises(ResponseLostError):
        send_documents(session, application["id"])
    send_documents(session, application["id"])

    assert len(session.sentral.attachments[draft_id]) == 1
    assert session.ledger.get(application["id"]).state is AppState.DOCUMENTS_SENT


# record


def test_note_names_the_draft_and_who_synced(session, application):
    run_all(session, application["id"])

    row = session.ledger.get(application["id"])
    (note,) = [n for n in session.enrolhq.notes if n["id"] == int(row.note_id)]
    assert f"enrolment draft {row.draft_id}" in note["text"]
    assert "Synced by registrar" in note["text"]
    assert row.state is AppState.NOTED


def test_household_to_link_is_written_in_the_note(engine, builder, application):
    session = make_session(engine, builder, family=FamilyInSentral(household_id="3001"))

    run_all(session, application["id"])

    assert "Link household in Sentral: household 3001" in session.enrolhq.notes[-1]["text"]


def test_lost_note_answer_is_found_by_its_marker(session, application):
    prepare(session, application["id"])
    draft_id = send_draft(session, application["id"])
    send_documents(session, application["id"])
    session.enrolhq.lose.add("add_note")

    with pytest.raises(ResponseLostError):
        record(session, application["id"])
    note_id = record(session, application["id"])

    marked = [n for n in session.enrolhq.notes if NOTE_MARKER.format(draft_id=draft_id) in n["text"]]
    assert [str(n["id"]) for n in marked] == [note_id]


def test_a_second_pass_over_a_synced_application_calls_nothing(session, application):
    run_all(session, application["id"])
    sentral_calls, enrolhq_calls = len(session.sentral.calls), len(session.enrolhq.calls)

    outcome = prepare(session, application["id"])
    send_draft(session, application["id"])
    send_documents(session, application["id"])
    record(session, application["id"])

    assert outcome["outcome"] == Outcome.FINISHED
    assert (len(session.sentral.calls), len(session.enrolhq.calls)) == (sentral_calls, enrolhq_calls)


# selection


def test_synced_applications_are_not_selected_again(engine, builder, application):
    builder.family("single_parent", [{"status": 4, "accepted": True}])
    session = make_session(engine, builder)
    run_all(session, application["id"])

    selected = select_applications(session, [4])

    assert application["id"] not in selected
    assert selected == [builder.applications[1]["id"]]


def test_requested_ids_narrow_the_selection(engine, builder, application):
    builder.family("single_parent", [{"status": 4, "accepted": True}])
    session = make_session(engine, builder)

    assert select_applications(session, [4], [application["id"], "unknown"]) == [application["id"]]
