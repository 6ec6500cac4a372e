"""What each task of ``sentral_application_sync`` runs: the bridge from an Airflow context to the sync.

The DAG file only declares tasks; each task body calls one function here with its context. Each task
builds its school (mappings, clients on the shared token store, ledger engine) from the run's params;
what tasks share is the ledger database, which also holds the one EnrolHQ access token.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sentral.sync import (
    Outcome,
    RunSettings,
    SyncSession,
    is_fatal,
    prepare,
    record,
    send_documents,
    send_draft,
)
from sentral.sync_setup import open_session, select_applications

log = logging.getLogger(__name__)

STEPS = {"prepare": prepare, "send_draft": send_draft, "send_documents": send_documents, "record": record}
FALLBACK_SYNCED_BY = "scheduler"
# The context key the DAG's map_index_template reads.
MAP_INDEX_KEY = "application_id"


class SyncFailedError(RuntimeError):
    """Raised by the report task, after writing the report, when any application failed."""


def _school(name: str) -> Any:
    # Built afresh for each task: connections may change between runs, and the clients share the
    # EnrolHQ access token through the ledger database anyway, so nothing costly is repeated.
    from sentral.school import open_school

    return open_school(name)


def synced_by(context: Mapping[str, Any]) -> str:
    """Who is syncing: the form's value, else the user who triggered the run, else ``scheduler``."""
    chosen = str(context["params"].get("synced_by") or "").strip()
    if chosen:
        return chosen
    user = getattr(context.get("dag_run"), "triggering_user_name", None)
    return str(user) if user else FALLBACK_SYNCED_BY


def settings_of(context: Mapping[str, Any]) -> RunSettings:
    """The run's settings from its params and context."""
    return RunSettings(
        run_id=str(context["run_id"]),
        synced_by=synced_by(context),
        dry_run=bool(context["params"].get("dry_run")),
    )


def session_of(context: Mapping[str, Any]) -> SyncSession:
    """A sync session for the run's school."""
    from sentral.dag_support import school_from_context

    return open_session(_school(school_from_context(context)), settings_of(context))


def select_for_run(context: Mapping[str, Any]) -> list[str]:
    """The application ids the run syncs."""
    session = session_of(context)
    settings = _school(session.school).config.settings
    requested = context["params"].get("application_ids") or ()
    if not requested and not settings.sync.synced_by_default:
        log.info("no applications named, and %s syncs only named applications", session.school)
        return []
    return select_applications(session, settings.eligible_statuses, requested)


def name_mapped_instance(application_id: str) -> None:
    """Let the grid name this mapped task instance by its application (the DAG's map_index_template).

    The template is rendered from the task's live context, which the task's own keyword arguments are
    only a copy of.
    """
    from airflow.sdk import get_current_context

    get_current_context()[MAP_INDEX_KEY] = application_id


def run_step(step: str, application_id: str, context: Mapping[str, Any]) -> Any:
    """Run one step of the sync for one application.

    In a dry run a ``prepare`` that meets bad data returns the reason instead of failing, so that the
    report can show it: nothing else records it.
    """
    name_mapped_instance(application_id)
    session = session_of(context)
    try:
        return STEPS[step](session, application_id)
    except Exception as exc:
        if step == "prepare" and session.settings.dry_run and is_fatal(exc):
            return {"application_id": application_id, "outcome": Outcome.FAILED, "reason": str(exc)}
        raise


def summaries(outcomes: Any) -> list[Mapping[str, Any]]:
    """The mapped tasks' summaries as a list, however Airflow handed them over.

    When some mapped instances failed, the pulled value may be a lazy sequence with gaps, a single
    summary, or nothing at all.
    """
    if outcomes is None:
        return []
    if isinstance(outcomes, Mapping):
        return [outcomes]
    return [outcome for outcome in outcomes if isinstance(outcome, Mapping)]


def report_for_run(selected: Sequence[str] | None, outcomes: Any, context: Mapping[str, Any]) -> str:
    """Write the run report; raise :class:`SyncFailedError` afterwards when any application failed.

    Returns the HTML report's path.
    """
    from sentral.sync_report import dry_run_rows, live_rows, write_sync_report

    if selected is None:
        raise SyncFailedError("choosing the applications failed, so nothing was synced; see the select task")
    session = session_of(context)
    settings = session.settings
    selected, outcomes = list(selected), summaries(outcomes)
    if settings.dry_run:
        rows = dry_run_rows(selected, outcomes)
    else:
        rows = live_rows(session.ledger, settings.run_id, selected, outcomes)
    report = write_sync_report(
        school=session.school,
        run_id=settings.run_id,
        rows=rows,
        dry_run=settings.dry_run,
        synced_by=settings.synced_by,
    )
    log.info("sync report: %s", report.files.html)
    if report.failed:
        raise SyncFailedError(
            f"{len(report.failed)} of {len(report.rows)} applications failed; see the report {report.files.html}"
        )
    return str(report.files.html)
