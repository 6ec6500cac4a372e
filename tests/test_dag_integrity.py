"""House rules every DAG in dags/ must keep, checked by parsing the folder as the scheduler does."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
POOLS_FILE = ROOT / "include" / "pools.json"
API_POOLS = {"sentral_api", "enrolhq_api"}
DAG_FILES = sorted(path for path in DAGS.glob("*.py") if not path.name.startswith("_"))


@pytest.fixture(scope="module")
def pools() -> dict:
    return json.loads(POOLS_FILE.read_text())


@pytest.fixture(scope="module")
def dagbag(pools):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS), known_pools={"default_pool", *pools})


def _dags(dagbag):
    return sorted(dagbag.dags.values(), key=lambda dag: dag.dag_id)


def test_dags_folder_has_dags(dagbag):
    assert DAG_FILES
    assert dagbag.dags


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}


def test_no_dag_uses_a_pool_missing_from_pools_json(dagbag):
    assert [str(warning) for warning in dagbag.dag_warnings] == []


def test_pools_json_defines_both_api_pools_for_airflow_pools_import(pools):
    from sentral.dag_support import ENROLHQ_POOL, SENTRAL_POOL

    assert {SENTRAL_POOL, ENROLHQ_POOL} <= set(pools)
    for pool in pools.values():
        assert pool["slots"] >= 1
        assert pool["description"]


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda path: path.name)
def test_every_dag_call_states_its_schedule(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("dag", "DAG")
    ]

    assert calls, f"{path.name} declares no DAG"
    for call in calls:
        assert "schedule" in {keyword.arg for keyword in call.keywords}, (
            f"{path.name}: schedule= is not explicit"
        )


def test_every_dag_has_tags_an_owner_and_docs(dagbag):
    for dag in _dags(dagbag):
        assert dag.tags, f"{dag.dag_id} has no tags"
        assert (dag.doc_md or "").strip(), f"{dag.dag_id} has no documentation"
        for task in dag.tasks:
            assert task.owner == "data-team", f"{dag.dag_id}.{task.task_id} is owned by {task.owner!r}"


def test_every_task_in_an_api_pool_retries(dagbag):
    for dag in _dags(dagbag):
        for task in dag.tasks:
            if task.pool in API_POOLS:
                assert task.retries >= 1, f"{dag.dag_id}.{task.task_id} calls an API without retries"


def test_every_dag_id_matches_its_file_name(dagbag):
    assert {dag.dag_id for dag in dagbag.dags.values()} == {path.stem for path in DAG_FILES}


def test_preflight_is_triggered_only(dagbag):
    dag = dagbag.dags["sentral_preflight"]

    assert dag.schedule is None
    assert "school" in dag.params


def test_school_param_defaults_to_the_deployments_school(monkeypatch):
    from sentral.dag_support import school_param

    monkeypatch.setenv("SENTRAL_DEFAULT_SCHOOL", "st_marys")

    assert school_param().resolve() == "st_marys"


def test_school_param_refuses_a_name_that_is_not_a_folder():
    from airflow.sdk.definitions.param import ParamValidationError

    from sentral.dag_support import school_param

    with pytest.raises(ParamValidationError):
        school_param().resolve("../etc")


def test_school_from_context_refuses_a_name_that_is_not_a_folder():
    from sentral.dag_support import school_from_context

    with pytest.raises(ValueError, match="not a folder name"):
        school_from_context({"params": {"school": "../etc"}})


def test_triggered_by_names_the_user_who_pressed_trigger():
    from types import SimpleNamespace

    from sentral.dag_support import triggered_by

    run = SimpleNamespace(triggering_user_name="registrar.jo", run_type="manual")

    assert triggered_by({"dag_run": run}) == "registrar.jo"


def test_triggered_by_falls_back_to_the_run_type_for_scheduled_runs():
    from types import SimpleNamespace

    from sentral.dag_support import triggered_by

    run = SimpleNamespace(triggering_user_name=None, run_type="scheduled")

    assert triggered_by({"dag_run": run}) == "scheduled"
