"""Builds an enrolment draft's ``data`` from an EnrolHQ application, through the school's field map.

The field map (``include/mappings/<school>/fields.yml``) says which EnrolHQ value fills which draft
field; this module decides the draft's structure: who becomes a contact, how many households there are
and which is the student's residential one, and which notes are carried across.

- Every parent and guardian becomes a contact. The primary carer (EnrolHQ's Parent 1) is the primary
  contact. Guardians who are not parents keep their own relationship to the student.
- Parents at different addresses (a split family) make two households; the student's residential
  household is chosen from ``student_resides_with``. Guardians join the household at their address,
  else the student's residential one.
- When the primary carer's household already exists in Sentral (a sibling is enrolled), the draft
  carries no household data: a registrar links that household in Sentral.

Each contact is rendered from the parent record plus the fields this module works out, so the field
map can read them by name: ``is_primary_contact``, ``contact_role`` (``parent_1``, ``parent_2``,
``guardian``) and ``household_address``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sentral.duplicates import FamilyInSentral
from sentral.fieldmap import FieldMap

# The application's own address keys, compared to tell whether two people live at one address.
ADDRESS_KEYS = ("street_address", "apartment", "suburb", "state", "postcode")


@dataclass(frozen=True)
class DraftRules:
    """What the payload builder needs of a school's mappings.

    :param fieldmap: the school's draft field map.
    :param lookups: lookup table name → table whose ``get(enrolhq_value)`` gives the Sentral value.
    :param defaults: the school's ``defaults`` (Sentral values, used as they are).
    """

    fieldmap: FieldMap
    lookups: Mapping[str, Any]
    defaults: Mapping[str, Any]


@dataclass
class _Household:
    address: Mapping[str, Any]
    members: list[dict[str, Any]]
    is_residential: bool = False


def build_draft(
    application: Mapping[str, Any],
    family: FamilyInSentral,
    rules: DraftRules,
    staff_notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The draft's ``data`` for one application.

    :param application: the EnrolHQ application in detail.
    :param staff_notes: the registrars' notes on the application in EnrolHQ, oldest first.
    :param family: what Sentral already holds of the family; a household to link drops household data.
    :param rules: the school's field map, lookups and defaults.
    :raises PayloadError: a required value is missing or unmapped; it names the application and field.
    """
    record_id = str(application["id"])

    def render(section: str, source: Mapping[str, Any], label: str | None = None) -> dict[str, Any]:
        return rules.fieldmap.render(
            section, source, lookups=rules.lookups, defaults=rules.defaults, record_id=record_id, label=label
        )

    draft: dict[str, Any] = {
        "reference": render("reference", application),
        "student": render("student", application),
        "enrolment": render("enrolment", application),
    }
    if family.household_id is None:
        draft["households"] = [
            {
                "household_id": None,
                "is_residential": household.is_residential,
                "address": render("address", household.address, f"households[{n}].address"),
                "contacts": [
                    render("contact", member, f"households[{n}].contacts[{m}] ({member['contact_role']})")
                    for m, member in enumerate(household.members)
                ],
            }
            for n, household in enumerate(plan_households(application))
        ]
    notes = [
        render("note", {"contents": text}, f"notes[{n}]")
        for n, text in enumerate(registrar_notes(application, staff_notes))
    ]
    if notes:
        draft["notes"] = notes
    return draft


def carers(application: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every parent and guardian of the application, as contact sources, primary carer first."""
    people = []
    roles = [("parent_1", application.get("user_parent")), ("parent_2", application.get("non_user_parent"))]
    roles += [("guardian", guardian) for guardian in application.get("guardians") or []]
    for role, person in roles:
        if not person:
            continue
        people.append({**person, "contact_role": role, "is_primary_contact": role == "parent_1"})
    return people


def plan_households(application: Mapping[str, Any]) -> list[_Household]:
    """The draft's households: one per distinct parent address, guardians placed where they live."""
    student_address = application.get("residential_address") or {}
    households: list[_Household] = []
    for person in carers(application):
        address = person.get("residential_address") or student_address
        person = {**person, "household_address": address}
        home = _household_at(households, address)
        if home is None and person["contact_role"] == "guardian" and households:
            home = _residential(households, application)
        if home is None:
            home = _Household(address=address, members=[])
            households.append(home)
        home.members.append(person)
    if not households:
        return []
    for household in _residential_households(households, application):
        household.is_residential = True
    return households


def _household_at(households: Sequence[_Household], address: Mapping[str, Any]) -> _Household | None:
    key = address_key(address)
    return next((h for h in households if address_key(h.address) == key), None)


def _residential(households: Sequence[_Household], application: Mapping[str, Any]) -> _Household:
    return _residential_households(households, application)[0]


def _residential_households(
    households: Sequence[_Household], application: Mapping[str, Any]
) -> list[_Household]:
    """Which households the student lives in, from ``student_resides_with`` then the student's address."""
    by_role = {member["contact_role"]: h for h in households for member in h.members}
    resides_with = application.get("student_resides_with")
    if resides_with in ("parent_1", "parent_2") and resides_with in by_role:
        return [by_role[resides_with]]
    if resides_with == "shared":
        return [h for h in households if any(m["contact_role"].startswith("parent") for m in h.members)]
    # Living with both parents, a guardian or someone else: the household at the student's own address.
    at_home = _household_at(households, application.get("residential_address") or {})
    return [at_home or households[0]]


def address_key(address: Mapping[str, Any] | None) -> tuple[str, ...]:
    """An address reduced for comparison: case, spacing and punctuation do not make two addresses."""
    address = address or {}
    return tuple(
        re.sub(r"[^a-z0-9]+", " ", str(address.get(key) or "").lower()).strip() for key in ADDRESS_KEYS
    )


def registrar_notes(application: Mapping[str, Any], staff_notes: Sequence[str] = ()) -> list[str]:
    """Notes for the registrar in Sentral: where the draft came from, custody, and the staff's notes."""
    notes = [f"Enrolment application {application['id']} from EnrolHQ."]
    if application.get("custody_details"):
        notes.append(f"Custody: {application['custody_details']}")
    if application.get("parents_relationship") == "separated":
        resides = str(application.get("student_resides_with") or "not stated").replace("_", " ")
        notes.append(f"Parents are separated; the student resides with: {resides}.")
    notes.extend(text for text in staff_notes if text and text.strip())
    return notes
