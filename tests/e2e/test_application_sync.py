"""The application sync DAG end to end against the sandbox: a generated school of 30 applications.

The servers start once for the module. The first run syncs the school; the assertions read the
sandbox's state and the generator's ``truth``. A last test runs the DAG in dry run (nothing is written).
Faults, and a second run right after the first, are in ``test_application_sync_faults.py``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sandbox_fixtures import point_dags_at

from sandbox.generator import generate_school
from sandbox.testing import SandboxServers

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCHOOL = "demo"
DAG_ID = "sentral_application_sync"


def mapped_kinds() -> set[str]:
    from sentral.mappings import load_school

    return {entry.enrolhq_value for entry in load_school(SCHOOL).lookup("document_categories")}


def size_limit() -> int:
    from sentral.mappings import load_school

    return int(load_school(SCHOOL).settings.documents.max_size_mb * 1024 * 1024)


def serve(seed: dict, tmp_path_factory, **enrolhq_config):
    """Both servers on ``seed``, with the DAG's connections, ledger and retry delay pointed at them."""
    running = SandboxServers(seed, enrolhq_config={"rate_limits": False, **enrolhq_config})
    running.start()
    patch = point_dags_at(running, tmp_path_factory.mktemp("ledger"), school=SCHOOL, requests_per_second=500)
    patch.setenv("SENTRAL_SYNC_RETRY_DELAY", "0.2")
    return running, patch


def load_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def tagged(seed: dict, tag: str) -> set[str]:
    return {app_id for app_id, facts in seed["truth"]["applications"].items() if tag in facts["tags"]}


def expected_synced(seed: dict) -> set[str]:
    return tagged(seed, "eligible") - tagged(seed, "duplicate")


def drafts_by_application(state: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for draft in state["drafts"]:
        found.setdefault(draft["originalData"]["reference"]["application_id"], []).append(draft)
    return found


def sync_notes(enrolhq_state: dict) -> Counter:
    return Counter(n["student_profile"] for n in enrolhq_state["notes"] if "sentral-sync: draft" in n["text"])


def expected_documents(seed: dict, application_id: str) -> list[str]:
    kinds, limit = mapped_kinds(), size_limit()
    return sorted(
        d["filename"]
        for d in seed["enrolhq"]["documents"]
        if d["student_profile"] == application_id
        and d["is_verified"]
        and d["group_kind"] in kinds
        and d["size"] <= limit
    )


@pytest.fixture(scope="module")
def seed() -> dict:
    return generate_school(size=30, seed=8, name=SCHOOL)


@pytest.fixture(scope="module")
def servers(seed, tmp_path_factory, airflow_db):
    running, patch = serve(seed, tmp_path_factory)
    yield running
    patch.undo()
    running.stop()


@pytest.fixture(scope="module")
def dag(servers):
    return load_dag()


@pytest.fixture(scope="module")
def first_run(dag, servers):
    run = dag.test(run_conf={"school": SCHOOL})
    return run, servers.sentral.state(), servers.enrolhq.state()


def test_run_succeeds(first_run):
    run, _sentral, _enrolhq = first_run

    assert run.state == "success"


def test_each_eligible_application_has_exactly_one_draft(first_run, seed):
    _run, sentral, _enrolhq = first_run

    drafts = drafts_by_application(sentral)

    assert set(drafts) == expected_synced(seed)
    assert all(len(found) == 1 for found in drafts.values())


def test_every_verified_document_is_attached_once_and_no_unverified_one(first_run, seed):
    _run, sentral, _enrolhq = first_run

    for application_id, (draft,) in drafts_by_application(sentral).items():
        attached = sorted(a["fileName"] for a in draft["attachments"])
        assert attached == expected_documents(seed, application_id), application_id


def test_each_synced_application_has_one_note_in_enrolhq(first_run, seed):
    _run, _sentral, enrolhq = first_run

    assert sync_notes(enrolhq) == Counter(dict.fromkeys(expected_synced(seed), 1))


def test_duplicates_are_not_sent(first_run, seed):
    _run, sentral, _enrolhq = first_run

    duplicates = tagged(seed, "duplicate") & tagged(seed, "eligible")

    assert duplicates
    assert not duplicates & set(drafts_by_application(sentral))


def test_sibling_household_drafts_have_no_household_and_their_notes_name_it(first_run, seed):
    _run, sentral, enrolhq = first_run
    drafts = drafts_by_application(sentral)
    siblings = tagged(seed, "sibling_household") & expected_synced(seed)

    assert siblings
    for application_id in siblings:
        household_id = seed["truth"]["applications"][application_id]["sentral_household_id"]
        (draft,) = drafts[application_id]
        (note,) = [
            n
            for n in enrolhq["notes"]
            if n["student_profile"] == application_id and "sentral-sync" in n["text"]
        ]
        assert "households" not in draft["data"]
        assert f"household {household_id}" in note["text"]


def test_split_family_draft_has_two_households(first_run, seed):
    _run, sentral, _enrolhq = first_run
    drafts = drafts_by_application(sentral)

    split = [app_id for app_id in tagged(seed, "split_family") if app_id in drafts]

    assert split
    assert all(len(drafts[app_id][0]["data"]["households"]) == 2 for app_id in split)


def report_rows(run) -> list[dict]:
    import csv
    import os

    from sentral.reports import safe_stem

    path = Path(os.environ["SENTRAL_REPORTS_DIR"]) / SCHOOL / "sync" / f"{safe_stem(run.run_id)}.csv"
    with path.open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_report_lists_every_selected_application_with_its_result(first_run, seed):
    run, _sentral, _enrolhq = first_run

    results = {row["EnrolHQ application"]: row["Result"] for row in report_rows(run)}

    assert {app_id for app_id, result in results.items() if result == "sent"} == expected_synced(seed)
    assert {app_id for app_id, result in results.items() if result == "duplicate"} == (
        tagged(seed, "duplicate") & tagged(seed, "eligible")
    )


def test_mapped_tasks_are_named_by_application(first_run, seed):
    run, _sentral, _enrolhq = first_run

    names = {
        ti.rendered_map_index for ti in run.get_task_instances() if ti.task_id == "application.send_draft"
    }

    assert names >= expected_synced(seed)


def test_dry_run_writes_nothing_and_reports_the_drafts_field_by_field(
    first_run, dag, servers, seed, tmp_path, monkeypatch
):
    # A school that was never synced: fresh servers and an empty ledger.
    servers.reset()
    monkeypatch.setenv("SENTRAL_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    some = sorted(expected_synced(seed))[:3]

    run = dag.test(run_conf={"school": SCHOOL, "dry_run": True, "application_ids": some})

    assert run.state == "success"
    assert servers.sentral.state()["drafts"] == []
    assert sync_notes(servers.enrolhq.state()) == Counter()
    rows = report_rows(run)
    assert {row["Draft field"] for row in rows} >= {"student.first_name", "enrolment.year"}
    assert {row["Result"] for row in rows} == {"would be sent"}
    assert ledger_rows() == 0


def ledger_rows() -> int:
    import sqlalchemy as sa

    from sentral.ledger import applications
    from sentral.state import get_engine

    with get_engine().connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(applications))
