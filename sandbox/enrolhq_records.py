"""EnrolHQ's full-record PUT: validation, resetting omitted fields, and the audit sentences it writes.

Every writable field not sent is reset to its empty value. ``first_name``, ``last_name``, ``dob`` and
``user_parent`` are required (400 when missing), as a serializer would insist. ``id``, ``sid``,
``created_at``, ``updated_at``, ``progress`` and ``application_status`` are read-only and ignored
(the real service changes status through its own action).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sandbox.sentences import PARENT_LABELS, STUDENT_LABELS, change_sentence, get_path, member_sentence

READ_ONLY = ("id", "sid", "created_at", "updated_at", "progress", "application_status")
REQUIRED = ("first_name", "last_name", "dob", "user_parent")
TEXT_FIELDS = (
    "title",
    "first_name",
    "middle_name",
    "last_name",
    "preferred_name",
    "student_code",
    "entry_grade",
    "entry_term",
    "campus",
    "custody_details",
)
CHOICES = {
    "student_resides_with": ("", "both_parents", "parent_1", "parent_2", "shared", "guardian", "other"),
    "parents_relationship": ("", "together", "separated", "other"),
}
ADDRESS_EMPTY = {"street_address": "", "apartment": "", "suburb": "", "state": "", "postcode": ""}
MEDICAL_EMPTY = {
    "doctor_name": "",
    "doctor_phone": "",
    "medicare_number": "",
    "conditions": [],
    "allergies": [],
}
PARENT_EMPTY: dict[str, Any] = {
    "title": "",
    "first_name": "",
    "last_name": "",
    "email": "",
    "mobile_phone": "",
    "business_phone": "",
    "relationship_to_student": "",
    "occupation": "",
    "employer": "",
    "residential_address": ADDRESS_EMPTY,
    "lives_with_student": False,
    "is_emergency_contact": False,
    "is_authorised_pickup": False,
    "receives_correspondence": False,
}
CONTACT_EMPTY = {
    "first_name": "",
    "last_name": "",
    "relationship_to_student": "",
    "mobile_phone": "",
    "external_id": None,
}


class RecordErrors(Exception):
    """DRF-style field errors: ``{field: [message, ...]}``."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _merge(template: dict, given: Any, field: str, errors: dict) -> dict:
    if given is None:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in template.items()}
    if not isinstance(given, dict):
        errors.setdefault(field, []).append("Expected an object.")
        return dict(template)
    merged = {}
    for key, empty in template.items():
        value = given.get(key, empty)
        if isinstance(empty, dict):
            value = _merge(empty, given.get(key), f"{field}.{key}", errors)
        elif isinstance(empty, list) and not isinstance(value, list):
            errors.setdefault(f"{field}.{key}", []).append("Expected a list.")
        elif isinstance(empty, str) and not isinstance(value, str):
            errors.setdefault(f"{field}.{key}", []).append("Not a valid string.")
        merged[key] = value
    return merged


class PutBuilder:
    """Builds the record a PUT leaves behind, assigning ids to new parents and contacts."""

    def __init__(self, next_id: Any) -> None:
        self.next_id = next_id

    def build(self, current: dict, body: Any) -> dict:
        if not isinstance(body, dict):
            raise RecordErrors({"non_field_errors": ["Expected a JSON object."]})
        errors: dict[str, list[str]] = {}
        for field in REQUIRED:
            if body.get(field) in (None, ""):
                errors[field] = ["This field is required."]
        record = {field: current[field] for field in READ_ONLY if field in current}
        for field in TEXT_FIELDS:
            value = body.get(field, "")
            if not isinstance(value, str):
                errors.setdefault(field, []).append("Not a valid string.")
            record[field] = value
        for field, allowed in CHOICES.items():
            record[field] = body.get(field, "")
            if record[field] not in allowed:
                errors.setdefault(field, []).append(f'"{record[field]}" is not a valid choice.')
        record["external_id"] = body.get("external_id")
        if record["external_id"] is not None and not isinstance(record["external_id"], str):
            errors.setdefault("external_id", []).append("Not a valid string.")
        self._numbers_and_dates(body, record, errors)
        record["residential_address"] = _merge(
            ADDRESS_EMPTY, body.get("residential_address"), "residential_address", errors
        )
        record["medical_data"] = _merge(MEDICAL_EMPTY, body.get("medical_data"), "medical_data", errors)
        record["user_parent"] = self._parent(body.get("user_parent"), "user_parent", errors)
        other = body.get("non_user_parent")
        record["non_user_parent"] = self._parent(other, "non_user_parent", errors) if other else None
        record["guardians"] = self._many(body, "guardians", PARENT_EMPTY, errors)
        record["emergency_contacts"] = self._many(body, "emergency_contacts", CONTACT_EMPTY, errors)
        siblings = body.get("siblings", [])
        record["siblings"] = siblings if isinstance(siblings, list) else []
        if errors:
            raise RecordErrors(errors)
        return {key: record[key] for key in current if key in record} | record

    @staticmethod
    def _numbers_and_dates(body: dict, record: dict, errors: dict) -> None:
        dob = body.get("dob")
        try:
            date.fromisoformat(dob) if isinstance(dob, str) else None
        except ValueError:
            errors.setdefault("dob", []).append("Date has wrong format. Use YYYY-MM-DD.")
        record["dob"] = dob
        gender = body.get("gender")
        if gender is not None and gender not in (1, 2, 3, 4):
            errors.setdefault("gender", []).append(f'"{gender}" is not a valid choice.')
        record["gender"] = gender
        entry_year = body.get("entry_year")
        if entry_year is not None and not isinstance(entry_year, int):
            errors.setdefault("entry_year", []).append("A valid integer is required.")
        record["entry_year"] = entry_year

    def _parent(self, given: Any, field: str, errors: dict) -> dict | None:
        if given is None:
            return None
        parent = _merge(PARENT_EMPTY, given, field, errors)
        parent_id = given.get("id") if isinstance(given, dict) else None
        return {"id": parent_id if parent_id is not None else self.next_id("parent"), **parent}

    def _many(self, body: dict, field: str, template: dict, errors: dict) -> list[dict]:
        given = body.get(field, [])
        if not isinstance(given, list):
            errors.setdefault(field, []).append("Expected a list.")
            return []
        items = []
        for item in given:
            merged = _merge(template, item, field, errors)
            item_id = item.get("id") if isinstance(item, dict) else None
            items.append({"id": item_id if item_id is not None else self.next_id("member"), **merged})
        return items


def _full_name(person: dict) -> str:
    return f"{person.get('first_name', '')} {person.get('last_name', '')}".strip()


def student_changes(old: dict, new: dict) -> list[str]:
    """Sentences for the student subject: field changes and added or removed people."""
    sentences = [
        change_sentence(label, get_path(old, path), get_path(new, path))
        for path, label in STUDENT_LABELS.items()
        if path != "application_status" and get_path(old, path) != get_path(new, path)
    ]
    for field, kind in (("guardians", "guardian"), ("emergency_contacts", "emergency contact")):
        before = [_full_name(p) for p in old.get(field) or []]
        after = [_full_name(p) for p in new.get(field) or []]
        sentences += [member_sentence(True, kind, n) for n in after if n not in before]
        sentences += [member_sentence(False, kind, n) for n in before if n not in after]
    old_other, new_other = old.get("non_user_parent"), new.get("non_user_parent")
    if (old_other or {}).get("id") != (new_other or {}).get("id"):
        if old_other:
            sentences.append(member_sentence(False, "parent", _full_name(old_other)))
        if new_other:
            sentences.append(member_sentence(True, "parent", _full_name(new_other)))
    return sentences


def parent_changes(old: dict, new: dict) -> list[str]:
    """Sentences for one parent subject whose record the PUT changed."""
    return [
        change_sentence(label, get_path(old, path), get_path(new, path))
        for path, label in PARENT_LABELS.items()
        if get_path(old, path) != get_path(new, path)
    ]
