"""Benchmark of the parent changes report: 2,000 students in Sentral, 50,000 audit entries.

Builds a school deterministically with the sandbox generator (2,000 applications, every one given an
external ID; the oldest audit entries trimmed so that exactly 50,000 remain), serves it from the
sandbox EnrolHQ, and times the report the DAG's task makes (details list, audit logs, parsing, files)
over two intervals: the whole audit history (every entry is in the interval: a long catch-up) and the
last day (the daily run). Prints one JSON object.

    .venv/bin/python benchmarks/change_report.py                  # rate limits off: the code's speed
    .venv/bin/python benchmarks/change_report.py --rate-limited   # EnrolHQ's 5 a second, client at 4.5

With the rate limit on, every audit log costs at least one call, so the run is bound by calls / 4.5
seconds whatever the code does; the JSON says so beside the measured figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

STUDENTS = 2000
ENTRIES = 50_000
AUDIT_DAYS = 12
SEED = 7
CLIENT_RATE = 4.5


def build_school() -> dict:
    """The benchmark school: every application synced, exactly ``ENTRIES`` audit entries."""
    from sandbox.generator import generate_school

    seed_doc = generate_school(size=STUDENTS, seed=SEED, in_sentral=0, audit_days=AUDIT_DAYS, name="bench")
    for number, app in enumerate(seed_doc["enrolhq"]["applications"], start=1):
        app["external_id"] = app.get("external_id") or str(900_000 + number)
    logs = seed_doc["enrolhq"]["audit"]
    total = sum(len(log["entries"]) for log in logs)
    if total < ENTRIES:
        raise SystemExit(f"the generator wrote {total} entries; raise AUDIT_DAYS")
    # Entry ids follow time, so dropping the lowest ids trims the oldest history, as a shorter log would.
    keep_from = total - ENTRIES + 1
    for log in logs:
        log["entries"] = [entry for entry in log["entries"] if entry["id"] >= keep_from]
    return seed_doc


def measure(servers, seed_doc: dict, interval, *, rate_limited: bool, out_dir: Path) -> dict:
    from apicore.ratelimit import RateLimiter
    from enrolhq.client import EnrolHQClient
    from enrolhq.tokens import MemoryTokenStore
    from sentral.change_report import write_change_report
    from sentral.changes import ChangeSettings, collect_changes

    client = EnrolHQClient(
        servers.enrolhq_url,
        seed_doc["enrolhq"]["api_tokens"][0],
        token_store=MemoryTokenStore(),
        rate_limiter=RateLimiter(CLIENT_RATE if rate_limited else 0),
    )
    started = time.perf_counter()
    labels = {int(s["id"]): str(s["label"]) for s in client.status_settings()}
    settings = ChangeSettings(status_labels=labels)
    collection = collect_changes(client, settings, interval)
    _files, rows = write_change_report("bench", collection, settings, interval, out_dir=out_dir)
    seconds = time.perf_counter() - started

    calls = client.stats.requests
    entries = collection.counts["entries read"]
    figures = {
        "interval": interval.label,
        "seconds": round(seconds, 2),
        "api_calls": calls,
        "sign_ins": client.stats.sign_ins,
        "retries": client.stats.retries,
        "audit_entries_read": entries,
        "entries_per_second": round(entries / seconds, 1),
        "report_rows": rows,
    }
    if rate_limited:
        figures["bound_seconds_at_client_rate"] = round(calls / CLIENT_RATE, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-limited", action="store_true", help="keep the sandbox's rate limit on")
    parser.add_argument(
        "--daily-only", action="store_true", help="measure the daily run only (the long one when limited)"
    )
    args = parser.parse_args()

    import logging

    logging.disable(logging.WARNING)
    from sandbox.testing import SandboxServers
    from sentral.changes import interval_from_params, local_day

    built = time.perf_counter()
    seed_doc = build_school()
    build_seconds = time.perf_counter() - built
    as_of = date.fromisoformat(seed_doc["school"]["as_of"])
    timezone = seed_doc["school"]["timezone"]
    intervals = {"daily_run": local_day(as_of - timedelta(days=1), timezone)}
    if not args.daily_only:
        start = as_of - timedelta(days=AUDIT_DAYS)
        intervals["whole_history"] = interval_from_params(str(start), str(as_of), timezone)

    config = {"rate_limits": args.rate_limited}
    result: dict = {
        "benchmark": "change_report",
        "students_in_sentral": len(seed_doc["enrolhq"]["applications"]),
        "audit_logs": len(seed_doc["enrolhq"]["audit"]),
        "audit_entries": sum(len(log["entries"]) for log in seed_doc["enrolhq"]["audit"]),
        "sandbox_rate_limit": "on: 5 requests a second, client paced at 4.5" if args.rate_limited else "off",
        "school_build_seconds": round(build_seconds, 1),
    }
    with tempfile.TemporaryDirectory() as out, SandboxServers(seed_doc, enrolhq_config=config) as servers:
        for name, interval in intervals.items():
            result[name] = measure(
                servers, seed_doc, interval, rate_limited=args.rate_limited, out_dir=Path(out)
            )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
