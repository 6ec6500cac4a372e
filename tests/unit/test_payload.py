"""Building enrolment drafts from generated applications with the demo school's field map."""

from __future__ import annotations

import random
from datetime import date

import pytest

from sandbox.families import FamilyBuilder
from sentral.duplicates import FamilyInSentral
from sentral.fieldmap import PayloadError
from sentral.mappings import load_school
from sentral.payload import DraftRules, build_draft


@pytest.fixture(scope="module")
def rules() -> DraftRules:
    config = load_school("demo")
    return DraftRules(fieldmap=config.fields, lookups=config.lookups, defaults=config.defaults)


@pytest.fixture
def builder() -> FamilyBuilder:
    return FamilyBuilder(random.Random(7), date(2026, 10, 1))


def one_application(builder: FamilyBuilder, kind: str, **plan) -> dict:
    (application,) = builder.family(kind, [{"status": 4, "accepted": True, **plan}])
    return application


def contacts_of(draft: dict) -> list[dict]:
    return [contact for household in draft["households"] for contact in household["contacts"]]


def test_draft_carries_the_application_reference(builder, rules):
    application = one_application(builder, "together")

    draft = build_draft(application, FamilyInSentral(), rules)

    assert draft["reference"] == {"source": "EnrolHQ", "application_id": application["id"]}


def test_family_at_one_address_is_one_residential_household_with_both_parents(builder, rules):
    application = one_application(builder, "together")

    draft = build_draft(application, FamilyInSentral(), rules)

    (household,) = draft["households"]
    assert household["is_residential"] is True
    assert len(household["contacts"]) == 2
    assert [c["is_primary_contact"] for c in household["contacts"]] == [True, False]


@pytest.mark.parametrize("resides_with", ["parent_1", "parent_2"])
def test_split_family_makes_two_households_marking_where_the_student_lives(builder, rules, resides_with):
    application = one_application(builder, "split")
    application["student_resides_with"] = resides_with
    parent = application["user_parent" if resides_with == "parent_1" else "non_user_parent"]

    draft = build_draft(application, FamilyInSentral(), rules)

    assert len(draft["households"]) == 2
    (residential,) = [h for h in draft["households"] if h["is_residential"]]
    assert residential["address"]["street_address"] == parent["residential_address"]["street_address"]
    assert [c["first_name"] for c in residential["contacts"]] == [parent["first_name"]]


def test_split_family_with_shared_care_marks_both_households_residential(builder, rules):
    application = one_application(builder, "split")
    application["student_resides_with"] = "shared"

    draft = build_draft(application, FamilyInSentral(), rules)

    assert [h["is_residential"] for h in draft["households"]] == [True, True]


def test_single_parent_is_the_only_contact_and_primary(builder, rules):
    application = one_application(builder, "single_parent")

    draft = build_draft(application, FamilyInSentral(), rules)

    (contact,) = contacts_of(draft)
    assert contact["first_name"] == application["user_parent"]["first_name"]
    assert contact["is_primary_contact"] is True


def test_guardian_who_is_not_a_parent_is_a_contact_with_their_relationship(builder, rules):
    application = one_application(builder, "guardian")
    guardian = application["guardians"][0]

    draft = build_draft(application, FamilyInSentral(), rules)

    (contact,) = [c for c in contacts_of(draft) if c["first_name"] == guardian["first_name"]]
    assert contact["default_relationship"] == "GRANDMOTHER"
    assert contact["is_primary_contact"] is False


def test_sibling_with_existing_household_is_sent_without_household(builder, rules):
    application = one_application(builder, "together")

    draft = build_draft(application, FamilyInSentral(household_id="3001"), rules)

    assert "households" not in draft
    assert draft["student"]["family_name"] == application["last_name"]


def test_parent_flags_are_carried_to_the_contact(builder, rules):
    application = one_application(builder, "split")
    application["non_user_parent"]["is_authorised_pickup"] = False

    draft = build_draft(application, FamilyInSentral(), rules)

    (contact,) = [
        c for c in contacts_of(draft) if c["first_name"] == application["non_user_parent"]["first_name"]
    ]
    assert (contact["lives_with"], contact["is_authorised_pickup"]) == (False, False)


def test_custody_details_and_staff_notes_become_registrar_notes(builder, rules):
    application = one_application(builder, "split")

    draft = build_draft(application, FamilyInSentral(), rules, staff_notes=["Interviewed on Tuesday."])

    contents = [note["contents"] for note in draft["notes"]]
    assert f"Custody: {application['custody_details']}" in contents
    assert contents[-1] == "Interviewed on Tuesday."


def test_missing_required_field_names_the_application_and_the_field(builder, rules):
    application = one_application(builder, "together")
    application["dob"] = ""

    with pytest.raises(PayloadError) as caught:
        build_draft(application, FamilyInSentral(), rules)

    assert application["id"] in str(caught.value)
    assert caught.value.field == "student.dob"


def test_missing_contact_field_names_the_household_and_contact(builder, rules):
    application = one_application(builder, "together")
    application["non_user_parent"]["last_name"] = ""

    with pytest.raises(PayloadError) as caught:
        build_draft(application, FamilyInSentral(), rules)

    assert caught.value.field.startswith("households[0].contacts[1]")
    assert caught.value.field.endswith(".family_name")
