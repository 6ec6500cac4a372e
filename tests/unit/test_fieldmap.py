"""The draft field map: validating fields.yml and rendering draft sections from EnrolHQ records."""

from __future__ import annotations

from pathlib import Path

import pytest

from apicore.errors import FatalApiError
from sandbox.generator import generate_school
from sentral.fieldmap import FieldMap, MappingError, PayloadError
from sentral.mappings import load_school

DEMO_ROOT = Path(__file__).resolve().parents[2] / "include" / "mappings"
APP_ID = "9f2c1e0a-0000-4000-8000-000000000001"


def _map(**sections):
    spec = {name: {} for name in ("reference", "student", "enrolment", "contact", "address", "note")}
    spec.update(sections)
    return FieldMap.from_dict(spec, path="fields.yml")


def _render(field_map, section, source, *, lookups=None, defaults=None):
    return field_map.render(section, source, lookups=lookups or {}, defaults=defaults or {}, record_id=APP_ID)


@pytest.fixture(scope="module")
def demo():
    return load_school("demo", root=DEMO_ROOT)


@pytest.fixture(scope="module")
def applications():
    return generate_school(size=24, seed=7)["enrolhq"]["applications"]


def test_shorthand_rule_reads_the_named_source_field():
    field_map = _map(student={"pref_name": "preferred_name"})

    assert _render(field_map, "student", {"preferred_name": "Ava"}) == {"pref_name": "Ava"}


def test_dotted_source_path_reads_nested_values():
    field_map = _map(address={"postcode": {"from": "residential_address.postcode", "format": "str"}})

    rendered = _render(field_map, "address", {"residential_address": {"postcode": 2000}})

    assert rendered == {"postcode": "2000"}


def test_missing_required_value_names_the_application_and_the_field():
    field_map = _map(student={"dob": {"from": "dob", "required": True, "format": "date"}})

    with pytest.raises(PayloadError) as caught:
        _render(field_map, "student", {"dob": None})

    assert str(caught.value) == f"application {APP_ID}: student.dob is missing"
    assert isinstance(caught.value, FatalApiError)


def test_blank_text_counts_as_missing():
    field_map = _map(student={"first_name": {"from": "first_name", "required": True}})

    with pytest.raises(PayloadError, match=r"student\.first_name is missing"):
        _render(field_map, "student", {"first_name": "   "})


def test_unmapped_lookup_value_names_the_value_and_the_table(demo):
    with pytest.raises(PayloadError) as caught:
        demo.fields.render(
            "enrolment",
            {"campus": "Main Campus", "entry_grade": "Year 13"},
            lookups=demo.lookups,
            defaults=demo.defaults,
            record_id=APP_ID,
        )

    assert caught.value.field == "enrolment.year"
    assert "'Year 13'" in str(caught.value)
    assert "year_levels.csv" in str(caught.value)


def test_lookup_turns_enrolhq_value_into_sentral_value(demo, applications):
    application = next(app for app in applications if app["gender"] == 2)

    rendered = demo.fields.render(
        "student", application, lookups=demo.lookups, defaults=demo.defaults, record_id=application["id"]
    )

    assert rendered["gender"] == "F"
    assert rendered["dob"] == application["dob"]


def test_every_generated_application_renders_with_the_demo_mappings(demo, applications):
    def render(section, source):
        return demo.fields.render(
            section, source, lookups=demo.lookups, defaults=demo.defaults, record_id=source.get("id", "x")
        )

    for application in applications:
        assert render("student", application)["family_name"] == application["last_name"].strip()
        assert render("enrolment", application)["year"]
        assert render("address", application["residential_address"])["postcode"]
        for carer in [application["user_parent"], application["non_user_parent"], *application["guardians"]]:
            if carer:
                assert render("contact", carer)["default_relationship"]


def test_default_fills_an_empty_source_value(demo):
    rendered = demo.fields.render(
        "enrolment",
        {"campus": None, "entry_grade": "Year 7"},
        lookups=demo.lookups,
        defaults=demo.defaults,
        record_id=APP_ID,
    )

    assert rendered["campus_id"] == demo.defaults["campus_id"]
    assert rendered["year"] == "8"


def test_default_is_used_as_a_sentral_value_without_lookup():
    field_map = _map(
        enrolment={"campus_id": {"from": "campus", "lookup": "campuses", "default": "campus_id"}}
    )

    rendered = _render(field_map, "enrolment", {}, lookups={"campuses": {}}, defaults={"campus_id": "7"})

    assert rendered == {"campus_id": "7"}


def test_const_is_written_as_given():
    field_map = _map(enrolment={"is_boarding": {"const": False}})

    assert _render(field_map, "enrolment", {}) == {"is_boarding": False}


def test_optional_empty_field_is_left_out_of_the_section():
    field_map = _map(student={"middle_names": "middle_name", "title": "title"})

    assert _render(field_map, "student", {"title": "Ms", "middle_name": ""}) == {"title": "Ms"}


def test_false_is_a_value_not_a_missing_one():
    field_map = _map(
        contact={"lives_with": {"from": "lives_with_student", "format": "bool", "required": True}}
    )

    assert _render(field_map, "contact", {"lives_with_student": False}) == {"lives_with": False}


@pytest.mark.parametrize(
    ("given", "expected"), [("2019-03-04", "2019-03-04"), ("2019-03-04T00:00:00Z", "2019-03-04")]
)
def test_date_format_writes_year_month_day(given, expected):
    field_map = _map(student={"dob": {"from": "dob", "format": "date"}})

    assert _render(field_map, "student", {"dob": given}) == {"dob": expected}


def test_unreadable_date_is_refused_without_echoing_the_value():
    field_map = _map(student={"dob": {"from": "dob", "format": "date"}})

    with pytest.raises(PayloadError) as caught:
        _render(field_map, "student", {"dob": "04/03/2019"})

    assert "04/03/2019" not in str(caught.value)
    assert "student.dob is not a date" in str(caught.value)


def test_label_names_the_contact_in_errors():
    field_map = _map(contact={"first_name": {"from": "first_name", "required": True}})

    with pytest.raises(PayloadError, match=r"contact \(Parent 2\)\.first_name is missing"):
        field_map.render("contact", {}, lookups={}, defaults={}, record_id=APP_ID, label="contact (Parent 2)")


def test_unknown_rule_key_is_refused_naming_file_and_field():
    with pytest.raises(MappingError, match=r"fields\.yml, student\.dob: unknown rule key 'form'"):
        _map(student={"dob": {"form": "dob"}})


def test_const_with_from_is_refused():
    with pytest.raises(MappingError, match=r"student\.title: `const` cannot be combined"):
        _map(student={"title": {"const": "Mr", "from": "title"}})


def test_lookup_without_from_is_refused():
    with pytest.raises(MappingError, match=r"enrolment\.year: `lookup` needs `from`"):
        _map(enrolment={"year": {"lookup": "year_levels", "default": "campus_id"}})


def test_unknown_format_is_refused():
    with pytest.raises(MappingError, match="`format` must be one of"):
        _map(student={"dob": {"from": "dob", "format": "datetime"}})


def test_unknown_section_is_refused():
    with pytest.raises(MappingError, match=r"fields\.yml, medical: unknown section"):
        FieldMap.from_dict({"medical": {}}, path="fields.yml")


def test_missing_section_is_refused():
    with pytest.raises(MappingError, match="note: section is missing"):
        FieldMap.from_dict(
            {name: {} for name in ("reference", "student", "enrolment", "contact", "address")},
            path="fields.yml",
        )


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "fields.yml"
    path.write_text("student:\n  first_name: {from: first_name\n")

    with pytest.raises(MappingError, match=r"fields\.yml, line \d+: not valid YAML"):
        FieldMap.load(path)


def test_demo_map_uses_every_required_lookup_except_document_categories(demo):
    assert demo.fields.lookups_used() == {"year_levels", "campuses", "genders", "relationships"}
