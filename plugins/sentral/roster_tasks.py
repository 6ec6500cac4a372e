"""What the roster import DAG's task and schedule call: kept light, since the DAG file imports it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

# The nightly schedule's timezone when the school's settings cannot be read at parse time.


def import_for_run(context: Mapping[str, Any]) -> dict[str, Any]:
    """Run the roster import for the school and params of one DAG run, write its report, and
    fail the task (after the report is written) when a person must act.

    :param context: the task's Airflow context.
    :returns: the run's counts and the report's paths, for the task's XCom.
    """
    from sentral.dag_support import run_stamp, school_from_context
    from sentral.roster_import import run_roster_import
    from sentral.roster_report import write_roster_report
    from sentral.school import open_school

    params = context["params"]
    school = open_school(school_from_context(context))
    max_writes = params.get("max_writes")
    result = run_roster_import(
        school,
        csv_path=(params.get("csv_path") or "").strip() or None,
        dry_run=bool(params.get("dry_run")),
        max_writes=None if max_writes in (None, "") else int(max_writes),
    )
    files = write_roster_report(result, school=school.name, stamp=run_stamp(context))
    log.info("roster report: %s (CSV beside it: %s)", files.html, files.csv)
    result.raise_for_outcome()
    return {**result.counts(), "report_html": str(files.html), "report_csv": str(files.csv)}
