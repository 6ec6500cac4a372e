"""Conventions every DAG file of the project shares: default arguments, pools, tags, the school param.

DAG files import this module at parse time, so it imports nothing but Airflow's authoring API and the
standard library. Pool names here must match ``include/pools.json`` (``airflow pools import``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param

log = logging.getLogger(__name__)

OWNER = "data-team"

# One slot per concurrent task talking to the API; include/pools.json sets the sizes.
SENTRAL_POOL = "sentral_api"
ENROLHQ_POOL = "enrolhq_api"

TAGS = ("enrolhq", "sentral")

DEFAULT_SCHOOL_ENV = "SENTRAL_DEFAULT_SCHOOL"

# Fixed and in the past, so a newly deployed DAG with a schedule starts at its next slot.
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    # A float multiplier in Airflow 3: 30 s, then about 60 s, then about 120 s, never over the cap.
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}

_SCHOOL_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


def tags(*extra: str) -> list[str]:
    """The project's tags followed by ``extra`` (what the DAG does, e.g. ``"preflight"``)."""
    return [*TAGS, *extra]


def default_school() -> str:
    """The school a run uses when the trigger form is left alone: ``$SENTRAL_DEFAULT_SCHOOL`` or demo."""
    return os.environ.get(DEFAULT_SCHOOL_ENV) or "demo"


def school_param() -> Param:
    """The ``school`` field of the trigger form: a folder name under ``include/mappings/``."""
    return Param(
        default_school(),
        type="string",
        pattern=_SCHOOL_PATTERN,
        title="School",
        description=(
            "The school to work on: the name of its folder under include/mappings/ "
            "(lower case letters, digits, '_' or '-'). Its connections and mappings come from there."
        ),
    )


def school_from_context(context: Mapping[str, Any]) -> str:
    """The school named by the run's params, checked to be a plain folder name.

    :param context: the task's Airflow context.
    """
    school = str(context["params"]["school"])
    if not re.match(_SCHOOL_PATTERN, school):
        raise ValueError(f"school {school!r} is not a folder name under include/mappings/")
    return school


def triggered_by(context: Mapping[str, Any]) -> str:
    """Who started the run: the user who pressed Trigger, else the run type (``scheduled``, ...).

    :param context: the task's Airflow context.
    """
    dag_run = context.get("dag_run")
    user = getattr(dag_run, "triggering_user_name", None)
    if user:
        return str(user)
    run_type = getattr(dag_run, "run_type", None)
    return str(getattr(run_type, "value", run_type) or "unknown")


def run_stamp(context: Mapping[str, Any]) -> str:
    """A name for this run's report files: the run id (reports.py makes it safe for a file name).

    :param context: the task's Airflow context.
    """
    return str(context["run_id"])


def schedule_timezone(school: str) -> str:
    """The IANA timezone a school's scheduled runs fire in: ``timezone`` in its ``school.yml``.

    Called when the scheduler parses a DAG file, so it reads that one key of that one small file and
    validates nothing else. A missing or unreadable file, or an unknown zone, gives UTC with a warning:
    that moves the hour a run fires, never what it does, because every run validates the school's
    configuration and works out its dates in the configured timezone.

    :param school: the school key (its folder under the mappings root).
    """
    from zoneinfo import ZoneInfo

    import yaml

    from sentral.mappings import SCHOOL_FILE, mappings_root

    try:
        path = mappings_root() / school / SCHOOL_FILE
        timezone = str(yaml.safe_load(path.read_text(encoding="utf-8"))["timezone"])
        ZoneInfo(timezone)
    except Exception as exc:
        log.warning("no timezone for school %s (%s); scheduling in UTC", school, exc)
        return "UTC"
    return timezone
