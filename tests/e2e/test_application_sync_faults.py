"""The application sync with faults switched on, then a second run right after.

Sentral fails a draft POST with 503, applies two draft POSTs and one upload but drops their answers, and
fails a person search with 502; EnrolHQ rate-limits document lists with ``Retry-After``, fails an
application read with 502 and drops the answer of a note it saved. The final state must be the one a
clean run gives: exactly one draft per eligible application, each document once, one note each.
"""

from __future__ import annotations

from collections import Counter

import pytest

from sandbox.generator import generate_school
from tests.e2e.test_application_sync import (
    SCHOOL,
    drafts_by_application,
    expected_documents,
    expected_synced,
    load_dag,
    serve,
    sync_notes,
)

pytestmark = pytest.mark.e2e

SENTRAL_FAULTS = [
    {"method": "POST", "path": "student-enrolment-draft$", "status": 503, "times": 1},
    {"method": "POST", "path": "student-enrolment-draft$", "drop_response": True, "times": 2},
    {"method": "POST", "path": "attachment$", "drop_response": True, "times": 1},
    {"method": "GET", "path": "enrolments/person$", "status": 502, "times": 1},
]
ENROLHQ_FAULTS = [
    {"method": "GET", "path": "application-documents/$", "status": 429, "retry_after": 1, "times": 2},
    {"method": "GET", "path": "applications/[^/]+/$", "status": 502, "times": 1},
    {"method": "POST", "path": "notes/$", "drop_response": True, "times": 1},
]


@pytest.fixture(scope="module")
def seed() -> dict:
    return generate_school(size=16, seed=9, name=SCHOOL)


@pytest.fixture(scope="module")
def servers(seed, tmp_path_factory, airflow_db):
    running, patch = serve(seed, tmp_path_factory)
    yield running
    patch.undo()
    running.stop()


@pytest.fixture(scope="module")
def faulty_run(servers):
    for fault in SENTRAL_FAULTS:
        servers.sentral.add_fault(**fault)
    for fault in ENROLHQ_FAULTS:
        servers.enrolhq.add_fault(**fault)
    dag = load_dag()
    run = dag.test(run_conf={"school": SCHOOL})
    return dag, run, servers.sentral.state(), servers.enrolhq.state()


def test_run_with_faults_succeeds_after_retries(faulty_run, servers):
    _dag, run, _sentral, _enrolhq = faulty_run

    assert run.state == "success"
    assert servers.sentral.metrics()["responses_dropped"] == 3
    assert servers.enrolhq.metrics()["responses_dropped"] == 1


def test_faults_leave_exactly_one_draft_per_eligible_application(faulty_run, seed):
    _dag, _run, sentral, _enrolhq = faulty_run

    drafts = drafts_by_application(sentral)

    assert set(drafts) == expected_synced(seed)
    assert all(len(found) == 1 for found in drafts.values())


def test_faults_leave_every_document_attached_exactly_once(faulty_run, seed):
    _dag, _run, sentral, _enrolhq = faulty_run

    for application_id, (draft,) in drafts_by_application(sentral).items():
        assert sorted(a["fileName"] for a in draft["attachments"]) == expected_documents(seed, application_id)


def test_faults_leave_exactly_one_note_per_synced_application(faulty_run, seed):
    _dag, _run, _sentral, enrolhq = faulty_run

    assert sync_notes(enrolhq) == Counter(dict.fromkeys(expected_synced(seed), 1))


def test_enrolhq_sign_ins_stay_constant_for_the_run(faulty_run, servers):
    assert servers.enrolhq.metrics()["sign_ins"] <= 2


def test_second_run_right_after_sends_nothing(faulty_run, servers):
    dag, _run, sentral_before, enrolhq_before = faulty_run
    posts_before = servers.sentral.metrics()["requests"]

    again = dag.test(run_conf={"school": SCHOOL})

    assert again.state == "success"
    assert servers.sentral.state()["drafts"] == sentral_before["drafts"]
    assert len(servers.enrolhq.state()["notes"]) == len(enrolhq_before["notes"])
    assert _posts(servers.sentral.metrics()["requests"]) == _posts(posts_before)


def _posts(requests_by_route: dict) -> int:
    return sum(count for route, count in requests_by_route.items() if route.startswith("POST"))


def test_rejected_draft_fails_the_run_after_the_other_applications_finish(
    faulty_run, servers, seed, tmp_path, monkeypatch
):
    from tests.e2e.test_application_sync import report_rows

    dag = faulty_run[0]
    servers.reset()
    monkeypatch.setenv("SENTRAL_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    two = sorted(expected_synced(seed))[:2]
    servers.sentral.add_fault(method="POST", path="student-enrolment-draft$", status=422, times=1)

    run = dag.test(run_conf={"school": SCHOOL, "application_ids": two})

    results = {
        row["EnrolHQ application"]: (row["Result"], row["What a person needs to do"])
        for row in report_rows(run)
    }
    assert run.state == "failed"
    assert len(servers.sentral.state()["drafts"]) == 1
    assert sorted(result for result, _action in results.values()) == ["failed", "sent"]
    (action,) = [action for result, action in results.values() if result == "failed"]
    assert "Stopped at send_draft: Sentral 422" in action
