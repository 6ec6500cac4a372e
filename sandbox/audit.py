"""Generates EnrolHQ audit logs that agree with the records they describe.

Edits are made walking backwards in time from each record's current values: the newest edit's new
value is what the record holds now, and its old value is what the next-older edit changes into. So
every chain of sentences ends in the record's present state, and a parser's output can be checked
against ``truth["audit_edits"]``.
"""

from __future__ import annotations

import copy
import random
from datetime import date, datetime, time, timedelta

from sandbox import names
from sandbox.families import STAFF, TIMEZONE
from sandbox.lookups import ENROLHQ_CAMPUSES, GRADE_LABELS, STATUS_LABELS
from sandbox.sentences import (
    EMERGENCY_CONTACT,
    INTERNAL_NOTES,
    PARENT_LABELS,
    STUDENT_LABELS,
    change_sentence,
    get_path,
    is_empty,
    member_sentence,
    set_path,
    show,
)

OPTIONAL = {
    "title",
    "preferred_name",
    "middle_name",
    "custody_details",
    "business_phone",
    "medical_data.doctor_phone",
    "medical_data.medicare_number",
    "medical_data.conditions",
    "medical_data.allergies",
    "@internal_notes",
}
VIRTUAL_LABELS = {"@emergency_contact": EMERGENCY_CONTACT, "@internal_notes": INTERNAL_NOTES}
POOLS = {
    ("student_profile", "parent"): [
        "preferred_name",
        "middle_name",
        "residential_address.street_address",
        "residential_address.suburb",
        "residential_address.postcode",
        "student_resides_with",
        "custody_details",
        "parents_relationship",
        "medical_data.doctor_name",
        "medical_data.doctor_phone",
        "medical_data.medicare_number",
        "medical_data.conditions",
        "medical_data.allergies",
        "@emergency_contact",
        "+emergency contact",
        "+guardian",
    ],
    ("student_profile", "staff"): [
        "first_name",
        "last_name",
        "entry_grade",
        "campus",
        "application_status",
        "@internal_notes",
        "+parent",
    ],
    ("student_profile", None): ["application_status"],
    ("parent", "parent"): [p for p in PARENT_LABELS if p != "title"],
    ("parent", "staff"): ["email", "mobile_phone", "title"],
}


_ALL_CHILD_NAMES = names.GIRLS + names.BOYS
_FIRST_NAMES = _ALL_CHILD_NAMES + names.ADULT_WOMEN
_NICKNAMES = list(names.NICKNAMES.values())
_FRESH = {
    "first_name": lambda rng: rng.choice(_FIRST_NAMES),
    "last_name": lambda rng: rng.choice(names.SURNAMES),
    "preferred_name": lambda rng: rng.choice(_NICKNAMES),
    "middle_name": lambda rng: rng.choice(_ALL_CHILD_NAMES),
    "title": lambda rng: rng.choice(["Mr", "Mrs", "Ms", "Dr", "Mx", "Miss"]),
    "street_address": lambda rng: f"{rng.randint(1, 300)} {rng.choice(names.STREETS)}",
    "suburb": lambda rng: rng.choice(names.SUBURBS)[0],
    "state": lambda rng: rng.choice(["NSW", "VIC", "QLD", "ACT"]),
    "postcode": lambda rng: str(rng.randint(2000, 2999)),
    "student_resides_with": lambda rng: rng.choice(
        ["both_parents", "parent_1", "parent_2", "shared", "other"]
    ),
    "parents_relationship": lambda rng: rng.choice(["together", "separated", "other"]),
    "custody_details": lambda rng: rng.choice(["Week about", "Mother has sole custody", "Orders pending"]),
    "doctor_name": lambda rng: rng.choice(names.DOCTORS),
    "medicare_number": lambda rng: (
        f"{rng.randint(2000, 6999)} {rng.randint(10000, 99999)} {rng.randint(1, 9)}"
    ),
    "conditions": lambda rng: sorted(rng.sample(names.CONDITIONS, rng.randint(1, 2))),
    "allergies": lambda rng: sorted(rng.sample(names.ALLERGIES, rng.randint(1, 2))),
    "entry_grade": lambda rng: rng.choice(list(GRADE_LABELS.values())),
    "campus": lambda rng: rng.choice(ENROLHQ_CAMPUSES),
    "application_status": lambda rng: rng.choice(list(STATUS_LABELS.values())),
    "email": lambda rng: f"family{rng.randint(100, 999)}@example.net",
    "relationship_to_student": lambda rng: rng.choice(
        ["Mother", "Father", "Parent", "Stepmother", "Stepfather"]
    ),
    "lives_with_student": lambda rng: rng.random() < 0.5,
    "occupation": lambda rng: rng.choice(names.OCCUPATIONS),
    "employer": lambda rng: rng.choice(names.EMPLOYERS),
    "@internal_notes": lambda rng: rng.choice(names.INTERNAL_NOTES),
    "@emergency_contact": lambda rng: f"{rng.choice(names.ADULT_MEN)} {rng.choice(names.SURNAMES)}",
}


def _fresh_value(rng: random.Random, path: str) -> object:
    """A plausible value for ``path`` (a field, or a virtual field such as ``@internal_notes``)."""
    leaf = path.rsplit(".", 1)[-1]
    if leaf.endswith("phone"):
        return f"04{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}"
    return _FRESH[leaf](rng)


def _instant(iso: str) -> datetime:
    # Offsets change with daylight saving, so ISO strings do not sort as instants do.
    return datetime.fromisoformat(iso)


def full_name(person: dict) -> str:
    return f"{person['first_name']} {person['last_name']}"


class SubjectWalk:
    """The backwards walk over one subject's entries, holding the values as they were at each point."""

    def __init__(self, rng: random.Random, kind: str, record: dict, virtual: dict, members: dict) -> None:
        self.rng = rng
        self.kind = kind
        self.current = copy.deepcopy(record)
        if kind == "student_profile":
            self.current["application_status"] = STATUS_LABELS[record["application_status"]]
        self.virtual = dict(virtual)
        self.members = {k: list(v) for k, v in members.items()}

    def label(self, field: str) -> str:
        if field in VIRTUAL_LABELS:
            return VIRTUAL_LABELS[field]
        return (STUDENT_LABELS if self.kind == "student_profile" else PARENT_LABELS)[field]

    def value(self, field: str) -> object:
        return self.virtual.get(field) if field.startswith("@") else get_path(self.current, field)

    def assign(self, field: str, value: object) -> None:
        if field.startswith("@"):
            self.virtual[field] = value
        else:
            set_path(self.current, field, value)

    def step(self, field: str, action: str | None = None, name: str | None = None) -> dict | None:
        """Undo one edit of ``field``; returns the edit (label, action, old, new, sentence) or None."""
        if field.startswith("+"):
            return self.member_step(field[1:], action, name)
        new = self.value(field)
        optional = field in OPTIONAL
        if action is None:
            if is_empty(new):
                action = "cleared" if optional else None
            else:
                action = "set" if optional and self.rng.random() < 0.2 else "changed"
        if action is None:
            return None
        old = self.empty_like(new) if action == "set" else self.fresh(field, new)
        self.assign(field, old)
        label = self.label(field)
        return {
            "field": label,
            "action": action,
            "old": show(old) or None,
            "new": show(new) or None,
            "sentence": change_sentence(label, old, new),
        }

    def member_step(self, kind: str, action: str | None, name: str | None) -> dict:
        present = self.members.setdefault(kind, [])
        if action is None:
            action = "added" if present and self.rng.random() < 0.5 else "removed"
        if action == "added":
            name = name or (present[0] if present else _fresh_value(self.rng, "@emergency_contact"))
            if name in present:
                present.remove(name)
        else:
            name = name or _fresh_value(self.rng, "@emergency_contact")
            present.append(name)
        added = action == "added"
        return {
            "field": kind,
            "action": action,
            "old": None if added else name,
            "new": name if added else None,
            "sentence": member_sentence(added, kind, name),
        }

    @staticmethod
    def empty_like(value: object) -> object:
        return [] if isinstance(value, list) else ""

    def fresh(self, field: str, current: object) -> object:
        for _ in range(20):
            candidate = _fresh_value(self.rng, field)
            if candidate != current:
                return candidate
        return f"{show(current)} (earlier)"


class AuditWriter:
    """Collects audit entries for every subject and the structured edits behind them."""

    def __init__(self, rng: random.Random, as_of: date, audit_days: int) -> None:
        self.rng = rng
        self.as_of = as_of
        self.audit_days = audit_days
        self.logs: list[dict] = []
        self.edits: list[dict] = []

    def random_times(self, kind: str) -> list[tuple[datetime, str | None]]:
        roles: list[str | None] = (
            ["parent", "staff", None] if kind == "student_profile" else ["parent", "staff"]
        )
        weights = [55, 35, 10] if kind == "student_profile" else [80, 20]
        times = []
        for days_back in range(1, self.audit_days + 1):
            day = self.as_of - timedelta(days=days_back)
            for _ in range(self.rng.choices([0, 1, 2], [40, 35, 25])[0]):
                at = datetime.combine(day, time(self.rng.randint(7, 21), self.rng.randint(0, 59)), TIMEZONE)
                times.append((at, self.rng.choices(roles, weights)[0]))
        return times

    def subject(
        self,
        kind: str,
        subject_id: object,
        record: dict,
        app_ids: list[str],
        actors: dict,
        *,
        forced: list[tuple] = (),
        skip_days: set[date] = frozenset(),
    ) -> None:
        """Writes the log of one subject.

        :param kind: ``student_profile`` or ``parent``.
        :param record: the subject's present values (an application, or a parent).
        :param actors: ``{"parent": [updated_by candidates]}`` for parent-made edits.
        :param forced: ``(datetime, role, [(field, action, name), ...])`` entries that must appear.
        :param skip_days: days on which no random entries are made (the forced ones own them).
        """
        virtual, members = {}, {}
        if kind == "student_profile":
            contacts = record["emergency_contacts"]
            virtual = {
                "@emergency_contact": full_name(contacts[0]) if contacts else "",
                "@internal_notes": self.rng.choice(names.INTERNAL_NOTES),
            }
            members = {
                "emergency contact": [full_name(c) for c in contacts],
                "guardian": [full_name(g) for g in record["guardians"]],
                "parent": [full_name(record["non_user_parent"])] if record["non_user_parent"] else [],
            }
        walk = SubjectWalk(self.rng, kind, record, virtual, members)
        planned = [(at, role, None) for at, role in self.random_times(kind) if at.date() not in skip_days]
        planned += [(at, role, specs) for at, role, specs in forced]
        planned.sort(key=lambda item: item[0], reverse=True)
        entries = []
        for at, role, specs in planned:
            if specs is None:
                pool = POOLS[(kind, role)]
                count = min(len(pool), self.rng.choice([1, 1, 2]))
                specs = [(field, None, None) for field in self.rng.sample(pool, count)]
            changes = [edit for field, action, name in specs if (edit := walk.step(field, action, name))]
            if not changes:
                continue
            actor = self.actor(role, actors)
            entries.append(
                {
                    "changes": [c["sentence"] for c in changes],
                    "updated_at": at.isoformat(),
                    "updated_by": actor,
                }
            )
            for change in changes:
                self.edits.append(
                    {
                        "subject": kind,
                        "subject_id": subject_id,
                        "application_id": app_ids[0],
                        "application_ids": app_ids,
                        "at": at.isoformat(),
                        "role": role,
                        **change,
                    }
                )
        self.logs.append({kind: subject_id, "entries": entries})

    def actor(self, role: str | None, actors: dict) -> dict | None:
        if role is None:
            return None
        if role == "staff":
            return dict(self.rng.choice(STAFF))
        parent = self.rng.choice(actors["parent"])
        return {"id": parent["id"], "full_name": full_name(parent), "role": "parent"}

    def finish(self) -> tuple[list[dict], list[dict]]:
        """Numbers every entry in time order and returns ``(logs, edits)``, edits oldest first."""
        everything = sorted(
            (e for log in self.logs for e in log["entries"]), key=lambda e: _instant(e["updated_at"])
        )
        for number, entry in enumerate(everything, start=1):
            entry["id"] = number
        for log in self.logs:
            log["entries"] = [
                {"id": e["id"], **{k: v for k, v in e.items() if k != "id"}} for e in log["entries"]
            ]
        self.edits.sort(key=lambda e: _instant(e["at"]))
        return self.logs, self.edits
