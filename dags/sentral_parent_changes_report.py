"""
### Parent changes report: what parents changed in EnrolHQ yesterday, to copy into Sentral

Every morning (06:00 in the school's timezone) lists, field by field, what parents changed the day
before in EnrolHQ for students already in Sentral (applications with an external ID): names, contact
details, addresses, relationships, custody and living arrangements, medical details and emergency
contacts, with who changed what and when, old → new. Grouped by family, then student, with the
student's Sentral ID. Staff and system changes are left out. A sentence the report cannot read is
listed as logged, never dropped. A field changed twice the same day shows both steps. A change to a
student whose status should no longer let parents edit (default: Community) is flagged.

The report (HTML and CSV, owner-only) goes to the reports folder, named after the day it covers, and
is e-mailed when the school's `changes.email_to` names recipients (SMTP connection `changes.smtp_conn_id`).

Each run covers exactly the local calendar day before it is due, worked out from EnrolHQ's audit logs
alone: a re-run gives the same report, and days the scheduler missed are caught up. A manual run can
name any interval (`interval_start`, `interval_end`: dates mean local midnight).

**When it fails**: the `report` task's log names the school, the interval and the error. Connection or
rate-limit errors retry on their own; fix credentials or mappings, then clear the task. Owner: data team.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
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

# 06:00 leaves the night for late edits to settle; the cron is read in the school's timezone.
CRON = os.environ.get("SENTRAL_CHANGES_CRON") or "0 6 * * *"

# Catch-up creates one run per day from here, each reading every synced student's audit logs: set
# SENTRAL_CHANGES_START (YYYY-MM-DD) to the first day a school wants reported.
FIRST_DAY = os.environ.get("SENTRAL_CHANGES_START")
START = pendulum.parse(FIRST_DAY, tz="UTC") if FIRST_DAY else START_DATE

RETRY_DELAY = timedelta(seconds=float(os.environ.get("SENTRAL_CHANGES_RETRY_DELAY", "60")))

# Wrong credentials, bad mappings and a malformed interval stay wrong on a retry.
FAIL_FAST = ExceptionRetryPolicy(
    rules=[
        RetryRule(exception="apicore.errors.FatalApiError", action=RetryAction.FAIL),
        RetryRule(exception="sentral.fieldmap.MappingError", action=RetryAction.FAIL),
        RetryRule(exception=ValueError, action=RetryAction.FAIL),
    ]
)


@dag(
    dag_id="sentral_parent_changes_report",
    dag_display_name="Sentral parent changes report",
    description="What parents changed in EnrolHQ yesterday, field by field, for staff to copy into Sentral",
    doc_md=__doc__,
    schedule=CronTriggerTimetable(CRON, timezone=schedule_timezone(default_school())),
    start_date=START,
    catchup=True,
    # One day at a time: catch-up runs share EnrolHQ's rate limit, so parallel runs would only queue.
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "retry_delay": RETRY_DELAY},
    tags=tags("changes", "report"),
    params={
        "school": school_param(),
        "interval_start": Param(
            None,
            type=["null", "string"],
            title="From",
            description="First moment to report: YYYY-MM-DD (local midnight) or an ISO date-time. "
            "Empty: the day before the run.",
        ),
        "interval_end": Param(
            None,
            type=["null", "string"],
            title="Until",
            description="First moment no longer reported, in the same forms. Empty with From empty.",
        ),
        "only_updated_applications": Param(
            None,
            type=["null", "boolean"],
            title="Only applications updated in the interval",
            description="Read the audit logs only of applications EnrolHQ marks as updated since the "
            "interval's start. Empty: the school's changes.only_updated_applications (default off).",
        ),
        "send_email": Param(
            True,
            type="boolean",
            title="E-mail the report",
            description="Send it to the school's changes.email_to recipients, when there are any.",
        ),
    },
)
def sentral_parent_changes_report():
    @task(pool=ENROLHQ_POOL, retry_policy=FAIL_FAST)
    def report(**context) -> dict:
        from sentral.change_report import produce_report
        from sentral.dag_support import school_from_context

        params = context["params"]
        return produce_report(
            school_from_context(context),
            due=context.get("logical_date") or context["dag_run"].run_after,
            interval_start=params.get("interval_start"),
            interval_end=params.get("interval_end"),
            only_updated=params.get("only_updated_applications"),
            run_id=context["run_id"],
        )

    @task(retry_policy=FAIL_FAST)
    def email(outcome: dict, **context) -> bool:
        from sentral.change_report import email_if_configured

        if not context["params"].get("send_email", True):
            return False
        return email_if_configured(outcome)

    email(report())


sentral_parent_changes_report()
