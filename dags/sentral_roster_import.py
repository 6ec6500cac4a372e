"""
### Roster import: Sentral student IDs into EnrolHQ as external IDs

Reads the school's Sentral roster, matches each student to an EnrolHQ application by normalised names
and date of birth, and sets the application's external ID (the Sentral student ID: Sentral's internal
id or the student code, as `student_id_source` in the school's `school.yml` says). It also reads back
the enrolment drafts the application sync sent and, once a registrar has approved one into a student,
sets that application's external ID.

**Sources.** A triggered run may name a roster CSV (a school's export; headers, encodings, separators
and date forms vary and are recognised). Otherwise, and every night at 02:00 in the school's timezone,
the run reads what `roster.source` says: the Sentral API's current students (`api`) or the newest CSV
in the `roster.inbox` folder (`inbox`).

**Safety.** Only one unambiguous candidate is written. Twins, several candidates, near misses, an
application already holding another ID, and a Sentral ID held elsewhere go to review, never written.
Writes change only `external_id`, through EnrolHQ's read-modify-write with a conflict check. A run that
would write more than `roster.max_external_id_writes` stops before writing, unless `max_writes` is
raised for that run. A roster that fails validation writes nothing. **Dry run** reports the plan only.

**When it fails**: open the run report (its path is in the `import_roster` task's log and XCom). A
rejected roster names each row and column to correct; a run over the limit lists what it would set.
Owner: data team.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, ExceptionRetryPolicy, Param, RetryAction, RetryRule, dag, task

from sentral.dag_support import (
    DEFAULT_ARGS,
    ENROLHQ_POOL,
    START_DATE,
    default_school,
    schedule_timezone,
    school_param,
    tags,
)

# An invalid roster, the write limit and wrong credentials stay that way on a retry: fail at once.
FAIL_FAST = ExceptionRetryPolicy(
    rules=[
        RetryRule(exception="apicore.errors.FatalApiError", action=RetryAction.FAIL),
        RetryRule(exception="sentral.roster_import.RosterRunStoppedError", action=RetryAction.FAIL),
        RetryRule(exception=[ValueError, FileNotFoundError], action=RetryAction.FAIL),
    ]
)


@dag(
    dag_id="sentral_roster_import",
    dag_display_name="Sentral roster import",
    description="Sentral student IDs into EnrolHQ external IDs, from a roster CSV or the Sentral API",
    doc_md=__doc__,
    schedule=CronTriggerTimetable("0 2 * * *", timezone=schedule_timezone(default_school())),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=tags("roster"),
    params={
        "school": school_param(),
        "csv_path": Param(
            "",
            type="string",
            title="Roster CSV",
            description=(
                "Path of a Sentral roster export on the worker. Empty: the school's configured source "
                "(the Sentral API, or the newest CSV in the roster inbox)."
            ),
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Match and plan only: write nothing, and report what would be set.",
        ),
        "max_writes": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            title="Write limit",
            description=(
                "The most external IDs this run may set. Empty: the school's roster.max_external_id_writes. "
                "Raise it after checking the report of a run that stopped at the limit."
            ),
        ),
    },
)
def sentral_roster_import():
    @task(pool=ENROLHQ_POOL, retry_policy=FAIL_FAST)
    def import_roster(**context) -> dict:
        from sentral.roster_tasks import import_for_run

        return import_for_run(context)

    import_roster()


sentral_roster_import()
