"""
### Preflight: are a school's connections and mappings ready for the sync?

Run it before a school's first sync, and again after changing its mappings or its Sentral set-up. It
writes nothing to EnrolHQ or Sentral.

1. `check_mappings` loads `include/mappings/<school>/` and fails at once, naming the file, line and
   value, when a file is invalid.
2. `read_sentral` signs in to Sentral and reads its lookups (year levels, campuses, houses, document
   categories, academic periods, note types).
3. `read_enrolhq` signs in to EnrolHQ and reads the eligible applications (and their documents).
4. `report` lists every gap: a refused connection (which system, and what to fix), a mapped value that
   Sentral lacks or has made inactive, a gender or relationship code outside the school's code list,
   and a value used by eligible applications that has no mapping. It writes an HTML and a CSV report
   and **fails when there is any gap**.

**When it fails**: open the report (its path is at the end of the `report` task's log), fix each row,
and trigger again. Owner: data team.
"""

from __future__ import annotations

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule, TriggerRule, dag, task

from sentral.dag_support import (
    DEFAULT_ARGS,
    ENROLHQ_POOL,
    SENTRAL_POOL,
    START_DATE,
    run_stamp,
    school_from_context,
    school_param,
    tags,
)

# Refused credentials and invalid mappings stay wrong on a retry; only outages are worth waiting for.
FAIL_FAST = ExceptionRetryPolicy(
    rules=[
        RetryRule(exception="apicore.errors.FatalApiError", action=RetryAction.FAIL),
        RetryRule(exception=ValueError, action=RetryAction.FAIL),
    ]
)


@dag(
    dag_id="sentral_preflight",
    dag_display_name="Sentral preflight",
    description="Checks a school's connections and mappings against EnrolHQ and Sentral; writes nothing",
    doc_md=__doc__,
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=tags("preflight"),
    params={"school": school_param()},
)
def sentral_preflight():
    @task(retries=0)
    def check_mappings(**context) -> dict:
        from sentral.mappings import load_school

        config = load_school(school_from_context(context))
        return {name: len(table) for name, table in config.lookups.items()}

    @task(pool=SENTRAL_POOL, retry_policy=FAIL_FAST)
    def read_sentral(**context) -> dict:
        from sentral.preflight import read_sentral as read
        from sentral.school import open_school

        school = open_school(school_from_context(context))
        return read(school.sentral, school.config.sentral_conn_id)

    @task(pool=ENROLHQ_POOL, retry_policy=FAIL_FAST)
    def read_enrolhq(**context) -> dict:
        from sentral.preflight import read_enrolhq as read
        from sentral.school import open_school

        school = open_school(school_from_context(context))
        return read(school.enrolhq, school.config)

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def report(sentral: dict | None, enrolhq: dict | None, **context) -> str:
        from sentral.mappings import load_school
        from sentral.preflight import conclude

        config = load_school(school_from_context(context))
        return str(conclude(config, sentral, enrolhq, stamp=run_stamp(context)).html)

    checked = check_mappings()
    sentral = read_sentral()
    enrolhq = read_enrolhq()
    checked >> [sentral, enrolhq]
    report(sentral, enrolhq)


sentral_preflight()
