"""SentralClient against the sandbox Sentral: the calls the sync relies on, end to end over loopback."""

from __future__ import annotations

import pytest

from apicore.errors import AuthenticationError, ResponseLostError
from sandbox.generator import generate_school
from sandbox.testing import SandboxServers
from sentral.client import DRAFT_STATUS_PENDING, SentralClient

GENDER_CODES = {1: "M", 2: "F", 3: "X", 4: "U"}


@pytest.fixture(scope="module")
def school() -> dict:
    return generate_school(size=4)


@pytest.fixture(scope="module")
def servers(school):
    with SandboxServers(school) as running:
        yield running


def client_with_key(servers, key: dict) -> SentralClient:
    return SentralClient(servers.sentral_url, key["key"], key["tenant"], timeout=10)


@pytest.fixture
def client(servers, school) -> SentralClient:
    servers.sentral.reset()
    full_access = next(k for k in school["sentral"]["api_keys"] if "portal" in k["modules"])
    return client_with_key(servers, full_access)


def draft_data(school: dict) -> dict:
    """The smallest draft the sandbox accepts, for the school's first application."""
    application = school["enrolhq"]["applications"][0]
    tables = school["sentral"]
    return {
        "reference": {"source": "EnrolHQ", "application_id": application["id"]},
        "student": {
            "first_name": application["first_name"],
            "family_name": application["last_name"],
            "dob": application["dob"],
            "gender": GENDER_CODES[application["gender"]],
        },
        "enrolment": {
            "year": next(y["id"] for y in tables["year_levels"] if y["isActive"]),
            "academic_period_id": tables["academic_periods"][0]["id"],
            "campus_id": next(c["id"] for c in tables["campuses"] if c["isActive"]),
        },
    }


def test_draft_is_created_read_back_and_given_an_attachment(client, school):
    data = draft_data(school)
    category = school["sentral"]["document_categories"][0]["id"]

    created = client.create_draft(data)
    read = client.get_draft(created.id)
    attachment = client.upload_attachment(
        created.id, filename="birth.pdf", content=b"%PDF-1.4", category_id=category
    )

    assert read["status"] == DRAFT_STATUS_PENDING
    assert read["data"]["reference"]["application_id"] == data["reference"]["application_id"]
    assert (attachment["fileName"], str(attachment["categoryId"])) == ("birth.pdf", category)
    assert [a.id for a in client.list_attachments(created.id)] == [attachment.id]


def test_person_found_by_name_names_their_primary_household(client, school):
    person = school["sentral"]["persons"][0]

    (found,) = client.iter_persons(firstName=person["firstName"].upper(), lastName=person["lastName"].lower())

    assert found.id == person["id"]
    assert found.relationships["primaryHousehold"] == person["primaryHousehold"]


def test_key_without_portal_module_is_told_which_module_it_lacks(servers, school):
    enrolments_only = next(k for k in school["sentral"]["api_keys"] if "portal" not in k["modules"])
    client = client_with_key(servers, enrolments_only)

    with pytest.raises(AuthenticationError, match="Portal module"):
        client.create_draft(draft_data(school))


def test_draft_whose_answer_is_dropped_raises_response_lost_yet_exists(client, servers, school):
    data = draft_data(school)
    servers.sentral.add_fault(method="POST", path="student-enrolment-draft$", drop_response=True)

    with pytest.raises(ResponseLostError):
        client.create_draft(data)

    (draft,) = client.iter_drafts()
    assert draft["data"]["reference"] == data["reference"]
