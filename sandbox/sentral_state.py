"""The sandbox Sentral's in-memory state: lookups, students, persons, households, drafts, attachments."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime
from typing import Any, ClassVar

from sandbox.control import ServerState
from sandbox.families import TIMEZONE

LOOKUPS = {
    # path under v1/enrolments/ -> (seed key, JSON:API type)
    "year-level": ("year_levels", "yearLevel"),
    "academic-period": ("academic_periods", "academicPeriod"),
    "campus": ("campuses", "campus"),
    "house": ("houses", "house"),
    "flag": ("flags", "flag"),
    "student-document-category": ("document_categories", "studentDocumentCategory"),
    "note-type": ("note_types", "noteType"),
}
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
GENDER_CODES = {"M": "M", "F": "F", "X": "X", "U": "U"}


class SentralState(ServerState):
    """Everything the sandbox Sentral holds; see :mod:`sandbox.sentral` for the API over it.

    Settings (``PUT /_sandbox/config``): ``latency_ms`` added to every call. Sentral's own rate
    limits are not known, so none is applied.
    """

    seed_sections: ClassVar[tuple[str, ...]] = ("school", "sentral")
    default_config: ClassVar[dict[str, Any]] = {"latency_ms": 0}

    def load(self, seed_doc: dict) -> None:
        self.school = seed_doc.get("school", {})
        section = seed_doc["sentral"]
        self.api_keys = {k["key"]: k for k in section["api_keys"]}
        self.tables = {key: section[key] for key, _ in LOOKUPS.values()}
        self.students = {s["id"]: s for s in section["students"]}
        self.persons = {p["id"]: p for p in section["persons"]}
        self.households = {h["id"]: h for h in section["households"]}
        self.drafts = {d["id"]: d for d in section.get("drafts", [])}
        self.ids = {
            kind: max((int(i) for i in records), default=start) + 1
            for kind, records, start in (
                ("student", self.students, 5000),
                ("person", self.persons, 7000),
                ("household", self.households, 3000),
                ("draft", self.drafts, 100),
                (
                    "attachment",
                    [a["id"] for d in self.drafts.values() for a in d.get("attachments", [])],
                    900,
                ),
            )
        }

    def next_id(self, kind: str) -> str:
        value = self.ids[kind]
        self.ids[kind] += 1
        return str(value)

    def snapshot(self) -> dict:
        return {
            "school": self.school,
            **self.tables,
            "students": list(self.students.values()),
            "persons": list(self.persons.values()),
            "households": list(self.households.values()),
            "drafts": list(self.drafts.values()),
        }

    def add_draft(self, data: dict) -> dict:
        draft = {
            "id": self.next_id("draft"),
            "status": "pending",
            "createdAt": datetime.now(TIMEZONE).isoformat(timespec="seconds"),
            "data": data,
            "originalData": copy.deepcopy(data),
            "student": None,
            "attachments": [],
        }
        self.drafts[draft["id"]] = draft
        self.counters["drafts_created"] += 1
        return draft

    def add_attachment(self, draft: dict, file_name: str, category_id: str, size: int, sha256: str) -> dict:
        attachment = {
            "id": self.next_id("attachment"),
            "fileName": file_name,
            "categoryId": category_id,
            "size": size,
            "sha256": sha256,
            "draft": draft["id"],
        }
        draft["attachments"].append(attachment)
        return attachment

    def approve(self, draft: dict) -> dict:
        """A registrar approves ``draft``: a student (with person and household) now exists.

        The household is new unless the draft linked an existing one through ``household_id``.
        """
        data = draft["data"] if isinstance(draft["data"], dict) else {}
        student = data.get("student") or {}
        households = [h for h in data.get("households") or [] if isinstance(h, dict)]
        linked = next((str(h["household_id"]) for h in households if h.get("household_id") is not None), None)
        household_id = linked or self._new_household(student, households)
        person_id = self.next_id("person")
        self.persons[person_id] = {
            "id": person_id,
            "firstName": student.get("first_name", ""),
            "lastName": student.get("family_name", ""),
            "preferredName": student.get("pref_name") or "",
            "dateOfBirth": student.get("dob"),
            "genderCode": GENDER_CODES.get(student.get("gender"), "U"),
            "email": "",
            "mobile": "",
            "primaryHousehold": household_id,
        }
        student_id = self.next_id("student")
        year = (data.get("enrolment") or {}).get("year")
        self.students[student_id] = {
            "id": student_id,
            "studentCode": f"SC{int(student_id) * 7 % 100000:05d}",
            "refId": str(uuid.uuid4()).upper(),
            "isActive": True,
            "person": person_id,
            "households": [household_id],
            "yearLevel": str(year) if year is not None else None,
        }
        draft["status"] = "approved"
        draft["student"] = student_id
        self.counters["drafts_approved"] += 1
        return draft

    def _new_household(self, student: dict, households: list[dict]) -> str:
        address = (households[0].get("address") if households else None) or {}
        household_id = self.next_id("household")
        self.households[household_id] = {
            "id": household_id,
            "householdCode": f"HH{household_id}",
            "mailingTitle": f"The {student.get('family_name', '')} family".strip(),
            "postcode": address.get("postcode", ""),
            "suburb": address.get("suburb", ""),
            "address": address.get("street_address", ""),
        }
        return household_id
