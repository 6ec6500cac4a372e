"""What parents changed in EnrolHQ during an interval, for students already in Sentral.

The change report is derived from EnrolHQ's audit logs alone, never from earlier runs, so the same
interval always gives the same rows: a failed run can be re-run and a missed day caught up without a
change being lost or reported twice.

Scope: applications with an external ID (the Sentral student ID). For each, the student's audit log
and the audit logs of Parent 1 and Parent 2 are read, each stream stopping at
the interval's start. Only entries made by a parent count (``updated_by.role`` in the school's
``parent_roles``); staff and system (``updated_by`` null) entries are left out. Each entry's sentences
are read by :mod:`sentral.change_parser`; what it cannot read is reported verbatim.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sentral.change_parser import ParsedChange, parse_changes

log = logging.getLogger(__name__)

# The data Sentral holds, by EnrolHQ field label: a parent's change to one of these is copied across
# by hand, so it is reported. Names, contact details, addresses, relationships, custody and living
# arrangements, medical details and emergency contacts, plus the people added or removed.
REPORTED_FIELDS = frozenset(
    {
        "Title",
        "First name",
        "Middle name",
        "Last name",
        "Preferred name",
        "Email",
        "Mobile phone",
        "Business phone",
        "Residential address",
        "Suburb",
        "State",
        "Postcode",
        "Relationship to student",
        "Parents relationship",
        "Lives with student",
        "Student resides with",
        "Custody details",
        "Doctor name",
        "Doctor phone",
        "Medicare number",
        "Medical conditions",
        "Allergies",
        "Emergency contact",
        "Occupation",
        "Employer",
        "Guardian",
        "Parent",
    }
)

# Labels deliberately left out, and why. A label in neither set is reported, marked as unknown, so a
# field EnrolHQ adds later is seen rather than silently dropped.
EXCLUDED_FIELDS: Mapping[str, str] = {
    "Application status": "EnrolHQ's own admissions stage; Sentral does not hold it",
    "Internal notes": "staff notes, not family data",
    "Entry grade": "the school decides the year level in Sentral once a student is enrolled",
    "Campus": "the school decides the campus in Sentral once a student is enrolled",
    "External ID": "the Sentral student ID itself, set by the roster import",
}

# Where every application's details are read from when the report does not trust updated_at.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AuditSource(Protocol):
    """The part of the EnrolHQ client the change report reads."""

    def iter_updated_applications(self, updated_after: datetime) -> Iterator[dict[str, Any]]: ...

    def iter_audit_log(
        self, *, student_profile: str | None = None, parent: str | None = None, since: datetime | None = None
    ) -> Iterator[dict[str, Any]]: ...


@dataclass(frozen=True)
class ChangeSettings:
    """The school's choices for the change report.

    :param parent_roles: ``updated_by.role`` values that count as a parent.
    :param locked_statuses: application statuses in which parents should no longer be able to edit;
        a change to such a student is flagged.
    :param only_updated_applications: read the audit logs only of applications whose ``updated_at``
        falls after the interval's start. Fewer calls, but correct only if EnrolHQ bumps an
        application's ``updated_at`` whenever one of its parents' records changes, which is
        **Unknown** on the real service; off by default.
    :param status_labels: display names of application statuses, by id.
    """

    parent_roles: frozenset[str] = frozenset({"parent"})
    locked_statuses: frozenset[int] = frozenset({5})
    only_updated_applications: bool = False
    status_labels: Mapping[int, str] = field(default_factory=dict)


def settings_from_config(
    config: Any, *, status_labels: Mapping[int, str] | None = None, only_updated: bool | None = None
) -> ChangeSettings:
    """The change-report settings of a school, from the ``changes`` section of its ``school.yml``.

    :param config: the school's :class:`~sentral.mappings.SchoolConfig`.
    :param status_labels: display names of application statuses, by id (from EnrolHQ).
    :param only_updated: overrides ``changes.only_updated_applications`` for one run; None keeps it.
    """
    section = config.settings.changes
    if only_updated is None:
        # Read with a default so that a school.yml written before the switch existed keeps working.
        only_updated = bool(getattr(section, "only_updated_applications", False))
    return ChangeSettings(
        parent_roles=frozenset(section.parent_roles),
        locked_statuses=frozenset(int(status) for status in section.locked_statuses),
        only_updated_applications=only_updated,
        status_labels=dict(status_labels or {}),
    )


@dataclass(frozen=True)
class Interval:
    """A half-open span of time ``[start, end)``, shown in the school's timezone.

    :param start: the first moment covered (timezone-aware).
    :param end: the first moment no longer covered (timezone-aware).
    :param timezone: the IANA name of the school's timezone.
    """

    start: datetime
    end: datetime
    timezone: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval bounds must carry a timezone")
        if self.end <= self.start:
            raise ValueError(
                f"interval ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})"
            )

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def label(self) -> str:
        """``2026-12-02`` for one whole local day, else both local bounds."""
        start, end = self.start.astimezone(self.zone), self.end.astimezone(self.zone)
        if start.time() == end.time() == time(0) and end.date() - start.date() == timedelta(days=1):
            return start.date().isoformat()
        return f"{start.isoformat(timespec='minutes')} to {end.isoformat(timespec='minutes')}"

    @property
    def stamp(self) -> str:
        """A file-name-safe name for the interval, the same on every run that covers it."""
        start, end = self.start.astimezone(self.zone), self.end.astimezone(self.zone)
        if self.label == start.date().isoformat():
            return start.date().isoformat()
        return f"{start:%Y%m%dT%H%M}_{end:%Y%m%dT%H%M}"


def local_day(day: date, timezone: str) -> Interval:
    """The whole of one calendar day in the school's timezone.

    :param day: the day.
    :param timezone: the IANA name of the school's timezone.
    """
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return Interval(start.astimezone(UTC), end.astimezone(UTC), timezone)


def day_before(moment: datetime, timezone: str) -> Interval:
    """The local calendar day before the one ``moment`` falls on: what a morning run reports.

    :param moment: when the run is due (its logical date), timezone-aware.
    :param timezone: the IANA name of the school's timezone.
    """
    return local_day(moment.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1), timezone)


def interval_from_params(start: str, end: str, timezone: str) -> Interval:
    """An interval named by a person: dates mean local midnight, times without an offset are local.

    :param start: ``YYYY-MM-DD`` or an ISO date-time; the first moment covered.
    :param end: ``YYYY-MM-DD`` or an ISO date-time; the first moment no longer covered.
    :param timezone: the IANA name of the school's timezone.
    """
    return Interval(_moment(start, timezone), _moment(end, timezone), timezone)


def _moment(text: str, timezone: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{text!r} is neither a date (YYYY-MM-DD) nor an ISO date-time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Student:
    """A student in Sentral, as the report names them.

    :param application_id: the EnrolHQ application id.
    :param name: first and last name.
    :param sentral_id: the external ID, i.e. the Sentral student ID.
    :param status: the application's status id.
    :param family_id: what groups siblings: the id of the parent with the EnrolHQ login.
    :param family: how the family is named in the report.
    """

    application_id: str
    name: str
    sentral_id: str
    status: int | None
    family_id: str
    family: str


@dataclass(frozen=True)
class Subject:
    """One audit log to read: a student's, or a parent's shared by every sibling they are parent of.

    :param kind: ``"student"`` or ``"parent"``.
    :param id: the application id or the parent id, as the audit log is filtered by.
    :param record: whose record changed, as the report says it (``"Student"``, ``"Parent 2 Jo Lee"``).
    :param students: the students in Sentral the record belongs to.
    """

    kind: str
    id: str
    record: str
    students: tuple[Student, ...]


@dataclass(frozen=True)
class Change:
    """One change sentence of one parent's audit entry.

    :param subject: whose audit log it is in.
    :param entry_id: the audit entry's id.
    :param at: when the entry was made (UTC).
    :param by: the parent's name as the audit log gives it.
    :param parsed: the sentence, read.
    :param position: the sentence's place in its entry, to keep the entry's order.
    """

    subject: Subject
    entry_id: str
    at: datetime
    by: str
    parsed: ParsedChange
    position: int

    @property
    def field_known(self) -> bool:
        return self.parsed.field in REPORTED_FIELDS


@dataclass
class Collection:
    """The changes of one interval and what was read to find them."""

    changes: list[Change]
    counts: Counter[str]


def collect_changes(client: AuditSource, settings: ChangeSettings, interval: Interval) -> Collection:
    """Every parent change in ``interval`` to a student in Sentral or to one of their parents.

    :param client: the EnrolHQ client.
    :param settings: the school's change-report settings.
    :param interval: the span of time to report.
    """
    counts: Counter[str] = Counter()
    applications = synced_applications(client, settings, interval)
    subjects = subjects_of(applications)
    counts["applications"] = len(applications)
    counts["audit logs"] = len(subjects)
    changes = [
        change for subject in subjects for change in read_subject(client, subject, interval, settings, counts)
    ]
    log.info(
        "change report %s: %s applications, %s audit logs, %s entries read, %s changes by parents",
        interval.label,
        len(applications),
        len(subjects),
        counts["entries read"],
        len(changes),
    )
    return Collection(changes, counts)


def synced_applications(
    client: AuditSource, settings: ChangeSettings, interval: Interval
) -> list[dict[str, Any]]:
    """The details of every application with an external ID whose audit logs need reading.

    Details come from the ``applications/?updated_after=`` list, a hundred to a call, rather than one
    call per application. With ``only_updated_applications`` the list starts at the interval's start;
    otherwise at the epoch, so every application is read.
    """
    after = interval.start if settings.only_updated_applications else _EPOCH
    return [app for app in client.iter_updated_applications(updated_after=after) if app.get("external_id")]


def subjects_of(applications: Iterable[Mapping[str, Any]]) -> list[Subject]:
    """One subject per student and one per parent, a parent of siblings only once.

    :param applications: application details (``applications/{id}`` shape).
    """
    students: list[Subject] = []
    parents: dict[str, tuple[str, list[Student]]] = {}
    for app in sorted(applications, key=lambda a: str(a["id"])):
        student = _student(app)
        students.append(Subject("student", student.application_id, "Student", (student,)))
        for role, person in _carers(app):
            _record, linked = parents.setdefault(str(person["id"]), (f"{role} {_full_name(person)}", []))
            linked.append(student)
    return students + [
        Subject("parent", parent_id, record, tuple(linked)) for parent_id, (record, linked) in parents.items()
    ]


def _student(app: Mapping[str, Any]) -> Student:
    carer = app.get("user_parent") or {}
    family_id = str(carer.get("id") or app["id"])
    names = [_full_name(p) for p in (app.get("user_parent"), app.get("non_user_parent")) if p]
    status = app.get("application_status")
    if status is None:
        status = (app.get("progress") or {}).get("status")
    return Student(
        application_id=str(app["id"]),
        name=_full_name(app),
        sentral_id=str(app["external_id"]),
        status=int(status) if status is not None else None,
        family_id=family_id,
        family=" & ".join(names) or _full_name(app),
    )


def _carers(app: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if app.get("user_parent"):
        yield "Parent 1", app["user_parent"]
    if app.get("non_user_parent"):
        yield "Parent 2", app["non_user_parent"]
    # Guardians are not read: EnrolHQ keeps them on the application, so adding, removing or editing
    # one is logged in the student's audit log. Whether a guardian also has a log of their own is
    # Unknown; reading one would cost a call per guardian per day.


def _full_name(person: Mapping[str, Any]) -> str:
    return " ".join(str(part) for part in (person.get("first_name"), person.get("last_name")) if part)


def read_subject(
    client: AuditSource, subject: Subject, interval: Interval, settings: ChangeSettings, counts: Counter[str]
) -> Iterator[Change]:
    """The parent changes in one audit log during ``interval``.

    :param counts: tallies of what was read and left out, updated in place.
    """
    filter_by = {"student_profile": subject.id} if subject.kind == "student" else {"parent": subject.id}
    for entry in client.iter_audit_log(**filter_by, since=interval.start):
        counts["entries read"] += 1
        at = _entry_time(entry)
        if at not in interval:
            continue
        author = entry.get("updated_by")
        if not author or author.get("role") not in settings.parent_roles:
            counts["entries by staff or the system"] += 1
            continue
        for position, parsed in enumerate(parse_changes(entry.get("changes"))):
            if parsed.field in EXCLUDED_FIELDS:
                counts[f"excluded: {parsed.field}"] += 1
                continue
            yield Change(
                subject, str(entry.get("id", "")), at, str(author.get("full_name") or ""), parsed, position
            )


def _entry_time(entry: Mapping[str, Any]) -> datetime:
    moment = datetime.fromisoformat(str(entry["updated_at"]))
    if moment.tzinfo is None:
        # EnrolHQ's timestamps carry an offset; one without is read as UTC rather than guessed local.
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
