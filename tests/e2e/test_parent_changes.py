"""The parent changes report DAG end to end against the sandbox, with EnrolHQ's rate limits on.

A generated school has parent, staff and system edits on students with and without a Sentral ID.
The report of a day must list exactly the parents' edits to students in Sentral (and to their
parents' records), each once, with the old and new values the generator recorded.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sandbox_fixtures import point_dags_at

from sandbox.generator import generate_school
from sandbox.testing import SandboxServers
from sentral.changes import EXCLUDED_FIELDS
from sentral.reports import neutralise

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCHOOL = "demo"
SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.fixture(scope="module")
def seed() -> dict:
    return generate_school(size=16, seed=5, in_sentral=4, audit_days=3, name=SCHOOL)


@pytest.fixture(scope="module")
def as_of(seed) -> date:
    return date.fromisoformat(seed["school"]["as_of"])


@pytest.fixture(scope="module")
def reports_dir(seed, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    with SandboxServers(seed) as running:
        patch = point_dags_at(running, tmp_path_factory.mktemp("ledger"), school=SCHOOL)
        patch.setenv("SENTRAL_REPORTS_DIR", str(folder))
        yield folder, running
    patch.undo()


@pytest.fixture(scope="module")
def changes_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    # Read when the DAG file is parsed: a failing try is retried after a second, not a minute.
    patch = pytest.MonkeyPatch()
    patch.setenv("SENTRAL_CHANGES_RETRY_DELAY", "1")

    bag = DagBag(dag_folder=str(ROOT / "dags" / "sentral_parent_changes_report.py"))
    patch.undo()
    assert bag.import_errors == {}
    return bag.dags["sentral_parent_changes_report"]


def run_report(changes_dag, reports_dir, day: date, *, conf: dict | None = None) -> Path:
    """Runs the DAG and returns the CSV it wrote for ``day``."""
    due = datetime.combine(day + timedelta(days=1), datetime.min.time().replace(hour=6), SYDNEY)
    # Every param is named: dag.test() keeps the values of an earlier run's conf as the DAG's defaults.
    params = {
        "school": SCHOOL,
        "interval_start": None,
        "interval_end": None,
        "only_updated_applications": None,
        **(conf or {}),
    }
    run = changes_dag.test(logical_date=due, run_conf=params)
    assert run.state == "success"
    return reports_dir[0] / SCHOOL / "parent-changes" / f"{day.isoformat()}.csv"


def csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


def synced_application_ids(seed: dict) -> set[str]:
    return {app["id"] for app in seed["enrolhq"]["applications"] if app.get("external_id")}


def edits_on(seed: dict, day: date) -> list[dict]:
    return [
        e
        for e in seed["truth"]["audit_edits"]
        if datetime.fromisoformat(e["at"]).astimezone(SYDNEY).date() == day
    ]


def reported(edit: dict, synced: set[str]) -> bool:
    return (
        edit["role"] == "parent"
        and bool(synced & set(edit["application_ids"]))
        and edit["field"] not in EXCLUDED_FIELDS
    )


def edit_key(edit: dict) -> tuple[str, str, str, str]:
    at = datetime.fromisoformat(edit["at"]).astimezone(SYDNEY).strftime("%Y-%m-%d %H:%M")
    return (at, edit["field"].lower(), neutralise(edit["old"] or ""), neutralise(edit["new"] or ""))


def row_key(row: dict[str, str]) -> tuple[str, str, str, str]:
    return (row["Changed at"], row["Field"].lower(), row["Old value"], row["New value"])


def test_day_report_lists_exactly_the_parent_edits_on_synced_students_each_once(
    seed, as_of, changes_dag, reports_dir
):
    day = as_of - timedelta(days=1)
    synced = synced_application_ids(seed)
    edits = edits_on(seed, day)
    left_out = [e for e in edits if not reported(e, synced)]
    assert {e["role"] for e in left_out} >= {"staff", None, "parent"}, "the day needs edits to leave out"

    rows = csv_rows(run_report(changes_dag, reports_dir, day))

    assert Counter(row_key(row) for row in rows) == Counter(edit_key(e) for e in edits if reported(e, synced))


def test_every_row_names_a_student_by_sentral_id(seed, as_of, changes_dag, reports_dir):
    sentral_ids = {
        str(app["external_id"]) for app in seed["enrolhq"]["applications"] if app.get("external_id")
    }

    rows = csv_rows(run_report(changes_dag, reports_dir, as_of - timedelta(days=1)))

    assert {part for row in rows for part in row["Sentral ID"].split("; ")} <= sentral_ids


def test_rerun_of_an_interval_gives_the_same_rows_and_one_run_record(as_of, changes_dag, reports_dir):
    from sentral.change_report import report_runs
    from sentral.changes import local_day
    from sentral.state import get_engine

    day = as_of - timedelta(days=2)
    first = run_report(changes_dag, reports_dir, day).read_bytes()
    path = run_report(changes_dag, reports_dir, day)

    assert path.read_bytes() == first
    start = local_day(day, "Australia/Sydney").start
    with get_engine().connect() as conn:
        query = sa.select(report_runs.c.rows).where(
            (report_runs.c.school == SCHOOL) & (report_runs.c.interval_start == start)
        )
        assert conn.execute(query).scalars().all() == [len(csv_rows(path))]


def test_interval_named_in_the_params_is_reported_whatever_the_run_date(as_of, changes_dag, reports_dir):
    day = as_of - timedelta(days=1)
    scheduled = run_report(changes_dag, reports_dir, day).read_bytes()

    named = run_report(
        changes_dag,
        reports_dir,
        day,
        conf={"interval_start": str(day), "interval_end": str(as_of)},
    ).read_bytes()

    assert named == scheduled


def test_day_without_edits_gives_an_empty_report_that_says_so(as_of, changes_dag, reports_dir):
    day = as_of + timedelta(days=3)

    path = run_report(changes_dag, reports_dir, day)

    assert csv_rows(path) == []
    assert "No parent changed anything" in path.with_suffix(".html").read_text()


def test_names_with_html_and_formulas_are_text_in_both_files(as_of, changes_dag, reports_dir):
    path = run_report(changes_dag, reports_dir, as_of - timedelta(days=1))

    page = path.with_suffix(".html").read_text()
    table = path.read_text(encoding="utf-8-sig")
    assert "&lt;b&gt;Nana&lt;/b&gt;" in page
    assert "<b>Nana</b>" not in page
    assert '\'=HYPERLINK(""http://example.invalid/x""' in table


def test_a_run_reads_each_audit_log_once_without_signing_in_again(seed, as_of, changes_dag, reports_dir):
    servers = reports_dir[1]
    run_report(changes_dag, reports_dir, as_of - timedelta(days=1))
    before = servers.enrolhq.metrics()

    run_report(changes_dag, reports_dir, as_of - timedelta(days=1))

    after = servers.enrolhq.metrics()
    synced = [app for app in seed["enrolhq"]["applications"] if app.get("external_id")]
    parents = {p["id"] for app in synced for p in (app["user_parent"], app["non_user_parent"]) if p}
    audit = "GET /api/v2/audit/log/"
    assert after["requests"][audit] - before["requests"][audit] == len(synced) + len(parents)
    assert after.get("sign_ins", 0) == before.get("sign_ins", 0)


def test_reading_only_updated_applications_gives_the_same_rows(as_of, changes_dag, reports_dir):
    day = as_of - timedelta(days=1)
    every = run_report(changes_dag, reports_dir, day).read_bytes()

    updated = run_report(changes_dag, reports_dir, day, conf={"only_updated_applications": True})

    assert updated.read_bytes() == every


def test_reading_only_updated_applications_skips_students_not_updated_since_the_interval_start(
    as_of, changes_dag, reports_dir
):
    servers = reports_dir[1]
    audit = "GET /api/v2/audit/log/"
    before = servers.enrolhq.metrics()["requests"].get(audit, 0)

    run_report(changes_dag, reports_dir, as_of + timedelta(days=2), conf={"only_updated_applications": True})

    assert servers.enrolhq.metrics()["requests"].get(audit, 0) == before
