"""Throughput of the application sync: 200 applications against the sandbox, as parallel workers run it.

``dag.test()`` runs one task at a time, which says nothing about concurrency. This benchmark drives the
same step functions the DAG's mapped tasks call (``prepare``, ``send_draft``, ``send_documents``,
``record`` from :mod:`sentral.sync`) from a thread pool, one application per worker at a time, the way
LocalExecutor or Celery workers would. Each worker opens the school itself (its own clients); they
share what real workers share: the ledger database, the one EnrolHQ access token kept in it, and the
process's EnrolHQ rate limiter. A step that fails with a retriable error is tried again, as Airflow's
retries would.

The sandbox runs with EnrolHQ's rate limit on (5 requests a second, 5 sign-ins a minute) and 50 ms
added to every call of both servers. Prints one JSON object:

    .venv/bin/python benchmarks/sync_throughput.py [--size 200] [--workers 8] [--latency-ms 50]

EnrolHQ's limit bounds the run: each application costs about eight EnrolHQ calls (detail, notes,
documents, the documents again before uploading, one download per document, the note), so the best
possible rate is about 5 / 8 applications a second whatever the worker count.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

SCHOOL = "demo"
SEED = 21
ENROLHQ_LIMIT = 5.0
STEP_TRIES = 4
TARGET_SIGN_INS = 2
TARGET_FRACTION = 0.8


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--size", type=int, default=200, help="applications in the generated school")
    parser.add_argument("--workers", type=int, default=8, help="applications synced at the same time")
    parser.add_argument("--latency-ms", type=int, default=50, help="added to every call of both servers")
    return parser.parse_args()


def isolate_environment() -> None:
    """A ledger and Airflow home of the benchmark's own, so nothing of a developer's is read or written."""
    home = Path(tempfile.mkdtemp(prefix="sync-benchmark-"))
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["SENTRAL_LEDGER_URL"] = f"sqlite:///{home / 'ledger.db'}"
    os.environ["SENTRAL_REPORTS_DIR"] = str(home / "reports")


class Workers:
    """Per-thread sync sessions, opened the way each task of the DAG opens its own."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self.sessions = []
        self._lock = threading.Lock()

    def session(self):
        from sentral.school import open_school
        from sentral.sync_setup import open_session

        if not hasattr(self._local, "session"):
            self._local.session = open_session(open_school(SCHOOL), self.settings)
            with self._lock:
                self.sessions.append(self._local.session)
        return self._local.session

    def sync_one(self, application_id: str) -> str:
        from apicore.errors import RetriableApiError
        from sentral.sync import prepare, record, send_documents, send_draft

        session = self.session()
        for step in (prepare, send_draft, send_documents, record):
            for attempt in range(1, STEP_TRIES + 1):
                try:
                    step(session, application_id)
                    break
                except RetriableApiError:
                    if attempt == STEP_TRIES:
                        return "failed"
                    time.sleep(0.5 * attempt)
                except Exception:
                    # A fatal error fails the application, as it fails the task in the DAG.
                    return "failed"
        row = session.ledger.get(application_id)
        return row.state.value if row else "not eligible"


def busy_rate(per_second: dict[str, int], start: float, end: float) -> float:
    """Requests a second over the seconds the sync ran, from the server's per-second counts."""
    first, last = int(start), int(end)
    seconds = [int(key) for key in per_second if first <= int(key) <= last]
    if not seconds:
        return 0.0
    total = sum(per_second[str(second)] for second in seconds)
    return total / max(1.0, end - start)


def run(args: argparse.Namespace) -> dict:
    from sandbox.generator import generate_school
    from sandbox.testing import SandboxServers
    from sentral.school import open_school
    from sentral.sync import RunSettings
    from sentral.sync_setup import open_session, select_applications

    seed_doc = generate_school(size=args.size, seed=SEED, name=SCHOOL)
    with SandboxServers(seed_doc, enrolhq_config={"rate_limits": True}) as servers:
        servers.enrolhq.configure(latency_ms=args.latency_ms)
        servers.sentral.configure(latency_ms=args.latency_ms)
        os.environ.update(servers.connection_env(SCHOOL))

        settings = RunSettings(run_id=f"benchmark-{int(time.time())}", synced_by="benchmark")
        school = open_school(SCHOOL)
        selected = select_applications(
            open_session(school, settings), school.config.settings.eligible_statuses
        )

        workers = Workers(settings)
        start = time.time()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            outcomes = list(pool.map(workers.sync_one, selected))
        end = time.time()

        enrolhq, sentral = servers.enrolhq.metrics(), servers.sentral.metrics()
        drafts = servers.sentral.state()["drafts"]

    elapsed = end - start
    enrolhq_calls = sum(enrolhq["requests"].values())
    sentral_calls = sum(sentral["requests"].values())
    rate = busy_rate(enrolhq["per_second"], start, end)
    counts = {state: outcomes.count(state) for state in sorted(set(outcomes))}
    return {
        "benchmark": "sync_throughput",
        "school_size": args.size,
        "applications_selected": len(selected),
        "outcomes": counts,
        "drafts_in_sentral": len(drafts),
        "workers": args.workers,
        "latency_ms_per_call": args.latency_ms,
        "elapsed_s": round(elapsed, 1),
        "applications_per_minute": round(len(selected) / elapsed * 60, 1),
        "api_calls_per_application": {
            "enrolhq": round(enrolhq_calls / len(selected), 2),
            "sentral": round(sentral_calls / len(selected), 2),
        },
        "api_calls": {"enrolhq": enrolhq_calls, "sentral": sentral_calls},
        "enrolhq_sign_ins": enrolhq.get("sign_ins", 0),
        "enrolhq_rate_limited_429": enrolhq.get("rate_limited", 0),
        "enrolhq_requests_per_second_busy": round(rate, 2),
        "enrolhq_rate_limit": ENROLHQ_LIMIT,
        "fraction_of_rate_limit": round(rate / ENROLHQ_LIMIT, 3),
        "targets": {
            "sign_ins_at_most": TARGET_SIGN_INS,
            "fraction_at_least": TARGET_FRACTION,
            "met": enrolhq.get("sign_ins", 0) <= TARGET_SIGN_INS and rate / ENROLHQ_LIMIT >= TARGET_FRACTION,
        },
    }


def main() -> None:
    args = parse_args()
    isolate_environment()
    # Progress lines of the clients and the sync would bury the JSON: only warnings, and on stderr.
    for name in ("sentral", "enrolhq", "apicore", "sandbox"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with contextlib.redirect_stdout(sys.stderr):
        result = run(args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
