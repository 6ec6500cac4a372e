"""Strict validation of a Sentral enrolment draft against the tenant's lookup tables.

Rules are those of docs/api-surface.md. Every problem found is reported, each as a JSON:API error
with a pointer to the field (``/data/attributes/data/student/dob``). Ids are compared as strings, so
``3`` and ``"3"`` name the same year level.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sandbox.lookups import RELATIONSHIP_CODES

ROOT = "/data/attributes/data"
GENDERS = ("M", "F", "X", "U")


def error(pointer: str, detail: str, status: int = 422, title: str = "Invalid attribute") -> dict:
    return {"status": str(status), "title": title, "detail": detail, "source": {"pointer": pointer}}


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    return str(value) if isinstance(value, int | str) else None


class DraftValidator:
    """Checks a draft body; :meth:`errors` returns the list (empty when the draft is valid)."""

    def __init__(self, tables: dict[str, list[dict]], household_ids: set[str]) -> None:
        self.active_years = {y["id"] for y in tables["year_levels"] if y.get("isActive")}
        self.periods = {p["id"] for p in tables["academic_periods"]}
        self.active_campuses = {c["id"] for c in tables["campuses"] if c.get("isActive")}
        self.houses = {h["id"] for h in tables["houses"]}
        self.note_types = {n["id"] for n in tables["note_types"]}
        self.household_ids = household_ids

    def errors(self, body: Any) -> list[dict]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return [error("/data", "The document must hold a data object.")]
        if data.get("type") != "studentEnrolmentDraft":
            return [error("/data/type", 'The type must be "studentEnrolmentDraft".')]
        attributes = data.get("attributes")
        draft = attributes.get("data") if isinstance(attributes, dict) else None
        if not isinstance(draft, dict):
            return [error(ROOT, "The draft's data must be an object.")]
        found: list[dict] = []
        self._student(draft.get("student"), found)
        self._enrolment(draft.get("enrolment"), found)
        self._households(draft.get("households", []), found)
        self._notes(draft.get("notes", []), found)
        return found

    @staticmethod
    def _section(value: Any, name: str, found: list[dict]) -> dict:
        if not isinstance(value, dict):
            found.append(error(f"{ROOT}/{name}", f"{name} is required and must be an object."))
            return {}
        return value

    def _student(self, value: Any, found: list[dict]) -> None:
        student = self._section(value, "student", found)
        if not value:
            return
        for field in ("first_name", "family_name"):
            if not isinstance(student.get(field), str) or not student[field].strip():
                found.append(error(f"{ROOT}/student/{field}", f"{field} is required."))
        dob = student.get("dob")
        try:
            if not isinstance(dob, str) or len(dob) != 10:
                raise ValueError(dob)
            date.fromisoformat(dob)
        except ValueError:
            found.append(error(f"{ROOT}/student/dob", f"dob must be a date as YYYY-MM-DD, not {dob!r}."))
        if student.get("gender") not in GENDERS:
            found.append(error(f"{ROOT}/student/gender", f"gender must be one of {', '.join(GENDERS)}."))

    def _enrolment(self, value: Any, found: list[dict]) -> None:
        enrolment = self._section(value, "enrolment", found)
        if not value:
            return
        checks = [
            ("year", self.active_years, "an active year level id"),
            ("academic_period_id", self.periods, "an academic period id"),
            ("campus_id", self.active_campuses, "an active campus id"),
        ]
        for field, allowed, what in checks:
            if _id(enrolment.get(field)) not in allowed:
                found.append(
                    error(
                        f"{ROOT}/enrolment/{field}", f"{field} must be {what}, not {enrolment.get(field)!r}."
                    )
                )
        house = enrolment.get("house")
        if house is not None and _id(house) not in self.houses:
            found.append(error(f"{ROOT}/enrolment/house", f"house must be a house id, not {house!r}."))

    def _households(self, households: Any, found: list[dict]) -> None:
        if not isinstance(households, list):
            found.append(error(f"{ROOT}/households", "households must be a list."))
            return
        for h_index, household in enumerate(households):
            pointer = f"{ROOT}/households/{h_index}"
            if not isinstance(household, dict):
                found.append(error(pointer, "Each household must be an object."))
                continue
            linked = household.get("household_id")
            if linked is not None and _id(linked) not in self.household_ids:
                found.append(error(f"{pointer}/household_id", f"No household {linked!r}."))
            contacts = household.get("contacts", [])
            if not isinstance(contacts, list):
                found.append(error(f"{pointer}/contacts", "contacts must be a list."))
                continue
            for c_index, contact in enumerate(contacts):
                relationship = contact.get("default_relationship") if isinstance(contact, dict) else None
                if relationship not in RELATIONSHIP_CODES:
                    found.append(
                        error(
                            f"{pointer}/contacts/{c_index}/default_relationship",
                            f"default_relationship must be a relationship code the tenant knows, not {relationship!r}.",
                        )
                    )

    def _notes(self, notes: Any, found: list[dict]) -> None:
        if not isinstance(notes, list):
            found.append(error(f"{ROOT}/notes", "notes must be a list."))
            return
        for index, note in enumerate(notes):
            note_type = note.get("note_type_id") if isinstance(note, dict) else None
            if _id(note_type) not in self.note_types:
                found.append(error(f"{ROOT}/notes/{index}/note_type_id", f"No note type {note_type!r}."))
