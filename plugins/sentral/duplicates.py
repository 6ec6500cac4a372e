"""Finds what Sentral already holds of an applicant's family: the student themself, or their household.

The rules are the ones EnrolHQ's own Sentral sync applies before it posts a draft:

- an existing Sentral person with the applicant's first and last name and date of birth is the
  applicant already enrolled, unless both sides know a household postcode and the postcodes differ;
  such an application is not sent, and a person resolves it;
- the primary carer (EnrolHQ's Parent 1) found as a Sentral person with the same first and last name
  and the same email or mobile, who has a primary household, means a sibling is enrolled: the draft
  goes without household data and a registrar links that household in Sentral.

Sentral's person filters match names exactly, ignoring case; a name spelled differently in the two
systems is not found, which is why these checks stop a duplicate only when they are sure.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sentral.client import (
    HOUSEHOLD_POSTCODE_ATTRIBUTE,
    PERSON_EMAIL_ATTRIBUTE,
    PERSON_MOBILE_ATTRIBUTE,
    SentralClient,
)
from sentral.jsonapi import Resource

log = logging.getLogger(__name__)

PRIMARY_HOUSEHOLD = "primaryHousehold"


@dataclass(frozen=True)
class FamilyInSentral:
    """What Sentral already holds of one applicant's family.

    :param student_id: the Sentral student who is this applicant, when already enrolled.
    :param person_id: the Sentral person behind that student.
    :param household_id: the primary carer's existing household, to link the new student to.
    """

    student_id: str | None = None
    person_id: str | None = None
    household_id: str | None = None

    @property
    def is_duplicate(self) -> bool:
        return self.person_id is not None


def find_family(sentral: SentralClient, application: Mapping[str, Any]) -> FamilyInSentral:
    """Look the applicant and their primary carer up in Sentral.

    :param sentral: the school's Sentral client.
    :param application: the EnrolHQ application in detail.
    """
    person = find_existing_student_person(sentral, application)
    if person is not None:
        student_id = student_id_of(sentral, person)
        log.info("application %s: applicant already in Sentral as person %s", application["id"], person.id)
        return FamilyInSentral(student_id=student_id, person_id=person.id)
    household_id = find_primary_carer_household(sentral, application.get("user_parent"))
    if household_id is not None:
        log.info("application %s: primary carer's household %s exists", application["id"], household_id)
    return FamilyInSentral(household_id=household_id)


def find_existing_student_person(sentral: SentralClient, application: Mapping[str, Any]) -> Resource | None:
    """The Sentral person who is this applicant (same names, date of birth and known postcode)."""
    first, last, dob = application.get("first_name"), application.get("last_name"), application.get("dob")
    if not (first and last and dob):
        return None
    postcode = _postcode((application.get("residential_address") or {}).get("postcode"))
    for person in sentral.iter_persons(firstName=first, lastName=last, include=(PRIMARY_HOUSEHOLD,)):
        if str(person.get("dateOfBirth") or "")[:10] != dob:
            continue
        theirs = _postcode(_household_attribute(person, HOUSEHOLD_POSTCODE_ATTRIBUTE))
        if postcode and theirs and postcode != theirs:
            continue
        return person
    return None


def student_id_of(sentral: SentralClient, person: Resource) -> str | None:
    """The id of the Sentral student whose person this is; the person's id when none is linked.

    A person names their student when Sentral sends the relationship; otherwise the students are read
    once to find the one linked to this person, which happens only for a likely duplicate.
    """
    linked = person.relationships.get("student")
    if isinstance(linked, str):
        return linked
    for student in sentral.iter_students(include=("person",)):
        if student.relationships.get("person") == person.id:
            return student.id
    return None


def find_primary_carer_household(sentral: SentralClient, parent: Mapping[str, Any] | None) -> str | None:
    """The primary household of the Sentral person who is this parent (names plus email or mobile)."""
    if not parent or not parent.get("first_name") or not parent.get("last_name"):
        return None
    email = (parent.get("email") or "").strip().lower()
    mobile = _digits(parent.get("mobile_phone"))
    for person in sentral.iter_persons(
        firstName=parent["first_name"], lastName=parent["last_name"], include=(PRIMARY_HOUSEHOLD,)
    ):
        same_email = bool(email) and (person.get(PERSON_EMAIL_ATTRIBUTE) or "").strip().lower() == email
        same_mobile = bool(mobile) and _digits(person.get(PERSON_MOBILE_ATTRIBUTE)) == mobile
        household = person.relationships.get(PRIMARY_HOUSEHOLD)
        if (same_email or same_mobile) and isinstance(household, str):
            return household
    return None


def _household_attribute(person: Resource, name: str) -> Any:
    household = person.related(PRIMARY_HOUSEHOLD)
    return household.get(name) if isinstance(household, Resource) else None


def _postcode(value: Any) -> str:
    return str(value or "").strip()


def _digits(value: Any) -> str:
    # Australian mobiles are written as 04xx, +614xx or with spaces; compare the national number.
    digits = re.sub(r"\D", "", str(value or ""))
    if digits.startswith("61"):
        digits = "0" + digits[2:]
    return digits
