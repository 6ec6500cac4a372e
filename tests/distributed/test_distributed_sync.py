"""The application sync on the multi-machine topology, brought up natively: PostgreSQL as metadata
database and ledger, Redis as Celery broker, and an api-server, a scheduler, a dag-processor and two
Celery workers as separate processes, all started from the project's environment.

The stack starts once for the module. The first run syncs a generated school through the real
scheduler. The second syncs another school and SIGKILLs one worker while it runs a step, as a machine
that lost power; the scheduler notices the silent task, retries it on the other worker, and the run
still sends each application exactly once.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from datetime import datetime

import pytest
from native_stack import ROOT, NativeStack, StackConfig, wait_until

pytestmark = [pytest.mark.distributed, pytest.mark.postgres, pytest.mark.redis]

log = logging.getLogger(__name__)

SCHOOL = "demo"
DAG_ID = "sentral_application_sync"
WORKERS = ("worker1", "worker2")
RUN_TIMEOUT = 240


def eligible(seed: dict) -> set[str]:
    """Applications the run must send: eligible ones that are not already students in Sentral."""
    apps = seed["truth"]["applications"]
    return {
        a for a, facts in apps.items() if "eligible" in facts["tags"] and "duplicate" not in facts["tags"]
    }


def drafts_per_application(sentral_state: dict) -> Counter:
    return Counter(d["originalData"]["reference"]["application_id"] for d in sentral_state["drafts"])


def pool_sizes() -> dict[str, int]:
    pools = json.loads((ROOT / "include" / "pools.json").read_text())
    return {name: pool["slots"] for name, pool in pools.items()}


def most_at_once(task_instances: list[dict], pool: str) -> int:
    """The largest number of the pool's task instances that were running at one moment."""
    edges = []
    for ti in task_instances:
        if ti["pool"] == pool and ti["start_date"] and ti["end_date"]:
            edges.append((datetime.fromisoformat(ti["start_date"]), 1))
            edges.append((datetime.fromisoformat(ti["end_date"]), -1))
    running = peak = 0
    # At an equal instant an end sorts before a start: a slot handed over is not two tasks at once.
    for _when, step in sorted(edges):
        running += step
        peak = max(peak, running)
    return peak


@pytest.fixture(scope="module")
def schools() -> tuple[dict, dict]:
    from sandbox.generator import generate_school

    return generate_school(size=6, seed=11, name=SCHOOL), generate_school(size=6, seed=12, name=SCHOOL)


@pytest.fixture(scope="module")
def sandbox(schools):
    from sandbox.testing import SandboxServers

    with SandboxServers(schools[0], enrolhq_config={"rate_limits": False}) as servers:
        yield servers


def require_celery_executor() -> None:
    """Fails at once, with the reason, when the installed Celery cannot run Airflow's Celery executor."""
    try:
        import airflow.providers.celery.executors.celery_executor_utils  # noqa: F401
    except ImportError as exc:
        pytest.fail(
            f"Airflow's Celery executor does not import with the installed packages: {exc}. "
            "The Celery provider needs a Celery release it supports (see requirements.lock)."
        )


@pytest.fixture(scope="module")
def stack(stack_database_url, broker, sandbox, tmp_path_factory):
    import sqlalchemy as sa

    require_celery_executor()

    ledger = sa.engine.make_url(stack_database_url)
    connections = {
        "sentral_ledger": {
            "conn_type": "postgres",
            "host": ledger.host,
            "port": ledger.port or 5432,
            "login": ledger.username,
            "password": ledger.password,
            "schema": ledger.database,
        },
        **{
            key.removeprefix("AIRFLOW_CONN_").lower(): json.loads(value)
            for key, value in sandbox.connection_env(SCHOOL).items()
        },
    }
    redis_url, key_prefix = broker
    config = StackConfig(
        workdir=tmp_path_factory.mktemp("native-stack"),
        database_url=stack_database_url,
        broker_url=redis_url,
        key_prefix=key_prefix,
        connections=connections,
        extra_env={"SENTRAL_SYNC_RETRY_DELAY": "1", "SENTRAL_DEFAULT_SCHOOL": SCHOOL},
    )
    native = NativeStack(config, worker_names=WORKERS, worker_concurrency=4)
    started = time.monotonic()
    try:
        native.initialise()
        log.info("stack initialised in %.0fs", time.monotonic() - started)
        native.start_services()
        native.wait_for_api()
        native.wait_for_workers()
        native.wait_for_dag(DAG_ID)
        log.info("stack up in %.0fs; logs in %s", time.monotonic() - started, native.logs)
    except Exception as exc:
        native.stop()
        raise RuntimeError(f"the native stack did not come up: {exc}\n{native.log_tails()}") from exc
    try:
        yield native
    finally:
        native.stop()


@pytest.fixture(scope="module")
def first_run(stack, sandbox):
    started = time.monotonic()
    run_id = stack.trigger(DAG_ID, {"school": SCHOOL})
    state = stack.wait_for_run(DAG_ID, run_id, RUN_TIMEOUT)
    log.info("first run %s in %.0fs", state, time.monotonic() - started)
    return {
        "state": state,
        "task_instances": stack.task_instances(DAG_ID, run_id),
        "sentral": sandbox.sentral.state(),
        "enrolhq_metrics": sandbox.enrolhq.metrics(),
    }


def worker_running_a_draft(stack: NativeStack, run_id: str) -> str | None:
    """The worker running a ``send_draft`` of the run right now, if any."""
    for ti in stack.task_instances(DAG_ID, run_id):
        if (
            ti["task_id"] == "application.send_draft"
            and ti["state"] == "running"
            and ti["hostname"] in WORKERS
        ):
            return ti["hostname"]
    return None


def wait_for_a_worker_running_a_draft(stack: NativeStack, run_id: str) -> str:
    found: list[str] = []

    def running() -> bool:
        worker = worker_running_a_draft(stack, run_id)
        if worker:
            found.append(worker)
        return bool(found)

    wait_until(running, 120, "a worker to run a send_draft", stack.assert_alive)
    return found[0]


@pytest.fixture(scope="module")
def run_with_a_killed_worker(first_run, stack, sandbox, schools):
    sandbox.reset(schools[1])
    # Slow Sentral answers keep each step running long enough to be caught mid-flight.
    sandbox.sentral.configure(latency_ms=1500)
    run_id = stack.trigger(DAG_ID, {"school": SCHOOL})

    victim = wait_for_a_worker_running_a_draft(stack, run_id)
    killed_at = time.monotonic()
    stack.kill(victim)

    state = stack.wait_for_run(DAG_ID, run_id, RUN_TIMEOUT)
    log.info("run with a killed worker %s, %.0fs after the kill", state, time.monotonic() - killed_at)
    return {
        "state": state,
        "victim": victim,
        "survivor": next(w for w in WORKERS if w != victim),
        "task_instances": stack.task_instances(DAG_ID, run_id),
        "sentral": sandbox.sentral.state(),
        "enrolhq_metrics": sandbox.enrolhq.metrics(),
    }


def test_sync_run_through_the_celery_stack_succeeds(first_run):
    assert first_run["state"] == "success", first_run["task_instances"]


def test_tasks_of_the_run_are_spread_over_both_workers(first_run):
    hosts = Counter(ti["hostname"] for ti in first_run["task_instances"] if ti["state"] == "success")

    assert set(hosts) == set(WORKERS)


def test_each_eligible_application_has_exactly_one_draft(first_run, schools):
    drafts = drafts_per_application(first_run["sentral"])

    assert drafts == Counter(dict.fromkeys(eligible(schools[0]), 1))


def test_workers_share_one_enrolhq_token_so_the_run_signs_in_at_most_twice(first_run):
    assert 1 <= first_run["enrolhq_metrics"]["sign_ins"] <= 2


@pytest.mark.parametrize("pool", sorted(pool_sizes()))
def test_no_more_api_tasks_run_at_once_than_the_pool_has_slots(first_run, pool):
    task_instances = first_run["task_instances"]
    in_pool = [ti for ti in task_instances if ti["pool"] == pool]

    assert in_pool, f"no task of the run uses pool {pool}"
    assert most_at_once(task_instances, pool) <= pool_sizes()[pool]


def test_run_survives_a_worker_killed_mid_step(run_with_a_killed_worker):
    assert run_with_a_killed_worker["state"] == "success", run_with_a_killed_worker["task_instances"]


def test_killed_workers_step_is_retried_on_the_surviving_worker(run_with_a_killed_worker):
    retried = [
        ti
        for ti in run_with_a_killed_worker["task_instances"]
        if ti["task_id"] == "application.send_draft" and ti["try_number"] > 1
    ]

    assert retried, "no send_draft was tried a second time after the kill"
    assert {ti["hostname"] for ti in retried} == {run_with_a_killed_worker["survivor"]}
    assert all(ti["state"] == "success" for ti in retried)


def test_after_the_kill_each_application_is_still_sent_exactly_once(run_with_a_killed_worker, schools):
    drafts = drafts_per_application(run_with_a_killed_worker["sentral"])

    assert drafts == Counter(dict.fromkeys(eligible(schools[1]), 1))


def test_after_the_kill_the_run_still_signs_in_at_most_twice(run_with_a_killed_worker):
    assert run_with_a_killed_worker["enrolhq_metrics"]["sign_ins"] <= 2
