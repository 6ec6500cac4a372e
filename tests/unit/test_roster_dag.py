"""The roster import DAG's declaration: nightly schedule in the school's timezone, and its Params."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentral.dag_support import schedule_timezone

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def roster_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "sentral_roster_import.py"))
    assert bag.import_errors == {}
    return bag.dags["sentral_roster_import"]


def test_dag_runs_nightly_at_two_in_the_school_timezone(roster_dag):
    assert (roster_dag.timetable.expression, str(roster_dag.timetable.timezone)) == (
        "0 2 * * *",
        "Australia/Sydney",
    )


def test_trigger_form_takes_a_csv_path_a_dry_run_and_a_write_limit(roster_dag):
    params = roster_dag.params.dump()

    assert {name: params[name] for name in ("csv_path", "dry_run", "max_writes")} == {
        "csv_path": "",
        "dry_run": False,
        "max_writes": None,
    }


def test_schedule_timezone_is_read_from_the_school_configuration(tmp_path, monkeypatch):
    (tmp_path / "perth").mkdir()
    (tmp_path / "perth" / "school.yml").write_text("name: Perth\ntimezone: Australia/Perth\n")
    monkeypatch.setenv("SENTRAL_MAPPINGS_DIR", str(tmp_path))

    assert schedule_timezone("perth") == "Australia/Perth"


def test_schedule_timezone_of_an_unknown_zone_falls_back_to_utc(tmp_path, monkeypatch):
    (tmp_path / "mars").mkdir()
    (tmp_path / "mars" / "school.yml").write_text("name: Mars\ntimezone: Mars/Olympus_Mons\n")
    monkeypatch.setenv("SENTRAL_MAPPINGS_DIR", str(tmp_path))

    assert schedule_timezone("mars") == "UTC"
