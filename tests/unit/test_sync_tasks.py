"""The bridge from Airflow's task context to the sync: who is syncing, and the mapped tasks' summaries."""

from __future__ import annotations

from types import SimpleNamespace

from sentral.sync_tasks import summaries, synced_by


def context(synced_by_param: str = "", user: str | None = None) -> dict:
    return {"params": {"synced_by": synced_by_param}, "dag_run": SimpleNamespace(triggering_user_name=user)}


def test_synced_by_is_the_form_value_when_given():
    assert synced_by(context("Registrar Jones", user="admin")) == "Registrar Jones"


def test_synced_by_defaults_to_the_user_who_triggered_the_run():
    assert synced_by(context(user="admin")) == "admin"


def test_synced_by_falls_back_to_scheduler_for_scheduled_runs():
    assert synced_by(context()) == "scheduler"


def test_a_single_summary_is_read_as_a_list_of_one():
    assert summaries({"application_id": "a1", "outcome": "ready"}) == [
        {"application_id": "a1", "outcome": "ready"}
    ]


def test_missing_summaries_are_left_out():
    assert summaries([{"application_id": "a1"}, None]) == [{"application_id": "a1"}]
    assert summaries(None) == []
