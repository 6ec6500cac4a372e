"""The audit log's change sentences, written by the generator and by EnrolHQ's PUT.

The wording is the sandbox's guess at the real service's (see docs/api-surface.md); the project's
parser reads exactly these forms.
"""

from __future__ import annotations

# field path (dotted for nested values) -> label, for the student subject of an application
STUDENT_LABELS = {
    "title": "Title",
    "first_name": "First name",
    "last_name": "Last name",
    "preferred_name": "Preferred name",
    "middle_name": "Middle name",
    "residential_address.street_address": "Residential address",
    "residential_address.suburb": "Suburb",
    "residential_address.state": "State",
    "residential_address.postcode": "Postcode",
    "student_resides_with": "Student resides with",
    "custody_details": "Custody details",
    "parents_relationship": "Parents relationship",
    "medical_data.doctor_name": "Doctor name",
    "medical_data.doctor_phone": "Doctor phone",
    "medical_data.medicare_number": "Medicare number",
    "medical_data.conditions": "Medical conditions",
    "medical_data.allergies": "Allergies",
    "entry_grade": "Entry grade",
    "campus": "Campus",
    "application_status": "Application status",
    "external_id": "External ID",
}
PARENT_LABELS = {
    "title": "Title",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "mobile_phone": "Mobile phone",
    "business_phone": "Business phone",
    "residential_address.street_address": "Residential address",
    "residential_address.suburb": "Suburb",
    "residential_address.state": "State",
    "residential_address.postcode": "Postcode",
    "relationship_to_student": "Relationship to student",
    "lives_with_student": "Lives with student",
    "occupation": "Occupation",
    "employer": "Employer",
}
# Labels with no single record field behind them.
EMERGENCY_CONTACT = "Emergency contact"
INTERNAL_NOTES = "Internal notes"
MEMBER_KINDS = ("guardian", "emergency contact", "parent")


def show(value: object) -> str:
    """How a value reads inside a sentence: lists joined, booleans as Yes/No."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def is_empty(value: object) -> bool:
    return value is None or value == "" or value == []


def change_sentence(label: str, old: object, new: object) -> str:
    """One sentence for a field going from ``old`` to ``new`` (either may be empty)."""
    if is_empty(old):
        return f'Set {label} to "{show(new)}"'
    if is_empty(new):
        return f'Cleared {label} (was "{show(old)}")'
    return f'Changed {label} from "{show(old)}" to "{show(new)}"'


def action_of(old: object, new: object) -> str:
    if is_empty(old):
        return "set"
    return "cleared" if is_empty(new) else "changed"


def member_sentence(added: bool, kind: str, full_name: str) -> str:
    """``Added``/``Removed`` sentence for a guardian, emergency contact or parent."""
    return f'{"Added" if added else "Removed"} {kind} "{full_name}"'


def get_path(record: dict, path: str) -> object:
    value: object = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def set_path(record: dict, path: str, value: object) -> None:
    *parents, last = path.split(".")
    target = record
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
