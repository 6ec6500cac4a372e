"""The synthetic school generator: determinism, scenarios, and an audit log that matches the records."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta

import pytest

from sandbox.generator import generate_school, roster_rows
from sandbox.sentences import PARENT_LABELS, STUDENT_LABELS

LABELS_IN_DOCS = [
    "First name",
    "Last name",
    "Preferred name",
    "Middle name",
    "Title",
    "Email",
    "Mobile phone",
    "Business phone",
    "Residential address",
    "Suburb",
    "State",
    "Postcode",
    "Relationship to student",
    "Lives with student",
    "Student resides with",
    "Custody details",
    "Parents relationship",
    "Doctor name",
    "Doctor phone",
    "Medicare number",
    "Medical conditions",
    "Allergies",
    "Emergency contact",
    "Occupation",
    "Employer",
    "Entry grade",
    "Campus",
    "Application status",
    "Internal notes",
]


@pytest.fixture(scope="module")
def school() -> dict:
    return generate_school(size=30, seed=7)


def tagged(doc: dict, tag: str) -> list[str]:
    return [app_id for app_id, facts in doc["truth"]["applications"].items() if tag in facts["tags"]]


def applications_by_id(doc: dict) -> dict[str, dict]:
    return {a["id"]: a for a in doc["enrolhq"]["applications"]}


def test_same_arguments_give_identical_json():
    first = json.dumps(generate_school(size=20, seed=3))
    assert first == json.dumps(generate_school(size=20, seed=3))


def test_another_seed_gives_another_school():
    assert json.dumps(generate_school(size=20, seed=3)) != json.dumps(generate_school(size=20, seed=4))


def test_size_counts_applications_besides_current_students():
    doc = generate_school(size=25, seed=2, in_sentral=5)
    assert len(doc["enrolhq"]["applications"]) == 30
    assert len(tagged(doc, "in_sentral")) == 5


@pytest.mark.parametrize(
    "tag",
    [
        "eligible",
        "sibling_household",
        "duplicate",
        "twin",
        "split_family",
        "single_parent",
        "guardian",
        "in_sentral",
        "has_external_id",
    ],
)
def test_every_scenario_is_present(school, tag):
    assert tagged(school, tag)


def test_eligible_applications_are_in_orientation_with_an_accepted_offer_and_no_external_id(school):
    apps = applications_by_id(school)
    for app_id in tagged(school, "eligible"):
        app = apps[app_id]
        assert app["application_status"] == 4
        assert app["progress"]["enrolment_offer"]["accepted_at"]
        assert app["external_id"] is None


def test_siblings_share_their_primary_carer(school):
    by_parent: dict[int, list[dict]] = {}
    for app in school["enrolhq"]["applications"]:
        by_parent.setdefault(app["user_parent"]["id"], []).append(app)
    assert any(len(children) > 1 for children in by_parent.values())


def test_twins_share_birth_date_and_surname(school):
    apps = applications_by_id(school)
    twins = [apps[i] for i in tagged(school, "twin")]
    pairs = {(t["dob"], t["last_name"], t["user_parent"]["id"]) for t in twins}
    assert len(pairs) < len(twins)


def test_split_family_has_parent_2_at_another_address(school):
    app = applications_by_id(school)[tagged(school, "split_family")[0]]
    assert app["parents_relationship"] == "separated"
    assert app["non_user_parent"]["residential_address"] != app["user_parent"]["residential_address"]


def test_single_parent_family_has_no_parent_2(school):
    app = applications_by_id(school)[tagged(school, "single_parent")[0]]
    assert app["non_user_parent"] is None


def test_sibling_household_carer_is_a_sentral_person_with_that_household(school):
    app_id = tagged(school, "sibling_household")[0]
    facts = school["truth"]["applications"][app_id]
    carer = next(p for p in school["sentral"]["persons"] if p["id"] == facts["sentral_carer_person_id"])
    parent = applications_by_id(school)[app_id]["user_parent"]
    assert carer["primaryHousehold"] == facts["sentral_household_id"]
    assert (carer["firstName"], carer["lastName"]) == (parent["first_name"], parent["last_name"])


def test_duplicate_matches_a_sentral_student_on_names_birth_date_and_postcode(school):
    sentral = school["sentral"]
    for app_id in tagged(school, "duplicate"):
        app = applications_by_id(school)[app_id]
        student = next(
            s
            for s in sentral["students"]
            if s["id"] == school["truth"]["applications"][app_id]["sentral_student_id"]
        )
        person = next(p for p in sentral["persons"] if p["id"] == student["person"])
        household = next(h for h in sentral["households"] if h["id"] == student["households"][0])
        assert (person["firstName"], person["lastName"], person["dateOfBirth"]) == (
            app["first_name"],
            app["last_name"],
            app["dob"],
        )
        assert household["postcode"] == app["residential_address"]["postcode"]
        assert app["external_id"] is None


def test_roster_rows_name_every_sentral_student_with_code_and_birth_date(school):
    rows = roster_rows(school)
    assert {r["id"] for r in rows} == {s["id"] for s in school["sentral"]["students"]}
    in_sentral = {
        school["truth"]["applications"][a]["sentral_student_id"] for a in tagged(school, "in_sentral")
    }
    assert in_sentral <= {r["id"] for r in rows}
    assert all(r["student_code"] and r["dob"] for r in rows)


def test_documents_include_unverified_unmapped_and_one_oversized(school):
    docs = school["enrolhq"]["documents"]
    assert any(not d["is_verified"] for d in docs)
    assert any(d["group_kind"] == "CUSTOM_3" for d in docs)
    assert [d for d in docs if d["size"] > 10 * 1024 * 1024]


def test_every_label_and_sentence_form_appears_in_the_audit_log(school):
    sentences = [c for log in school["enrolhq"]["audit"] for e in log["entries"] for c in e["changes"]]
    for label in LABELS_IN_DOCS:
        assert any(re.match(rf"(Changed|Set|Cleared) {label} ", s) for s in sentences), label
    for form in ("Changed ", "Set ", "Cleared "):
        assert any(s.startswith(form) for s in sentences)
    for kind in ("guardian", "emergency contact", "parent"):
        assert any(s.startswith(f'Added {kind} "') for s in sentences)
        assert any(s.startswith(f'Removed {kind} "') for s in sentences)


def test_labels_written_by_the_sandbox_are_the_documented_ones():
    documented = set(LABELS_IN_DOCS) | {"External ID"}
    assert set(STUDENT_LABELS.values()) | set(PARENT_LABELS.values()) <= documented


def test_some_field_is_changed_twice_on_the_same_day(school):
    seen: dict[tuple, int] = {}
    for edit in school["truth"]["audit_edits"]:
        key = (edit["subject"], edit["subject_id"], edit["field"], edit["at"][:10])
        seen[key] = seen.get(key, 0) + 1
    assert max(seen.values()) >= 2


def test_audit_values_include_html_and_a_spreadsheet_formula(school):
    values = [e["new"] or "" for e in school["truth"]["audit_edits"]]
    assert any("<b>" in v for v in values)
    assert any(v.startswith("=HYPERLINK(") for v in values)


def test_audit_entries_fall_within_audit_days_before_as_of():
    doc = generate_school(size=16, seed=5, audit_days=4, as_of="2026-03-10")
    days = {datetime.fromisoformat(e["at"]).date() for e in doc["truth"]["audit_edits"]}
    assert min(days) >= date(2026, 3, 10) - timedelta(days=4)
    assert max(days) < date(2026, 3, 10)


def test_each_audit_chain_ends_at_the_records_present_value(school):
    apps = applications_by_id(school)
    last: dict[tuple, dict] = {}
    for edit in school["truth"]["audit_edits"]:
        if edit["subject"] == "student_profile":
            last[(edit["subject_id"], edit["field"])] = edit
    checked = 0
    for (app_id, label), edit in last.items():
        if label == "Suburb":
            assert edit["new"] == apps[app_id]["residential_address"]["suburb"]
            checked += 1
    assert checked


def test_newest_audit_entries_come_first(school):
    for log in school["enrolhq"]["audit"]:
        stamps = [datetime.fromisoformat(e["updated_at"]) for e in log["entries"]]
        assert stamps == sorted(stamps, reverse=True)
