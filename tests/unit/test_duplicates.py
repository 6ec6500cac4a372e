"""Finding an applicant or their family in Sentral, against Sentral records from the sandbox generator."""

from __future__ import annotations

import random
from datetime import date

import pytest

from sandbox.families import FamilyBuilder
from sandbox.sentral_seed import SentralSeed
from sentral.duplicates import find_family
from sentral.jsonapi import Resource


class SeededSentral:
    """Persons, households and students as the sandbox seeds them, read through the client's methods."""

    def __init__(self, sentral: dict[str, list[dict]]) -> None:
        self.households = {h["id"]: Resource("household", h["id"], dict(h)) for h in sentral["households"]}
        self.persons = sentral["persons"]
        self.students = sentral["students"]

    def iter_persons(self, *, include=(), firstName, lastName):
        for person in self.persons:
            if (person["firstName"].lower(), person["lastName"].lower()) != (
                firstName.lower(),
                lastName.lower(),
            ):
                continue
            household = person["primaryHousehold"]
            resource = Resource("person", person["id"], dict(person), {"primaryHousehold": household})
            resource.included["primaryHousehold"] = self.households.get(household)
            yield resource

    def iter_students(self, *, include=()):
        for student in self.students:
            yield Resource("student", student["id"], {}, {"person": student["person"]})


@pytest.fixture
def builder() -> FamilyBuilder:
    return FamilyBuilder(random.Random(11), date(2026, 10, 1))


def family_with(builder: FamilyBuilder, scenario: str | None) -> tuple[dict, SeededSentral]:
    (application,) = builder.family("together", [{"status": 4, "accepted": True}])
    if scenario:
        getattr(SentralSeed(builder), scenario)(application)
    return application, SeededSentral(builder.sentral)


def test_applicant_already_in_sentral_is_a_duplicate_with_the_student_id(builder):
    application, sentral = family_with(builder, "duplicate")

    found = find_family(sentral, application)

    assert found.is_duplicate
    assert found.student_id == builder.truth[application["id"]]["sentral_student_id"]


def test_same_names_and_birth_date_at_another_postcode_is_not_a_duplicate(builder):
    application, sentral = family_with(builder, "duplicate")
    application["residential_address"]["postcode"] = "9999"

    assert not find_family(sentral, application).is_duplicate


def test_same_names_with_another_birth_date_is_not_a_duplicate(builder):
    application, sentral = family_with(builder, "duplicate")
    application["dob"] = "2000-01-01"

    assert not find_family(sentral, application).is_duplicate


def test_primary_carer_with_a_household_gives_the_household_to_link(builder):
    application, sentral = family_with(builder, "sibling_household")

    found = find_family(sentral, application)

    assert not found.is_duplicate
    assert found.household_id == builder.truth[application["id"]]["sentral_household_id"]


def test_primary_carer_matches_by_mobile_when_the_email_differs(builder):
    application, sentral = family_with(builder, "sibling_household")
    application["user_parent"]["email"] = "new.address@example.com"
    application["user_parent"]["mobile_phone"] = "+61 " + application["user_parent"]["mobile_phone"][1:]

    assert find_family(sentral, application).household_id is not None


def test_carer_with_same_names_but_other_contact_details_is_not_linked(builder):
    application, sentral = family_with(builder, "sibling_household")
    application["user_parent"]["email"] = "someone.else@example.com"
    application["user_parent"]["mobile_phone"] = "0400 000 000"

    assert find_family(sentral, application).household_id is None


def test_new_family_has_nothing_in_sentral(builder):
    application, sentral = family_with(builder, None)

    found = find_family(sentral, application)

    assert (found.is_duplicate, found.household_id) == (False, None)
