"""`make demo`: every pipeline, end to end, against the sandbox on the embedded default.

Generates a synthetic school, serves it from the two sandbox servers on loopback, and runs the DAGs
with `airflow dags test` (SQLite metadata database, no scheduler needed) in the order a school would:
preflight, the application sync, a registrar approving some drafts in Sentral, the roster import that
sets external IDs, and the parent changes report. Prints one line per step and where the reports are;
everything Airflow prints goes to .build/demo.log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".airflow"
REPORTS = ROOT / "reports"
LOG = ROOT / ".build" / "demo.log"
SCHOOL = "demo"
SIZE = 30
SEED = 1


def airflow_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME / 'airflow.db'}",
            "SENTRAL_LEDGER_URL": f"sqlite:///{HOME / 'sentral_ledger.db'}",
            "SENTRAL_REPORTS_DIR": str(REPORTS),
            "SENTRAL_MAPPINGS_DIR": str(ROOT / "include" / "mappings"),
            "SENTRAL_DEFAULT_SCHOOL": SCHOOL,
        }
    )
    env.update(extra)
    return env


class Steps:
    """Runs commands one after another, printing a line each and logging their output."""

    def __init__(self, log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = log_path.open("w")

    def run(self, label: str, argv: list[str], env: dict[str, str], *, may_fail: bool = False) -> bool:
        print(f"  {label:<52}", end="", flush=True)
        started = time.monotonic()
        self.log.write(f"\n===== {label}: {' '.join(argv)}\n")
        self.log.flush()
        result = subprocess.run(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        seconds = time.monotonic() - started
        if result.returncode == 0:
            print(f"done ({seconds:.0f}s)")
            return True
        print(f"{'run failed: its report says why' if may_fail else 'FAILED'} ({seconds:.0f}s)")
        if not may_fail:
            raise SystemExit(f"step failed: {label}; see {LOG}")
        return False

    def note(self, label: str, outcome: str) -> None:
        print(f"  {label:<52}{outcome}")


def dags_test(dag_id: str, conf: dict, logical_date: str | None = None) -> list[str]:
    argv = [str(ROOT / ".venv" / "bin" / "airflow"), "dags", "test", dag_id]
    if logical_date:
        argv.append(logical_date)
    return [*argv, "-c", json.dumps(conf)]


def approve_some_drafts(servers, share: float = 0.5) -> int:
    """Plays a registrar approving part of the drafts in Sentral, so the roster import has work."""
    drafts = servers.sentral.state()["drafts"]
    chosen = [d for d in drafts if d.get("status", "pending") == "pending"][: int(len(drafts) * share)]
    for draft in chosen:
        servers.sentral.approve_draft(draft["id"])
    return len(chosen)


def main() -> None:
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
    from sandbox.generator import generate_school
    from sandbox.testing import SandboxServers

    for stale in (HOME / "airflow.db", HOME / "sentral_ledger.db"):
        stale.unlink(missing_ok=True)
    HOME.mkdir(exist_ok=True)
    steps = Steps(LOG)
    print(f"Demo school '{SCHOOL}': {SIZE} applications (Airflow output: {LOG})")
    started = time.time()

    seed_doc = generate_school(size=SIZE, seed=SEED, name=SCHOOL)
    as_of = date.fromisoformat(seed_doc["school"]["as_of"])
    with SandboxServers(seed_doc) as servers:
        steps.note("sandbox EnrolHQ", servers.enrolhq_url)
        steps.note("sandbox Sentral", servers.sentral_url)
        env = airflow_env(servers.connection_env(school=SCHOOL))
        airflow = str(ROOT / ".venv" / "bin" / "airflow")
        steps.run("Airflow metadata database (SQLite)", [airflow, "db", "migrate"], env)
        steps.run("pools", [airflow, "pools", "import", str(ROOT / "include" / "pools.json")], env)

        steps.run("sentral_preflight", dags_test("sentral_preflight", {"school": SCHOOL}), env, may_fail=True)
        sync_conf = {"school": SCHOOL, "dry_run": False, "synced_by": "demo registrar"}
        steps.run(
            "sentral_application_sync",
            dags_test("sentral_application_sync", sync_conf),
            env,
            may_fail=True,
        )
        steps.note("registrar approves drafts in Sentral", f"{approve_some_drafts(servers)} approved")
        steps.run(
            "sentral_roster_import (from the Sentral API)",
            dags_test("sentral_roster_import", {"school": SCHOOL, "dry_run": False}),
            env,
            may_fail=True,
        )
        yesterday = as_of - timedelta(days=1)
        steps.run(
            f"sentral_parent_changes_report ({yesterday})",
            dags_test(
                "sentral_parent_changes_report",
                {"school": SCHOOL, "interval_start": str(yesterday), "interval_end": str(as_of)},
            ),
            env,
            may_fail=True,
        )

    reports = sorted(p for p in REPORTS.rglob("*.html") if p.stat().st_mtime >= started)
    print(f"\nReports written ({len(reports)}):")
    for path in reports:
        print(f"  {path.relative_to(ROOT)}  (+ {path.with_suffix('.csv').name})")


if __name__ == "__main__":
    main()
