"""The preflight DAG end to end against the sandbox, on the generated school the fixtures serve."""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "sentral_preflight"
SCHOOL = "demo"


@pytest.fixture(scope="module")
def preflight_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


@pytest.fixture
def run(preflight_dag, sandbox, airflow_db, monkeypatch, tmp_path):
    """Runs the DAG against the sandbox; returns the DAG run and the rows of its CSV report."""
    for name, value in sandbox.connection_env(SCHOOL).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SENTRAL_REPORTS_DIR", str(tmp_path / "reports"))

    def _run() -> tuple[object, list[dict]]:
        dag_run = preflight_dag.test(run_conf={"school": SCHOOL})
        reports = sorted((tmp_path / "reports" / SCHOOL / "preflight").glob("*.csv"))
        assert len(reports) == 1, "the run wrote no report"
        rows = list(csv.DictReader(io.StringIO(reports[0].read_text(encoding="utf-8-sig"))))
        return dag_run, rows

    return _run


def _eligible_grades(seed: dict) -> set[str]:
    tagged = {
        app_id for app_id, facts in seed["truth"]["applications"].items() if "eligible" in facts["tags"]
    }
    return {app["entry_grade"] for app in seed["enrolhq"]["applications"] if app["id"] in tagged}


def _mappings_copy(tmp_path: Path) -> Path:
    root = tmp_path / "mappings"
    shutil.copytree(ROOT / "include" / "mappings" / SCHOOL, root / SCHOOL)
    return root


def test_complete_mappings_pass(run):
    dag_run, rows = run()

    assert dag_run.state == "success"
    assert rows == []


def test_missing_year_level_and_inactive_campus_fail_the_run_naming_both(
    run, sandbox, sandbox_school, monkeypatch, tmp_path
):
    grade = sorted(_eligible_grades(sandbox_school))[0]
    root = _mappings_copy(tmp_path)
    year_levels = root / SCHOOL / "year_levels.csv"
    year_levels.write_text(
        "".join(line for line in year_levels.read_text().splitlines(True) if not line.startswith(f"{grade},"))
    )
    monkeypatch.setenv("SENTRAL_MAPPINGS_DIR", str(root))
    seed = copy.deepcopy(sandbox_school)
    junior = next(campus for campus in seed["sentral"]["campuses"] if campus["name"] == "Junior Campus")
    junior["isActive"] = False
    sandbox.sentral.reset(seed)

    dag_run, rows = run()

    assert dag_run.state == "failed"
    found = {(row["Check"], row["Problem"], row["Value"]) for row in rows}
    assert found == {
        ("Year levels", "no mapping", grade),
        ("Campuses", "inactive in Sentral", f"{junior['id']} (Junior Campus)"),
    }


def test_refused_sentral_key_fails_the_run_naming_sentral(run, sandbox, monkeypatch):
    name = f"AIRFLOW_CONN_SENTRAL_{SCHOOL.upper()}"
    connection = json.loads(sandbox.connection_env(SCHOOL)[name])
    connection["password"] = "ffffffffffffffffffffffffffffffff"
    monkeypatch.setenv(name, json.dumps(connection))

    dag_run, rows = run()

    assert dag_run.state == "failed"
    assert [(row["Check"], row["Value"]) for row in rows] == [("Connection", "Sentral")]
    assert "API key" in rows[0]["What to do"]
    assert "ffffffff" not in json.dumps(rows)
