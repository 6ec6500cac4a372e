"""Reading JSON:API documents: the corners the client tests do not reach."""

from __future__ import annotations

import pytest

from sentral.jsonapi import DocumentError, error_details, next_link, parse_resource, parse_resources


def test_to_many_lists_only_the_targets_the_document_included():
    document = {
        "data": {
            "type": "student",
            "id": "1",
            "relationships": {
                "households": {"data": [{"type": "household", "id": "3"}, {"type": "household", "id": "4"}]}
            },
        },
        "included": [{"type": "household", "id": "4", "attributes": {"postcode": "2750"}}],
    }

    student = parse_resource(document)

    assert student.relationships["households"] == ["3", "4"]
    assert [h.id for h in student.related("households")] == ["4"]


def test_relationship_with_links_only_is_left_out():
    document = {
        "data": {"type": "student", "id": "1", "relationships": {"flags": {"links": {"related": "x"}}}}
    }

    assert parse_resource(document).relationships == {}


def test_resources_that_point_at_each_other_compare_and_print_without_recursion():
    document = {
        "data": [
            {
                "type": "student",
                "id": "1",
                "relationships": {"person": {"data": {"type": "person", "id": "7"}}},
            }
        ],
        "included": [
            {
                "type": "person",
                "id": "7",
                "relationships": {"student": {"data": {"type": "student", "id": "1"}}},
            },
            {
                "type": "student",
                "id": "1",
                "relationships": {"person": {"data": {"type": "person", "id": "7"}}},
            },
        ],
    }

    (student,) = parse_resources(document)

    person = student.related("person")
    assert person.related("student").related("person") is person
    assert "person" in repr(student)
    assert student == person.related("student")


def test_missing_attribute_error_names_the_record_and_the_field():
    person = parse_resource({"data": {"type": "person", "id": "7", "attributes": {}}})

    with pytest.raises(KeyError, match="person 7 has no attribute 'dateOfBirth'"):
        person["dateOfBirth"]
    assert person.get("dateOfBirth", "unknown") == "unknown"


def test_resource_without_id_is_a_document_error_naming_where():
    with pytest.raises(DocumentError, match=r"data\[1\] lacks"):
        parse_resources({"data": [{"type": "house", "id": "1"}, {"type": "house"}]})


def test_single_resource_where_a_list_is_expected_is_a_document_error():
    with pytest.raises(DocumentError, match="expected a list"):
        parse_resources({"data": {"type": "house", "id": "1"}})


def test_error_without_pointer_reads_as_its_detail_or_title():
    document = {"errors": [{"title": "Server busy"}, {"detail": "Draft is locked", "source": {}}]}

    assert error_details(document) == ["Server busy", "Draft is locked"]


def test_next_link_may_be_a_link_object():
    assert next_link({"links": {"next": {"href": "https://h/restapi/v1/x?offset=200"}}}) == (
        "https://h/restapi/v1/x?offset=200"
    )
