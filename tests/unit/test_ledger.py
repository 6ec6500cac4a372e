"""The sync ledger on SQLite and on PostgreSQL: states, intents, resuming, one school per ledger."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from sentral.ledger import AppState, DocState, DocumentPlan, Ledger, applications, documents

TABLES = [applications, documents]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path_factory):
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.db'}")
        applications.metadata.create_all(engine, tables=TABLES)
        yield engine
        engine.dispose()
        return

    # A schema of its own keeps the test's tables apart from anything else on the server.
    url = request.getfixturevalue("postgres_url")
    schema = f"ledger_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    applications.metadata.create_all(engine, tables=TABLES)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def ledger(engine):
    # Each test gets its own school, so tests sharing the module's database never see each other.
    return Ledger(engine, school=f"school-{uuid.uuid4().hex[:8]}")


def prepare(ledger: Ledger, application_id: str = "app-1", *, plans=(), payload=None, run_id="run-1"):
    return ledger.record_prepared(
        application_id,
        run_id=run_id,
        synced_by="registrar",
        applicant="Ada Lovelace",
        payload=payload or {"student": {"first_name": "Ada"}},
        payload_hash="hash-1",
        household_to_link=None,
        document_plans=plans,
    )


def test_prepared_application_holds_its_payload_and_run(ledger):
    record = prepare(ledger, payload={"student": {"first_name": "Ada"}})

    assert record.state is AppState.PREPARED
    assert record.payload == {"student": {"first_name": "Ada"}}
    assert (record.run_id, record.synced_by, record.payload_hash) == ("run-1", "registrar", "hash-1")
    assert record.draft_id is None


def test_unknown_application_reads_as_none(ledger):
    assert ledger.get("never-seen") is None


def test_draft_intent_is_visible_before_the_draft_id(ledger):
    prepare(ledger)

    ledger.record_draft_intent("app-1")

    record = ledger.get("app-1")
    assert record.draft_intent_at is not None
    assert record.draft_id is None
    assert record.attempts == 1


def test_recorded_draft_moves_application_to_draft_sent(ledger):
    prepare(ledger)
    ledger.record_draft_intent("app-1")

    ledger.record_draft_sent("app-1", "4411")

    record = ledger.get("app-1")
    assert (record.state, record.draft_id) == (AppState.DRAFT_SENT, "4411")


def test_sent_drafts_lists_only_applications_whose_draft_reached_sentral(ledger):
    prepare(ledger, "app-1")
    prepare(ledger, "app-2")
    ledger.record_draft_intent("app-2")
    ledger.record_draft_sent("app-1", "4411")

    assert ledger.sent_drafts() == [("app-1", "4411")]


def test_preparing_again_after_the_draft_was_sent_keeps_the_sent_payload(ledger):
    prepare(ledger, payload={"student": {"first_name": "Ada"}})
    ledger.record_draft_sent("app-1", "4411")

    record = prepare(ledger, payload={"student": {"first_name": "Changed"}}, run_id="run-2")

    assert record.payload == {"student": {"first_name": "Ada"}}
    assert (record.state, record.draft_id, record.run_id) == (AppState.DRAFT_SENT, "4411", "run-2")


def test_failed_application_resumes_at_its_step_when_prepared_again(ledger):
    prepare(ledger)
    ledger.record_draft_sent("app-1", "4411")
    ledger.record_documents_done("app-1")
    ledger.record_error("app-1", "record", "EnrolHQ 400: note rejected", fatal=True)
    assert ledger.get("app-1").state is AppState.FAILED

    record = prepare(ledger, run_id="run-2")

    assert record.state is AppState.DOCUMENTS_SENT
    assert record.last_error is None


def test_retriable_error_keeps_the_state(ledger):
    prepare(ledger)

    ledger.record_error("app-1", "send_draft", "Sentral 503: unavailable", fatal=False)

    record = ledger.get("app-1")
    assert record.state is AppState.PREPARED
    assert (record.failed_step, record.last_error) == ("send_draft", "Sentral 503: unavailable")


def test_application_failing_before_it_was_prepared_gets_a_failed_row(ledger):
    ledger.record_error(
        "app-9", "prepare", "application app-9: student.dob is missing", fatal=True, run_id="run-1"
    )

    record = ledger.get("app-9")
    assert record.state is AppState.FAILED
    assert [r.application_id for r in ledger.applications_of_run("run-1")] == ["app-9"]


def test_duplicate_records_the_sentral_student(ledger):
    ledger.record_duplicate("app-1", run_id="run-1", synced_by="registrar", applicant="Ada", student_id="77")

    record = ledger.get("app-1")
    assert (record.state, record.duplicate_student_id) == (AppState.DUPLICATE, "77")
    assert record.is_duplicate


def test_noted_application_is_finished_and_never_selected_again(ledger):
    prepare(ledger, "app-1")
    prepare(ledger, "app-2")
    ledger.record_draft_sent("app-1", "4411")
    ledger.record_note_intent("app-1")

    ledger.record_noted("app-1", "n-1")

    assert ledger.finished_application_ids() == {"app-1"}
    assert ledger.get("app-1").state is AppState.NOTED


def test_document_plan_records_skipped_documents_with_their_reason(ledger):
    plans = [
        DocumentPlan("d1", "birth.pdf", 100, "BIRTH_CERT", category_id="3"),
        DocumentPlan("d2", "huge.pdf", 10**9, "NAPLAN", skip_reason="larger than the 10 MB limit"),
    ]

    prepare(ledger, plans=plans)

    states = {d.document_id: (d.state, d.reason) for d in ledger.documents("app-1")}
    assert states == {"d1": (DocState.PLANNED, None), "d2": (DocState.SKIPPED, "larger than the 10 MB limit")}


def test_document_with_an_upload_under_way_is_not_replanned(ledger):
    prepare(ledger, plans=[DocumentPlan("d1", "birth.pdf", 100, "BIRTH_CERT", category_id="3")])
    ledger.record_document_intent("app-1", "d1")

    prepare(ledger, plans=[DocumentPlan("d1", "birth.pdf", 100, "BIRTH_CERT", category_id="3")])

    (document,) = ledger.documents("app-1")
    assert document.state is DocState.INTENT
    assert document.intent_at is not None


def test_sent_document_keeps_its_attachment_id(ledger):
    prepare(ledger, plans=[DocumentPlan("d1", "birth.pdf", 100, "BIRTH_CERT", category_id="3")])
    ledger.record_document_intent("app-1", "d1")

    ledger.record_document_sent("app-1", "d1", "att-5")

    (document,) = ledger.documents("app-1")
    assert (document.state, document.attachment_id, document.attempts) == (DocState.SENT, "att-5", 1)


def test_schools_sharing_a_database_do_not_see_each_other(engine):
    first, second = Ledger(engine, "school-a-" + uuid.uuid4().hex[:6]), Ledger(engine, "school-b")
    prepare(first, "shared-id")

    assert second.get("shared-id") is None


def test_intent_is_committed_and_seen_by_another_connection(engine, ledger):
    prepare(ledger)

    ledger.record_draft_intent("app-1")

    # A second ledger object stands for another worker process reading the same database.
    assert Ledger(engine, ledger.school).get("app-1").draft_intent_at is not None
