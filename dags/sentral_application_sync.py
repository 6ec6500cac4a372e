"""
### Application sync: approved EnrolHQ applications into Sentral as enrolment drafts, exactly once

Sends each eligible application of one school (a configured status, by default Orientation; offer
accepted; no external ID; not already synced) to Sentral as an enrolment draft, uploads its verified
documents into the draft, and leaves a note on the application in EnrolHQ. Each application runs as its
own chain of mapped tasks (`prepare` → `send_draft` → `send_documents` → `record`), named by application
id in the grid, so one family's failure never holds up another and a retry resumes where it stopped.

Nothing is ever sent twice: every send is announced in the sync ledger before it is made, and after a
lost answer the next try looks for the draft, attachment or note before sending again. Re-running the
DAG or clearing any task is safe.

**Duplicates** (the applicant is already a Sentral student) are not sent. **Siblings** (the primary
carer's household exists in Sentral) are sent without household data, flagged "link household in
Sentral". Both appear in the run report, with what a person must do.

**Dry run** builds and checks every draft and writes nothing anywhere; the report shows, field by
field, what would be sent.

**When it fails**: open the run report (path in the `report` task's log). A failed application names
the field or the error; fix the application in EnrolHQ or the school's mappings, then trigger again.
Owner: data team.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import (
    ExceptionRetryPolicy,
    Param,
    RetryAction,
    RetryRule,
    TriggerRule,
    dag,
    task,
    task_group,
)

from sentral.dag_support import (
    DEFAULT_ARGS,
    ENROLHQ_POOL,
    SENTRAL_POOL,
    START_DATE,
    school_param,
    tags,
)

# Seconds before a failed step is tried again; tests and rehearsals against the sandbox shorten it.
RETRY_DELAY = timedelta(seconds=float(os.environ.get("SENTRAL_SYNC_RETRY_DELAY", "30")))

# Bad data, rejected drafts and wrong credentials stay wrong on a retry: fail those steps at once.
FAIL_FAST = ExceptionRetryPolicy(
    rules=[
        RetryRule(exception="apicore.errors.FatalApiError", action=RetryAction.FAIL),
        RetryRule(exception=ValueError, action=RetryAction.FAIL),
    ]
)
STEP = {"retry_delay": RETRY_DELAY, "retry_policy": FAIL_FAST}
# Each mapped task puts its application id in its context (sentral.sync_tasks.name_mapped_instance).
BY_APPLICATION = "{{ application_id }}"


@dag(
    dag_id="sentral_application_sync",
    dag_display_name="Sentral application sync",
    description="Eligible EnrolHQ applications into Sentral as enrolment drafts, exactly once",
    doc_md=__doc__,
    schedule=os.environ.get("SENTRAL_SYNC_SCHEDULE") or None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=tags("sync"),
    params={
        "school": school_param(),
        "application_ids": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Applications",
            description="EnrolHQ application ids to sync, one a line. Empty: every eligible application.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Build and check every draft, send nothing, and report what would be sent.",
        ),
        "synced_by": Param(
            "",
            type="string",
            title="Synced by",
            description="The name written to the ledger and the EnrolHQ note. Empty: who triggered the run.",
        ),
    },
)
def sentral_application_sync():
    @task(pool=ENROLHQ_POOL, **STEP)
    def select(**context) -> list[str]:
        from sentral.sync_tasks import select_for_run

        return select_for_run(context)

    @task_group(group_id="application")
    def sync_application(application_id: str):
        @task(pool=ENROLHQ_POOL, map_index_template=BY_APPLICATION, **STEP)
        def prepare(application_id: str, **context) -> dict:
            from sentral.sync_tasks import run_step

            return run_step("prepare", application_id, context)

        @task(pool=SENTRAL_POOL, map_index_template=BY_APPLICATION, **STEP)
        def send_draft(application_id: str, **context) -> str | None:
            from sentral.sync_tasks import run_step

            return run_step("send_draft", application_id, context)

        @task(pool=SENTRAL_POOL, map_index_template=BY_APPLICATION, **STEP)
        def send_documents(application_id: str, **context) -> dict:
            from sentral.sync_tasks import run_step

            return run_step("send_documents", application_id, context)

        @task(pool=ENROLHQ_POOL, map_index_template=BY_APPLICATION, **STEP)
        def record(application_id: str, prepared: dict, **context) -> dict:
            from sentral.sync_tasks import run_step

            run_step("record", application_id, context)
            # Passed on for the report: what prepare decided (a dry run's draft, field by field).
            return prepared

        prepared = prepare(application_id)
        recorded = record(application_id, prepared)
        prepared >> send_draft(application_id) >> send_documents(application_id) >> recorded
        return recorded

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def report(selected: list[str], outcomes: list[dict], **context) -> str:
        from sentral.sync_tasks import report_for_run

        return report_for_run(selected, outcomes, context)

    selected = select()
    outcomes = sync_application.expand(application_id=selected)
    report(selected, outcomes)


sentral_application_sync()
