"""Which audit entries become changes: scope, interval, who counts as a parent, which fields count."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from sentral.change_parser import Action
from sentral.changes import (
    ChangeSettings,
    collect_changes,
    day_before,
    interval_from_params,
    local_day,
    subjects_of,
)

SYDNEY = "Australia/Sydney"
DAY = local_day(date(2026, 12, 2), SYDNEY)
_ids = itertools.count(1)


def person(first: str, last: str) -> dict:
    return {"id": f"p{next(_ids)}", "first_name": first, "last_name": last}


def application(first: str, last: str, *, external_id: str | None, parent1: dict, **extra) -> dict:
    return {
        "id": f"a{next(_ids)}",
        "first_name": first,
        "last_name": last,
        "external_id": external_id,
        "application_status": extra.pop("status", 4),
        "user_parent": parent1,
        "non_user_parent": extra.pop("parent2", None),
        "guardians": extra.pop("guardians", []),
        **extra,
    }


def entry(at: datetime, *sentences: str, role: str | None = "parent", by: str = "Jo Lee") -> dict:
    author = None if role is None else {"id": 9, "full_name": by, "role": role}
    return {"id": next(_ids), "changes": list(sentences), "updated_at": at.isoformat(), "updated_by": author}


class FakeEnrolHQ:
    """The two calls the report makes, answered from memory, newest entry first, stopping at ``since``."""

    def __init__(self, applications: list[dict], logs: dict[tuple[str, str], list[dict]]) -> None:
        self.applications = applications
        self.logs = logs
        self.audit_reads: list[tuple[str, str]] = []
        self.updated_after: list[datetime] = []

    def iter_updated_applications(self, updated_after):
        self.updated_after.append(updated_after)
        return iter(self.applications)

    def iter_audit_log(self, *, student_profile=None, parent=None, since=None):
        key = ("student", student_profile) if student_profile else ("parent", parent)
        self.audit_reads.append(key)
        entries = sorted(self.logs.get(key, []), key=lambda e: e["updated_at"], reverse=True)
        for item in entries:
            if since is not None and datetime.fromisoformat(item["updated_at"]) < since:
                return
            yield item


def during(hours: float) -> datetime:
    return DAY.start + timedelta(hours=hours)


def test_day_before_a_morning_run_is_the_previous_local_calendar_day():
    interval = day_before(datetime(2026, 12, 3, 6, 0, tzinfo=UTC).astimezone(UTC), SYDNEY)

    assert (interval.start, interval.end) == (
        datetime(2026, 12, 1, 13, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 13, 0, tzinfo=UTC),
    )


def test_local_day_across_daylight_saving_start_is_23_hours_long():
    interval = local_day(date(2026, 10, 4), SYDNEY)

    assert interval.end - interval.start == timedelta(hours=23)


def test_interval_named_by_dates_runs_from_local_midnight_to_local_midnight():
    interval = interval_from_params("2026-12-02", "2026-12-03", SYDNEY)

    assert (interval.start, interval.end, interval.label) == (DAY.start, DAY.end, "2026-12-02")


def test_interval_named_by_times_with_an_offset_keeps_the_offset():
    interval = interval_from_params("2026-12-02T09:00:00+00:00", "2026-12-02T10:00:00+00:00", SYDNEY)

    assert interval.start == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_interval_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="before it starts"):
        interval_from_params("2026-12-03", "2026-12-02", SYDNEY)


def test_interval_with_unreadable_bound_names_the_value():
    with pytest.raises(ValueError, match="yesterday"):
        interval_from_params("yesterday", "2026-12-02", SYDNEY)


def test_parent_edit_to_a_synced_student_is_collected_with_field_old_and_new():
    app = application("Ava", "Lee", external_id="S100", parent1=person("Jo", "Lee"))
    client = FakeEnrolHQ(
        [app], {("student", app["id"]): [entry(during(9), 'Changed Allergies from "" to "Eggs"')]}
    )

    changes = collect_changes(client, ChangeSettings(), DAY).changes

    assert [(c.subject.id, c.parsed.field, c.parsed.old, c.parsed.new) for c in changes] == [
        (app["id"], "Allergies", "", "Eggs")
    ]


def test_staff_and_system_entries_are_left_out():
    app = application("Ava", "Lee", external_id="S100", parent1=person("Jo", "Lee"))
    logs = {
        ("student", app["id"]): [
            entry(during(9), 'Set Doctor name to "Dr A"', role="staff"),
            entry(during(10), 'Set Doctor phone to "02 1"', role=None),
            entry(during(11), 'Set Medicare number to "123"'),
        ]
    }

    changes = collect_changes(FakeEnrolHQ([app], logs), ChangeSettings(), DAY).changes

    assert [c.parsed.field for c in changes] == ["Medicare number"]


def test_roles_that_count_as_parents_come_from_the_settings():
    app = application("Ava", "Lee", external_id="S100", parent1=person("Jo", "Lee"))
    logs = {("student", app["id"]): [entry(during(9), 'Set Doctor name to "Dr A"', role="carer")]}
    settings = ChangeSettings(parent_roles=frozenset({"parent", "carer"}))

    changes = collect_changes(FakeEnrolHQ([app], logs), settings, DAY).changes

    assert len(changes) == 1


def test_entries_outside_the_interval_are_left_out():
    app = application("Ava", "Lee", external_id="S100", parent1=person("Jo", "Lee"))
    logs = {
        ("student", app["id"]): [
            entry(DAY.start - timedelta(seconds=1), 'Set Suburb to "Before"'),
            entry(DAY.start, 'Set Suburb to "First moment"'),
            entry(DAY.end - timedelta(seconds=1), 'Set Suburb to "Last moment"'),
            entry(DAY.end, 'Set Suburb to "Next day"'),
        ]
    }

    changes = collect_changes(FakeEnrolHQ([app], logs), ChangeSettings(), DAY).changes

    assert sorted(c.parsed.new for c in changes) == ["First moment", "Last moment"]


def test_application_without_external_id_is_not_read():
    synced = application("Ava", "Lee", external_id="S100", parent1=person("Jo", "Lee"))
    unsynced = application("Max", "Roe", external_id=None, parent1=person("Al", "Roe"))
    client = FakeEnrolHQ([synced, unsynced], {})

    collect_changes(client, ChangeSettings(), DAY)

    assert {subject_id for _kind, subject_id in client.audit_reads} == {
        synced["id"],
        synced["user_parent"]["id"],
    }


def test_parent_of_two_synced_siblings_is_read_once_and_names_both():
    mum = person("Jo", "Lee")
    older = application("Ava", "Lee", external_id="S100", parent1=mum)
    younger = application("Ben", "Lee", external_id="S101", parent1=mum)
    logs = {("parent", mum["id"]): [entry(during(9), 'Changed Mobile phone from "0400" to "0411"')]}
    client = FakeEnrolHQ([older, younger], logs)

    changes = collect_changes(client, ChangeSettings(), DAY).changes

    assert client.audit_reads.count(("parent", mum["id"])) == 1
    assert [sorted(s.sentral_id for s in c.subject.students) for c in changes] == [["S100", "S101"]]


def test_both_parents_are_read_and_guardians_are_left_to_the_student_log():
    app = application(
        "Ava",
        "Lee",
        external_id="S100",
        parent1=person("Jo", "Lee"),
        parent2=person("Sam", "Lee"),
        guardians=[person("Nan", "Lee")],
    )

    subjects = subjects_of([app])

    assert [s.record for s in subjects] == [
        "Student",
        "Parent 1 Jo Lee",
        "Parent 2 Sam Lee",
    ]


def test_excluded_labels_are_left_out_and_counted():
    app = application("Ava", "Lee", external_id="S100", parent1=person("Jo", "Lee"))
    logs = {("student", app["id"]): [entry(during(9), 'Changed Campus from "North" to "South"')]}

    collection = collect_changes(FakeEnrolHQ([app], logs), ChangeSettings(), DAY)

    assert (collection.changes, collection.counts["excluded: Campus"]) == ([], 1)


def test_unrecognised_sentence_and_unknown_label_are_kept():
    app = application("Ava", "Lee", external_id="S100", parent1=person("Jo", "Lee"))
    logs = {("student", app["id"]): [entry(during(9), "Uploaded a photo", 'Set Shoe size to "4"')]}

    changes = collect_changes(FakeEnrolHQ([app], logs), ChangeSettings(), DAY).changes

    assert [(c.parsed.action, c.field_known) for c in changes] == [
        (Action.UNRECOGNISED, False),
        (Action.SET, False),
    ]


def test_by_default_every_synced_application_is_read_whatever_its_updated_at():
    client = FakeEnrolHQ([], {})

    collect_changes(client, ChangeSettings(), DAY)

    assert client.updated_after == [datetime(1970, 1, 1, tzinfo=UTC)]


def test_trusting_updated_at_reads_only_applications_updated_since_the_interval_start():
    client = FakeEnrolHQ([], {})

    collect_changes(client, ChangeSettings(only_updated_applications=True), DAY)

    assert client.updated_after == [DAY.start]


def test_settings_come_from_the_school_configuration():
    from sentral.changes import settings_from_config
    from sentral.mappings import load_school

    settings = settings_from_config(load_school("demo"), status_labels={5: "Community"})

    assert (settings.parent_roles, settings.locked_statuses, settings.only_updated_applications) == (
        frozenset({"parent"}),
        frozenset({5}),
        False,
    )


def test_run_can_switch_on_reading_only_updated_applications():
    from sentral.changes import settings_from_config
    from sentral.mappings import load_school

    assert settings_from_config(load_school("demo"), only_updated=True).only_updated_applications is True
