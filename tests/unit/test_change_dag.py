"""The parent-changes DAG as the scheduler sees it, and how a run picks the interval it reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sentral.change_report import pick_interval
from sentral.changes import local_day
from sentral.dag_support import schedule_timezone

SYDNEY = "Australia/Sydney"
DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def changes_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "sentral_parent_changes_report.py"))
    assert bag.import_errors == {}
    return bag.dags["sentral_parent_changes_report"]


def test_dag_runs_daily_at_six_in_the_school_timezone(changes_dag):
    timetable = changes_dag.timetable

    assert (type(timetable).__name__, timetable.expression, str(timetable.timezone)) == (
        "CronTriggerTimetable",
        "0 6 * * *",
        SYDNEY,
    )


def test_dag_catches_up_missed_days_one_at_a_time(changes_dag):
    assert (changes_dag.catchup, changes_dag.max_active_runs) == (True, 1)


def test_report_is_written_before_it_is_emailed(changes_dag):
    assert changes_dag.get_task("report").downstream_task_ids == {"email"}


def test_schedule_timezone_is_read_from_the_school_configuration():
    assert schedule_timezone("demo") == SYDNEY


def test_schedule_timezone_of_an_unknown_school_falls_back_to_utc():
    assert schedule_timezone("no-such-school") == "UTC"


def test_scheduled_run_reports_the_local_day_before_it_is_due():
    due = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)  # 06:00 on 3 December in Sydney

    assert pick_interval(SYDNEY, due, None, None) == local_day(datetime(2026, 12, 2).date(), SYDNEY)


def test_manual_run_reports_the_interval_it_names():
    due = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)

    interval = pick_interval(SYDNEY, due, "2026-11-20", "2026-11-22")

    assert interval.label == "2026-11-20T00:00+11:00 to 2026-11-22T00:00+11:00"


def test_manual_run_naming_only_one_bound_is_refused():
    with pytest.raises(ValueError, match="both interval_start and interval_end"):
        pick_interval(SYDNEY, datetime(2026, 12, 2, tzinfo=UTC), "2026-11-20", None)
