"""The roster import DAG end to end against the sandbox: a school with 40 students in Sentral.

The servers start once for the module; each test resets them to the generated school and empties its
own ledger, then runs the DAG with ``dag.test()``.
"""

from __future__ import annotations

import csv
import os
import shutil
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sandbox_fixtures import point_dags_at

from sandbox.generator import generate_school, roster_rows
from sandbox.testing import SandboxServers

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCHOOL = "demo"
IN_SENTRAL = 40
# Fields the roster import may change on an application: the ID itself, and the stamp EnrolHQ moves.
WRITTEN_FIELDS = {"external_id", "updated_at"}
HEADERS = ("Student ID", "Student Code", "Given Name", "Preferred Name", "Surname", "Date of Birth", "Year")


@pytest.fixture(scope="module")
def seed() -> dict:
    return generate_school(size=30, seed=4, in_sentral=IN_SENTRAL)


@pytest.fixture(scope="module")
def servers(seed, tmp_path_factory):
    with SandboxServers(seed, enrolhq_config={"rate_limits": False}) as running:
        # A ledger of this module's own, so that drafts other tests recorded are not read back here.
        patch = point_dags_at(
            running, tmp_path_factory.mktemp("ledger"), school=SCHOOL, requests_per_second=500
        )
        yield running
    patch.undo()


@pytest.fixture(scope="module")
def roster_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "sentral_roster_import.py"))
    assert bag.import_errors == {}
    return bag.dags["sentral_roster_import"]


@pytest.fixture
def school(servers):
    from sentral.ledger import applications
    from sentral.school import open_school

    servers.reset()
    opened = open_school(SCHOOL)
    with opened.engine.begin() as connection:
        connection.execute(sa.delete(applications).where(applications.c.school == SCHOOL))
    return opened


def truth_ids(seed: dict, *tags: str) -> dict[str, str]:
    """Application id → the Sentral student id the generator gave it, for applications with a tag."""
    return {
        app_id: facts["sentral_student_id"]
        for app_id, facts in seed["truth"]["applications"].items()
        if any(tag in facts["tags"] for tag in tags)
    }


def twin_ids(seed: dict) -> list[str]:
    return [app_id for app_id, facts in seed["truth"]["applications"].items() if "twin" in facts["tags"]]


def applications_now(servers) -> dict[str, dict]:
    return {app["id"]: app for app in servers.enrolhq.state()["applications"]}


def external_ids(servers) -> dict[str, str]:
    return {
        app_id: app["external_id"] for app_id, app in applications_now(servers).items() if app["external_id"]
    }


def write_roster(seed: dict, path: Path, *, twins_enrolled: bool = True, bad_row: bool = False) -> Path:
    """The school's Sentral export as a spreadsheet saves it: BOM, DD/MM/YYYY, IDs as numbers."""
    rows = [
        (
            r["id"] + ".0",
            r["student_code"],
            r["first_name"],
            r["preferred_name"],
            r["last_name"],
            _dmy(r["dob"]),
            "",
        )
        for r in roster_rows(seed)
    ]
    if twins_enrolled:
        # The twins were enrolled in Sentral by hand: the roster holds them, EnrolHQ does not know it.
        apps = {app["id"]: app for app in seed["enrolhq"]["applications"]}
        for number, app_id in enumerate(twin_ids(seed)):
            app = apps[app_id]
            rows.append(
                (str(90001 + number), "", app["first_name"], "", app["last_name"], _dmy(app["dob"]), "")
            )
    if bad_row:
        rows.append(("99999", "", "Ghost", "", "Nobody", "30/02/2016", ""))
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        writer.writerows(rows)
    return path


def _dmy(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y")


def run(roster_dag, **conf):
    # Every Param is named: dag.test() keeps the last run's values on the DAG object otherwise.
    return roster_dag.test(
        run_conf={"school": SCHOOL, "csv_path": "", "dry_run": False, "max_writes": None, **conf}
    )


def report_rows(dag_run) -> list[dict]:
    from sentral.reports import safe_stem

    reports = Path(os.environ["SENTRAL_REPORTS_DIR"]) / SCHOOL / "roster"
    with (reports / f"{safe_stem(dag_run.run_id)}.csv").open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_csv_run_sets_exactly_the_students_in_sentral(roster_dag, school, servers, seed, tmp_path):
    before = external_ids(servers)

    dag_run = run(roster_dag, csv_path=str(write_roster(seed, tmp_path / "roster.csv")))

    assert dag_run.state == "success"
    expected = {**truth_ids(seed, "in_sentral", "duplicate"), **before}
    assert external_ids(servers) == expected
    assert len(expected) - len(before) == IN_SENTRAL + len(truth_ids(seed, "duplicate"))


def test_csv_run_changes_no_other_field_of_any_application(roster_dag, school, servers, seed, tmp_path):
    before = applications_now(servers)

    run(roster_dag, csv_path=str(write_roster(seed, tmp_path / "roster.csv")))

    after = applications_now(servers)
    strip = lambda app: {key: value for key, value in app.items() if key not in WRITTEN_FIELDS}  # noqa: E731
    assert after.keys() == before.keys()
    assert [app_id for app_id in before if strip(before[app_id]) != strip(after[app_id])] == []


def test_csv_run_lists_the_twins_for_review_and_writes_none_of_them(
    roster_dag, school, servers, seed, tmp_path
):
    dag_run = run(roster_dag, csv_path=str(write_roster(seed, tmp_path / "roster.csv")))

    reviews = [row for row in report_rows(dag_run) if row["Outcome"] == "review"]
    candidates = {text.split(":")[0] for row in reviews for text in row["Candidates"].split("; ")}
    assert candidates == set(twin_ids(seed))
    assert all("twins" in row["Why"] for row in reviews)
    assert not set(twin_ids(seed)) & set(external_ids(servers))


def test_a_second_run_sets_nothing(roster_dag, school, servers, seed, tmp_path):
    roster = str(write_roster(seed, tmp_path / "roster.csv"))
    run(roster_dag, csv_path=roster)
    after_first = applications_now(servers)

    dag_run = run(roster_dag, csv_path=roster)

    assert dag_run.state == "success"
    assert applications_now(servers) == after_first
    outcomes = {row["Outcome"] for row in report_rows(dag_run)}
    assert "set" not in outcomes
    assert "already set" in outcomes


def test_a_run_over_the_write_limit_stops_before_writing(roster_dag, school, servers, seed, tmp_path):
    before = applications_now(servers)

    dag_run = run(roster_dag, csv_path=str(write_roster(seed, tmp_path / "roster.csv")), max_writes=10)

    assert dag_run.state == "failed"
    assert applications_now(servers) == before
    assert {row["Outcome"] for row in report_rows(dag_run)} >= {"not written: over the limit"}


def test_a_dry_run_writes_nothing_and_reports_the_plan(roster_dag, school, servers, seed, tmp_path):
    before = applications_now(servers)

    dag_run = run(roster_dag, csv_path=str(write_roster(seed, tmp_path / "roster.csv")), dry_run=True)

    assert dag_run.state == "success"
    assert applications_now(servers) == before
    planned = [row for row in report_rows(dag_run) if row["Outcome"] == "would be set"]
    assert len(planned) == IN_SENTRAL + len(truth_ids(seed, "duplicate"))


def test_a_roster_with_an_impossible_date_writes_nothing(roster_dag, school, servers, seed, tmp_path):
    before = applications_now(servers)

    dag_run = run(roster_dag, csv_path=str(write_roster(seed, tmp_path / "roster.csv", bad_row=True)))

    assert dag_run.state == "failed"
    assert applications_now(servers) == before
    rejected = [row for row in report_rows(dag_run) if row["Outcome"] == "rejected"]
    assert len(rejected) == 1
    assert "column 'Date of Birth'" in rejected[0]["Why"]


def test_the_nightly_run_from_the_sentral_api_sets_the_same_ids_as_the_csv(
    roster_dag, school, servers, seed, tmp_path
):
    run(roster_dag, csv_path=str(write_roster(seed, tmp_path / "roster.csv", twins_enrolled=False)))
    from_csv = external_ids(servers)
    servers.reset()

    dag_run = run(roster_dag)

    assert dag_run.state == "success"
    assert external_ids(servers) == from_csv


def test_an_approved_draft_gets_its_external_id(roster_dag, school, servers, seed):
    from sentral.duplicates import FamilyInSentral
    from sentral.ledger import Ledger
    from sentral.payload import DraftRules, build_draft

    approved_app, pending_app = _plain_eligible(seed)[:2]
    ledger = Ledger(school.engine, SCHOOL)
    rules = DraftRules(school.config.fields, school.config.lookups, school.config.defaults)
    drafts = {}
    for app_id in (approved_app, pending_app):
        data = build_draft(school.enrolhq.get_application(app_id), FamilyInSentral(), rules)
        ledger.record_prepared(
            app_id,
            run_id="test",
            synced_by="test",
            applicant=app_id,
            payload=data,
            payload_hash="x",
            household_to_link=None,
            document_plans=[],
        )
        drafts[app_id] = school.sentral.create_draft(data).id
        ledger.record_draft_sent(app_id, drafts[app_id])
    approved = servers.sentral.approve_draft(drafts[approved_app])

    dag_run = run(roster_dag)

    assert dag_run.state == "success"
    ids = external_ids(servers)
    assert ids[approved_app] == str(approved["student"])
    assert pending_app not in ids


def _plain_eligible(seed: dict) -> list[str]:
    return [
        app_id for app_id, facts in seed["truth"]["applications"].items() if facts["tags"] == ["eligible"]
    ]


def test_the_schools_write_limit_stops_a_run_until_the_run_raises_it(
    roster_dag, school, servers, seed, tmp_path, monkeypatch
):
    mappings = tmp_path / "mappings"
    shutil.copytree(ROOT / "include" / "mappings" / SCHOOL, mappings / SCHOOL)
    settings = mappings / SCHOOL / "school.yml"
    settings.write_text(
        settings.read_text().replace("max_external_id_writes: 50", "max_external_id_writes: 5")
    )
    monkeypatch.setenv("SENTRAL_MAPPINGS_DIR", str(mappings))
    roster = str(write_roster(seed, tmp_path / "roster.csv"))

    stopped = run(roster_dag, csv_path=roster)
    unchanged = external_ids(servers)
    raised = run(roster_dag, csv_path=roster, max_writes=100)

    assert (stopped.state, raised.state) == ("failed", "success")
    assert len(unchanged) == len(truth_ids(seed, "has_external_id"))
    assert len(external_ids(servers)) - len(unchanged) == IN_SENTRAL + len(truth_ids(seed, "duplicate"))
