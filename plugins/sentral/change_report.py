"""The daily parent-changes report: rows grouped by family then student, its files, its e-mail.

Rows come from :func:`sentral.changes.collect_changes`. Each says whose record changed, who changed it
and when (school time), and the field's old and new value; a change overwritten later the same day is
listed with the later one, marked, so staff see both steps and copy the last. The report run is
recorded in the ledger database (interval covered, where the files are, how many rows), replacing the
record of an earlier run of the same interval, since a re-run gives the same rows.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sentral.change_parser import Action
from sentral.changes import (
    EXCLUDED_FIELDS,
    Change,
    ChangeSettings,
    Collection,
    Interval,
    Student,
    collect_changes,
    day_before,
    interval_from_params,
    settings_from_config,
)
from sentral.reports import ReportFiles, write_report
from sentral.state import metadata

log = logging.getLogger(__name__)

KIND = "parent-changes"

COLUMNS: Sequence[tuple[str, str]] = (
    ("family", "Family"),
    ("student", "Student"),
    ("sentral_id", "Sentral ID"),
    ("record", "Record"),
    ("changed_at", "Changed at"),
    ("changed_by", "Changed by"),
    ("field", "Field"),
    ("old", "Old value"),
    ("new", "New value"),
    ("later", "Later the same day"),
    ("flag", "Check"),
    ("logged_as", "As logged"),
)

GROUP_BY = ("family", "student")

# extend_existing: Airflow's plugin loader also executes this file under another module name, and both
# copies declare the table on the one shared metadata.
report_runs = sa.Table(
    "change_report_run",
    metadata,
    sa.Column("school", sa.String(100), primary_key=True),
    sa.Column("interval_start", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("interval_end", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("html_path", sa.Text, nullable=False),
    sa.Column("csv_path", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(250)),
    sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
    extend_existing=True,
)


def report_rows(collection: Collection, settings: ChangeSettings, interval: Interval) -> list[dict[str, str]]:
    """The report's rows, sorted by family, student, time and the order within each audit entry.

    :param collection: the interval's changes.
    :param settings: the school's settings (locked statuses and their labels).
    :param interval: the interval reported; its timezone is the one times are shown in.
    """
    ordered = sorted(collection.changes, key=lambda c: (*_group_key(c), c.at, c.entry_id, c.position))
    later = _overwritten(ordered, interval)
    return [_row(change, later.get(id(change), ""), settings, interval) for change in ordered]


def _group_key(change: Change) -> tuple[object, ...]:
    first = change.subject.students[0]
    # The student's own record first, then each parent's; the family id keeps namesakes apart.
    return (
        first.family,
        first.family_id,
        _student_cell(change.subject.students),
        change.subject.kind != "student",
        change.subject.record,
        change.subject.id,
    )


def _overwritten(ordered: Sequence[Change], interval: Interval) -> dict[int, str]:
    # A value changed twice in a local day keeps both rows, and the earlier one points at the later.
    # People added or removed are matched by name: adding someone then removing them is two steps.
    steps: dict[tuple[object, ...], list[Change]] = defaultdict(list)
    for change in ordered:
        parsed = change.parsed
        if not parsed.recognised:
            continue
        day = change.at.astimezone(interval.zone).date()
        person = parsed.new or parsed.old if parsed.action in _MEMBER_ACTIONS else None
        steps[(change.subject.kind, change.subject.id, parsed.field, person, day)].append(change)
    notes: dict[int, str] = {}
    for changes in steps.values():
        for earlier, following in itertools.pairwise(changes):
            notes[id(earlier)] = _later_step(following, interval)
    return notes


_MEMBER_ACTIONS = (Action.ADDED, Action.REMOVED)


def _later_step(following: Change, interval: Interval) -> str:
    when = following.at.astimezone(interval.zone).strftime("%H:%M")
    parsed = following.parsed
    if parsed.action in _MEMBER_ACTIONS:
        return f"{parsed.action.value} again at {when}"
    if not parsed.new:
        return f"cleared at {when}"
    return f'changed again at {when}, to "{parsed.new}"'


def _row(change: Change, later: str, settings: ChangeSettings, interval: Interval) -> dict[str, str]:
    students = change.subject.students
    parsed = change.parsed
    return {
        "family": students[0].family,
        "student": _student_cell(students),
        "sentral_id": "; ".join(s.sentral_id for s in students),
        "record": change.subject.record,
        "changed_at": change.at.astimezone(interval.zone).strftime("%Y-%m-%d %H:%M"),
        "changed_by": change.by,
        "field": parsed.field or "",
        "old": parsed.old or "",
        "new": parsed.new or "",
        "later": later,
        "flag": _flag(change, settings),
        "logged_as": "" if parsed.recognised and change.field_known else parsed.sentence,
    }


def _student_cell(students: Sequence[Student]) -> str:
    return "; ".join(f"{s.name} ({s.sentral_id})" for s in students)


def _flag(change: Change, settings: ChangeSettings) -> str:
    flags = []
    if change.parsed.action is Action.UNRECOGNISED:
        flags.append("not understood: read the logged text")
    elif not change.field_known:
        flags.append("field not on the report's list: check whether Sentral holds it")
    locked = [s for s in change.subject.students if s.status in settings.locked_statuses]
    for student in locked:
        status = settings.status_labels.get(student.status, f"status {student.status}")
        flags.append(f"{student.name} is in {status}, where parents should no longer be able to edit")
    return "; ".join(flags)


def write_change_report(
    school: str,
    collection: Collection,
    settings: ChangeSettings,
    interval: Interval,
    *,
    out_dir: str | Path | None = None,
) -> tuple[ReportFiles, int]:
    """Write the interval's report as HTML and CSV; return the files and the number of rows.

    Files are named after the interval, so a re-run of it replaces its report rather than adding one.

    :param school: the school key.
    :param collection: the interval's changes.
    :param settings: the school's change-report settings.
    :param interval: the interval reported.
    :param out_dir: a folder to write to instead of the reports folder.
    """
    rows = report_rows(collection, settings, interval)
    files = write_report(
        kind=KIND,
        school=school,
        title=f"Parent changes to copy into Sentral: {interval.label}",
        columns=COLUMNS,
        rows=rows,
        summary=_summary(collection, rows, interval),
        notes=_notes(rows, interval),
        group_by=GROUP_BY,
        out_dir=out_dir,
        stamp=interval.stamp,
    )
    return files, len(rows)


def _summary(collection: Collection, rows: Sequence[dict[str, str]], interval: Interval) -> dict[str, object]:
    counts = collection.counts
    return {
        "Interval": interval.label,
        "Students in Sentral read": counts["applications"],
        "Audit logs read": counts["audit logs"],
        "Changes by parents": len(rows),
        "Families": len({row["family"] for row in rows}),
        "Not understood": sum(1 for row in rows if row["logged_as"]),
        "To check": sum(1 for row in rows if row["flag"]),
    }


def _notes(rows: Sequence[dict[str, str]], interval: Interval) -> list[str]:
    zone = interval.zone
    span = (
        f"Covers {interval.start.astimezone(zone):%Y-%m-%d %H:%M} to {interval.end.astimezone(zone):%Y-%m-%d %H:%M} "
        f"({interval.timezone} time), for students whose application has a Sentral ID."
    )
    notes = [span]
    if not rows:
        notes.append("No parent changed anything that Sentral holds during this interval.")
    notes.append(
        "Only changes made by parents are listed; staff and system changes are not. Left out on purpose: "
        + "; ".join(f"{label} ({why})" for label, why in EXCLUDED_FIELDS.items())
        + "."
    )
    notes.append(
        "A row with a note under 'Later the same day' was changed again that day: copy the last value."
    )
    return notes


def record_run(
    engine: sa.Engine, school: str, interval: Interval, files: ReportFiles, rows: int, run_id: str | None
) -> None:
    """Record that the interval's report was written, replacing an earlier record of the same interval.

    :param engine: the ledger database.
    :param run_id: the Airflow run that wrote it.
    """
    key = (
        (report_runs.c.school == school)
        & (report_runs.c.interval_start == interval.start)
        & (report_runs.c.interval_end == interval.end)
    )
    with engine.begin() as conn:
        conn.execute(sa.delete(report_runs).where(key))
        conn.execute(
            sa.insert(report_runs).values(
                school=school,
                interval_start=interval.start,
                interval_end=interval.end,
                html_path=str(files.html),
                csv_path=str(files.csv),
                rows=rows,
                run_id=run_id,
                written_at=datetime.now(UTC),
            )
        )


def email_report(
    files: ReportFiles, *, school: str, interval: Interval, rows: int, to: Sequence[str], smtp_conn_id: str
) -> None:
    """Send the report's two files to ``to`` through Airflow's SMTP connection.

    The message body carries only counts; the names are in the attached files.

    :param to: the recipients' addresses.
    :param smtp_conn_id: the Airflow connection of the mail server.
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    subject = f"Parent changes to copy into Sentral: {school}, {interval.label} ({rows} changes)"
    body = (
        f"<p>{rows} parent changes for {school} during {interval.label}. "
        "The attached report lists them by family and student.</p>"
    )
    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        hook.send_email_smtp(
            to=list(to), subject=subject, html_content=body, files=[str(files.html), str(files.csv)]
        )
    log.info("change report for %s %s e-mailed to %s recipients", school, interval.label, len(to))


def produce_report(
    school_name: str,
    *,
    due: datetime,
    interval_start: str | None = None,
    interval_end: str | None = None,
    only_updated: bool | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Collect, write and record one interval's report for one school: the DAG's report task.

    :param school_name: the school key.
    :param due: when the run is due (its logical date); with no interval named, the report covers
        the school's local calendar day before it.
    :param interval_start: the first moment to report (``YYYY-MM-DD`` or ISO date-time), with
        ``interval_end``; both or neither.
    :param interval_end: the first moment no longer reported.
    :param only_updated: overrides the school's ``only_updated_applications`` for this run.
    :param run_id: the Airflow run, kept with the record of the report.
    :returns: what the e-mail task needs, JSON-ready: the interval, both file paths, the row count,
        the recipients and the SMTP connection.
    """
    from sentral.school import open_school

    school = open_school(school_name)
    interval = pick_interval(school.config.settings.timezone, due, interval_start, interval_end)
    client = school.enrolhq
    labels = {int(status["id"]): str(status["label"]) for status in client.status_settings()}
    settings = settings_from_config(school.config, status_labels=labels, only_updated=only_updated)

    collection = collect_changes(client, settings, interval)
    files, rows = write_change_report(school.name, collection, settings, interval)
    record_run(school.engine, school.name, interval, files, rows, run_id)

    section = school.config.settings.changes
    return {
        "school": school.name,
        "interval": interval.label,
        "interval_start": interval.start.isoformat(),
        "interval_end": interval.end.isoformat(),
        "timezone": interval.timezone,
        "html": str(files.html),
        "csv": str(files.csv),
        "rows": rows,
        "email_to": list(section.email_to),
        "smtp_conn_id": section.smtp_conn_id,
    }


def pick_interval(timezone: str, due: datetime, start: str | None, end: str | None) -> Interval:
    """The interval a run reports: the one named, else the local day before ``due``.

    :param timezone: the school's timezone.
    :param due: when the run is due.
    :param start: the named start, or None.
    :param end: the named end, or None.
    """
    if bool(start) != bool(end):
        raise ValueError("name both interval_start and interval_end, or neither for the day before the run")
    if start and end:
        return interval_from_params(start, end, timezone)
    return day_before(due, timezone)


def email_if_configured(outcome: dict[str, Any]) -> bool:
    """E-mail the report written by :func:`produce_report` when the school names recipients.

    :param outcome: what :func:`produce_report` returned.
    :returns: whether a message was sent.
    """
    if not outcome["email_to"]:
        log.info(
            "change report for %s %s not e-mailed: no recipients in changes.email_to",
            outcome["school"],
            outcome["interval"],
        )
        return False
    interval = Interval(
        datetime.fromisoformat(outcome["interval_start"]),
        datetime.fromisoformat(outcome["interval_end"]),
        outcome["timezone"],
    )
    files = ReportFiles(Path(outcome["html"]), Path(outcome["csv"]))
    email_report(
        files,
        school=outcome["school"],
        interval=interval,
        rows=outcome["rows"],
        to=outcome["email_to"],
        smtp_conn_id=outcome["smtp_conn_id"],
    )
    return True
