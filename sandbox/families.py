"""Builds synthetic families: EnrolHQ applications, their documents and notes, and Sentral records.

A :class:`FamilyBuilder` draws everything from one seeded ``random.Random``, so the same calls in the
same order give the same school. Scenario tags for each application are collected in ``truth``.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sandbox import names
from sandbox.lookups import ENROLHQ_CAMPUSES, GRADE_LABELS, GRADES

TIMEZONE = ZoneInfo("Australia/Sydney")
OVERSIZED_BYTES = 12 * 1024 * 1024
STAFF = [
    {"id": 501, "full_name": "Helen Marsh", "role": "staff"},
    {"id": 502, "full_name": "Marco Bianchi", "role": "staff"},
]
API_USER = {"id": 599, "full_name": "EnrolHQ API", "role": "staff"}


def ascii_fold(text: str) -> str:
    """Accents removed, for e-mail addresses and roster variants."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def moment(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), TIMEZONE).isoformat()


class FamilyBuilder:
    """Creates families one at a time and remembers everything made so far."""

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.as_of = as_of
        self.entry_year = as_of.year + 1
        self.applications: list[dict] = []
        self.documents: list[dict] = []
        self.notes: list[dict] = []
        self.truth: dict[str, dict] = {}
        self.sentral: dict[str, list[dict]] = {"students": [], "persons": [], "households": []}
        self._next = {
            "parent": 1001,
            "doc": 40001,
            "note": 60001,
            "student": 5001,
            "person": 7001,
            "household": 3001,
            "contact": 80001,
        }
        self.oversized_done = False

    def next_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] += 1
        return value

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # people -------------------------------------------------------------------------------------

    def address(self) -> dict:
        suburb, state, postcode = self.rng.choice(names.SUBURBS)
        number = self.rng.randint(1, 240)
        apartment = f"Unit {self.rng.randint(1, 30)}" if self.rng.random() < 0.2 else ""
        street = f"{number} {self.rng.choice(names.STREETS)}"
        return {
            "street_address": street,
            "apartment": apartment,
            "suburb": suburb,
            "state": state,
            "postcode": postcode,
        }

    def phone(self) -> str:
        return f"04{self.rng.randint(10, 99)} {self.rng.randint(100, 999)} {self.rng.randint(100, 999)}"

    def parent(self, first: str, last: str, relationship: str, address: dict, *, lives: bool = True) -> dict:
        title = {"Mother": "Mrs", "Father": "Mr", "Grandmother": "Mrs"}.get(relationship, "Ms")
        local = f"{ascii_fold(first)}.{ascii_fold(last)}".lower().replace("'", "").replace(" ", "")
        return {
            "id": self.next_id("parent"),
            "title": title,
            "first_name": first,
            "last_name": last,
            "email": f"{local}@example.com",
            "mobile_phone": self.phone(),
            "business_phone": f"02 9{self.rng.randint(100, 999)} {self.rng.randint(1000, 9999)}"
            if self.rng.random() < 0.4
            else "",
            "relationship_to_student": relationship,
            "occupation": self.rng.choice(names.OCCUPATIONS),
            "employer": self.rng.choice(names.EMPLOYERS),
            "residential_address": dict(address),
            "lives_with_student": lives,
            "is_emergency_contact": True,
            "is_authorised_pickup": True,
            "receives_correspondence": True,
        }

    def emergency_contact(self) -> dict:
        first = self.rng.choice(names.ADULT_WOMEN + names.ADULT_MEN)
        return {
            "id": self.next_id("contact"),
            "first_name": first,
            "last_name": self.rng.choice(names.SURNAMES),
            "relationship_to_student": self.rng.choice(["Aunt", "Uncle", "Neighbour", "Family friend"]),
            "mobile_phone": self.phone(),
            "external_id": None,
        }

    def child_names(self, gender: int, surname: str, taken: set[str]) -> tuple[str, str]:
        pool = names.GIRLS if gender == 2 else names.BOYS if gender == 1 else names.GIRLS + names.BOYS
        first = self.rng.choice([n for n in pool if n not in taken])
        preferred = names.NICKNAMES.get(first, "") if self.rng.random() < 0.5 else ""
        return first, preferred

    # applications -------------------------------------------------------------------------------

    def family(self, kind: str, children: list[dict]) -> list[dict]:
        """Adds a family of ``kind`` (together, split, single_parent, guardian) with ``children``.

        Each child plan holds ``status``, ``accepted``, ``tags`` and optionally ``grade``/``dob`` (twins
        share them). Returns the applications created.
        """
        rng = self.rng
        surname = rng.choice(names.SURNAMES)
        home = self.address()
        mother = self.parent(rng.choice(names.ADULT_WOMEN), surname, "Mother", home)
        father_surname = surname if kind != "split" or rng.random() < 0.5 else rng.choice(names.SURNAMES)
        father_home = self.address() if kind == "split" else home
        father = self.parent(
            rng.choice(names.ADULT_MEN), father_surname, "Father", father_home, lives=kind != "split"
        )
        user_parent, other = (mother, father) if rng.random() < 0.6 else (father, mother)
        if kind == "single_parent":
            other = None
        guardians = []
        if kind == "guardian":
            nan = self.parent(rng.choice(names.GRANDPARENT_WOMEN), surname, "Grandmother", home)
            guardians.append(nan)
        taken: set[str] = set()
        made = []
        for plan in children:
            app = self.application(plan, surname, home, user_parent, other, guardians, taken)
            app["parents_relationship"] = {"split": "separated", "single_parent": "other"}.get(
                kind, "together"
            )
            app["student_resides_with"] = self.resides_with(kind)
            if kind == "split":
                app["custody_details"] = "Shared care, week about; orders on file."
            if kind == "split":
                self.add_custody_document(app)
            made.append(app)
            self.truth[app["id"]] = {"tags": [*plan.get("tags", []), *self.kind_tags(kind)]}
        for app in made:
            app["siblings"] = [
                {"first_name": s["first_name"], "last_name": s["last_name"], "dob": s["dob"]}
                for s in made
                if s is not app
            ]
        return made

    @staticmethod
    def kind_tags(kind: str) -> list[str]:
        return {"split": ["split_family"], "single_parent": ["single_parent"], "guardian": ["guardian"]}.get(
            kind, []
        )

    def resides_with(self, kind: str) -> str:
        if kind == "guardian":
            return "guardian"
        if kind == "single_parent":
            return "parent_1"
        if kind == "split":
            return self.rng.choice(["parent_1", "parent_2", "shared"])
        return "both_parents"

    def application(
        self,
        plan: dict,
        surname: str,
        home: dict,
        user_parent: dict,
        other: dict | None,
        guardians: list[dict],
        taken: set[str],
    ) -> dict:
        rng = self.rng
        gender = plan.get("gender") or rng.choices([1, 2, 3, 4], [48, 48, 2, 2])[0]
        first, preferred = self.child_names(gender, surname, taken)
        taken.add(first)
        grade = plan.get("grade") or rng.choice(GRADES)
        dob = plan.get("dob") or self.dob_for(grade)
        plan.setdefault("grade", grade)
        plan.setdefault("dob", dob)
        created = self.as_of - timedelta(days=rng.randint(40, 400))
        app_id = self.uuid()
        status = plan["status"]
        conditions = rng.sample(names.CONDITIONS, rng.choice([0, 0, 1, 2]))
        app = {
            "id": app_id,
            "title": "",
            "first_name": first,
            "middle_name": rng.choice(names.GIRLS + names.BOYS) if rng.random() < 0.5 else "",
            "last_name": surname,
            "preferred_name": preferred,
            "dob": dob,
            "gender": gender,
            "sid": f"{dob.replace('-', '')[2:]}{grade}{ascii_fold(surname)[:3].upper()}{first[0]}",
            "student_code": "",
            "entry_year": self.entry_year,
            "entry_grade": GRADE_LABELS[grade],
            "entry_term": "Term 1",
            "campus": ENROLHQ_CAMPUSES[1] if grade in ("K", "1", "2") else ENROLHQ_CAMPUSES[0],
            "application_status": status,
            "external_id": None,
            "created_at": moment(created, 10, rng.randint(0, 59)),
            "updated_at": moment(created, 10, 59),
            "residential_address": dict(home),
            "student_resides_with": "both_parents",
            "custody_details": "",
            "parents_relationship": "together",
            "user_parent": user_parent,
            "non_user_parent": other,
            "guardians": list(guardians),
            "emergency_contacts": [self.emergency_contact() for _ in range(rng.choice([1, 1, 2]))],
            "siblings": [],
            "medical_data": {
                "doctor_name": rng.choice(names.DOCTORS),
                "doctor_phone": f"02 9{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                "medicare_number": f"{rng.randint(2000, 6999)} {rng.randint(10000, 99999)} {rng.randint(1, 9)}",
                "conditions": conditions,
                "allergies": rng.sample(names.ALLERGIES, rng.choice([0, 0, 1, 2])),
            },
            "progress": self.progress(status, plan.get("accepted", False)),
        }
        self.applications.append(app)
        self.add_documents(app, plan)
        self.add_notes(app)
        return app

    def dob_for(self, grade: str) -> str:
        grade_index = GRADES.index(grade)
        born = date(self.entry_year - 6 - grade_index, 1, 1) + timedelta(days=self.rng.randint(120, 480))
        return born.isoformat()

    def progress(self, status: int, accepted: bool) -> dict:
        offer = None
        if status in (4, 5, 12):
            accepted_on = self.as_of - timedelta(days=self.rng.randint(5, 60))
            offer = {
                "kind": "standard",
                "accepted_at": moment(accepted_on, 20, self.rng.randint(0, 59)) if accepted else None,
            }
        return {"status": status, "enrolment_offer": offer}

    # documents and notes ------------------------------------------------------------------------

    def add_documents(self, app: dict, plan: dict) -> None:
        rng = self.rng
        kinds = [("BIRTH_CERT", rng.random() < 0.9), ("SCHOOL_REPORT", rng.random() < 0.6)]
        if rng.random() < 0.5:
            kinds.append(("IMMUNISATION", True))
        if GRADES.index(plan["grade"]) >= 4 and rng.random() < 0.5:
            kinds.append(("NAPLAN", True))
        if rng.random() < 0.25:
            kinds.append((rng.choice(["PASSPORT", "VISA"]), rng.random() < 0.7))
        if app["medical_data"]["conditions"]:
            kinds.append(("SUPPORTING_MEDICAL", True))
        if rng.random() < 0.3:
            kinds.append(("CUSTOM_3", True))
        if plan.get("oversized"):
            kinds.append(("SCHOOL_REPORT", True))
        for index, (kind, verified) in enumerate(kinds):
            oversized = plan.get("oversized") and index == len(kinds) - 1
            self.documents.append(self.document(app, kind, verified, oversized=bool(oversized)))

    def add_custody_document(self, app: dict) -> None:
        self.documents.append(self.document(app, "CUSTODY", True))

    def document(self, app: dict, kind: str, verified: bool, *, oversized: bool = False) -> dict:
        doc_id = self.next_id("doc")
        stem = ascii_fold(app["last_name"]).replace("'", "").replace(" ", "_").lower()
        return {
            "id": doc_id,
            "filename": f"{kind.lower()}_{stem}_{doc_id}.pdf",
            "file": None,
            "size": OVERSIZED_BYTES if oversized else self.rng.randint(2_000, 60_000),
            "student_profile": app["id"],
            "parent": app["user_parent"]["id"],
            "group": 100 + sorted(GROUP_KINDS).index(kind) if kind in GROUP_KINDS else 199,
            "group_kind": kind,
            "is_submitted": True,
            "is_verified": verified,
            "created_at": app["created_at"],
        }

    def add_notes(self, app: dict) -> None:
        created = datetime.fromisoformat(app["created_at"])
        for offset in (1, 9):
            staff = self.rng.choice(STAFF)
            self.notes.append(
                {
                    "id": self.next_id("note"),
                    "text": self.rng.choice(names.NOTE_TEXTS),
                    "is_pinned": offset == 1 and self.rng.random() < 0.2,
                    "created_by": {"id": staff["id"], "full_name": staff["full_name"]},
                    "created_at": (created + timedelta(days=offset)).isoformat(),
                    "student_profile": app["id"],
                }
            )


GROUP_KINDS = {
    "BIRTH_CERT",
    "SCHOOL_REPORT",
    "IMMUNISATION",
    "NAPLAN",
    "PASSPORT",
    "VISA",
    "SUPPORTING_MEDICAL",
    "CUSTOM_3",
    "CUSTODY",
}
