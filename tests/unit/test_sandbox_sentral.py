"""The sandbox Sentral: keys and modules, JSON:API paging and includes, strict drafts, attachments."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

from sandbox.generator import SENTRAL_ENROLMENTS_ONLY_KEY, SENTRAL_KEY, SENTRAL_TENANT, generate_school
from sandbox.sentral import create_app

V1 = "/restapi/v1/"
HEADERS = {"X-API-KEY": SENTRAL_KEY, "X-API-TENANT": SENTRAL_TENANT}
DRAFTS = f"{V1}portal/student-enrolment-draft"


@pytest.fixture(scope="module")
def school() -> dict:
    return generate_school(size=16, seed=12)


@pytest.fixture
def client(school) -> TestClient:
    return TestClient(create_app(school))


def valid_draft() -> dict:
    data = {
        "reference": {"source": "EnrolHQ", "application_id": "a1"},
        "student": {"first_name": "Zoë", "family_name": "O'Brien", "dob": "2019-05-02", "gender": "F"},
        "enrolment": {"academic_period_id": "2", "campus_id": "1", "year": "1", "house": "3"},
        "households": [
            {
                "household_id": None,
                "address": {
                    "street_address": "1 King Street",
                    "suburb": "Newtown",
                    "state": "NSW",
                    "postcode": "2042",
                },
                "contacts": [
                    {"first_name": "Sarah", "family_name": "O'Brien", "default_relationship": "MOTHER"}
                ],
            }
        ],
        "notes": [{"note_type_id": "2", "contents": "From EnrolHQ"}],
    }
    return {"data": {"type": "studentEnrolmentDraft", "attributes": {"data": data}}}


def test_a_wrong_key_gets_401(client):
    response = client.get(f"{V1}enrolments/house", headers={**HEADERS, "X-API-KEY": "0" * 32})
    assert response.status_code == 401
    assert response.json()["errors"][0]["status"] == "401"


def test_a_wrong_tenant_gets_401(client):
    assert (
        client.get(f"{V1}enrolments/house", headers={**HEADERS, "X-API-TENANT": "OTHER"}).status_code == 401
    )


def test_a_key_without_the_portal_module_gets_403_on_drafts(client):
    headers = {**HEADERS, "X-API-KEY": SENTRAL_ENROLMENTS_ONLY_KEY}
    assert client.get(f"{V1}enrolments/house", headers=headers).status_code == 200
    assert client.get(DRAFTS, headers=headers).status_code == 403


def test_pages_link_next_absolutely_until_the_last_and_count_the_total(client, school):
    url, seen = f"{V1}enrolments/student?limit=3", []
    while url:
        body = client.get(url, headers=HEADERS).json()
        assert body["meta"]["count"] == len(school["sentral"]["students"])
        seen += [s["id"] for s in body["data"]]
        url = body["links"].get("next")
        assert url is None or url.startswith("http://testserver/restapi/v1/enrolments/student?")
    assert seen == [s["id"] for s in school["sentral"]["students"]]


def test_a_limit_over_200_is_refused(client):
    assert client.get(f"{V1}enrolments/student?limit=201", headers=HEADERS).status_code == 400


def test_students_include_their_person_and_households(client, school):
    body = client.get(f"{V1}enrolments/student?include=person,households&limit=1", headers=HEADERS).json()
    student = body["data"][0]
    included = {(r["type"], r["id"]) for r in body["included"]}
    assert ("person", student["relationships"]["person"]["data"]["id"]) in included
    for household in student["relationships"]["households"]["data"]:
        assert ("household", household["id"]) in included


def test_persons_include_their_primary_household(client, school):
    person = next(p for p in school["sentral"]["persons"] if p.get("primaryHousehold"))
    body = client.get(
        f"{V1}enrolments/person/{person['id']}?include=primaryHousehold", headers=HEADERS
    ).json()
    assert [(r["type"], r["id"]) for r in body["included"]] == [("household", person["primaryHousehold"])]


def test_person_name_filters_are_case_insensitive_and_exact(client, school):
    person = school["sentral"]["persons"][0]
    params = {"firstName": person["firstName"].upper(), "lastName": person["lastName"].lower()}
    found = client.get(f"{V1}enrolments/person", params=params, headers=HEADERS).json()["data"]
    assert person["id"] in [p["id"] for p in found]
    partial = {"firstName": person["firstName"][:-1], "lastName": person["lastName"]}
    assert client.get(f"{V1}enrolments/person", params=partial, headers=HEADERS).json()["data"] == []


def test_inactive_campuses_are_listed_only_when_asked(client):
    active = client.get(f"{V1}enrolments/campus", headers=HEADERS).json()["data"]
    everything = client.get(f"{V1}enrolments/campus?includeInactive=true", headers=HEADERS).json()["data"]
    assert all(c["attributes"]["isActive"] for c in active)
    assert len(everything) == len(active) + 1


def test_a_valid_draft_is_created_pending_without_a_student(client):
    response = client.post(DRAFTS, json=valid_draft(), headers=HEADERS)
    assert response.status_code == 201
    draft = response.json()["data"]
    assert draft["attributes"]["status"] == "pending"
    assert draft["relationships"]["student"]["data"] is None


def test_posting_the_same_draft_twice_makes_two_drafts(client):
    first = client.post(DRAFTS, json=valid_draft(), headers=HEADERS).json()["data"]["id"]
    second = client.post(DRAFTS, json=valid_draft(), headers=HEADERS).json()["data"]["id"]
    assert first != second
    assert client.get(DRAFTS, headers=HEADERS).json()["meta"]["count"] == 2


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("student", "first_name", ""),
        ("student", "family_name", None),
        ("student", "dob", "02/05/2019"),
        ("student", "gender", "female"),
        ("enrolment", "year", "14"),
        ("enrolment", "academic_period_id", "9"),
        ("enrolment", "campus_id", "3"),
        ("enrolment", "house", "7"),
    ],
)
def test_a_draft_with_a_bad_field_is_422_pointing_at_it(client, section, field, value):
    body = valid_draft()
    body["data"]["attributes"]["data"][section][field] = value
    response = client.post(DRAFTS, json=body, headers=HEADERS)
    assert response.status_code == 422
    pointers = [e["source"]["pointer"] for e in response.json()["errors"]]
    assert pointers == [f"/data/attributes/data/{section}/{field}"]


def test_an_unknown_relationship_code_is_422_pointing_at_the_contact(client):
    body = valid_draft()
    body["data"]["attributes"]["data"]["households"][0]["contacts"][0]["default_relationship"] = "MUM"
    response = client.post(DRAFTS, json=body, headers=HEADERS)
    pointer = response.json()["errors"][0]["source"]["pointer"]
    assert pointer == "/data/attributes/data/households/0/contacts/0/default_relationship"


def test_an_unknown_note_type_is_422_pointing_at_the_note(client):
    body = valid_draft()
    body["data"]["attributes"]["data"]["notes"][0]["note_type_id"] = "99"
    response = client.post(DRAFTS, json=body, headers=HEADERS)
    assert response.json()["errors"][0]["source"]["pointer"] == "/data/attributes/data/notes/0/note_type_id"


def test_a_rejected_draft_is_not_stored(client):
    body = valid_draft()
    body["data"]["attributes"]["data"]["student"]["gender"] = "?"
    client.post(DRAFTS, json=body, headers=HEADERS)
    assert client.get(DRAFTS, headers=HEADERS).json()["meta"]["count"] == 0


def attach(client: TestClient, draft_id: str, content: bytes, category: str = "1"):
    return client.post(
        f"{DRAFTS}/{draft_id}/attachment",
        params={"categoryId": category},
        files={"attachment": ("birth.pdf", content, "application/pdf")},
        headers=HEADERS,
    )


def test_an_attachment_is_stored_with_its_size_and_category(client):
    draft_id = client.post(DRAFTS, json=valid_draft(), headers=HEADERS).json()["data"]["id"]
    created = attach(client, draft_id, b"%PDF" + b"x" * 996).json()["data"]
    assert created["attributes"] == {"fileName": "birth.pdf", "categoryId": "1", "size": 1000}
    listed = client.get(f"{DRAFTS}/{draft_id}/attachment", headers=HEADERS).json()["data"]
    assert [a["id"] for a in listed] == [created["id"]]


def test_an_attachment_with_an_unknown_category_is_422(client):
    draft_id = client.post(DRAFTS, json=valid_draft(), headers=HEADERS).json()["data"]["id"]
    response = attach(client, draft_id, b"x", category="42")
    assert response.status_code == 422
    assert response.json()["errors"][0]["source"] == {"parameter": "categoryId"}


def test_an_attachment_over_10_mb_is_413(client):
    draft_id = client.post(DRAFTS, json=valid_draft(), headers=HEADERS).json()["data"]["id"]
    assert attach(client, draft_id, b"x" * (10 * 1024 * 1024 + 1)).status_code == 413


def test_approving_a_draft_creates_a_student_with_person_and_household(client):
    draft_id = client.post(DRAFTS, json=valid_draft(), headers=HEADERS).json()["data"]["id"]
    approved = client.post(f"/_sandbox/drafts/{draft_id}/approve").json()
    draft = client.get(f"{DRAFTS}/{draft_id}", headers=HEADERS).json()["data"]
    assert draft["attributes"]["status"] == "approved"
    student_id = draft["relationships"]["student"]["data"]["id"]
    assert student_id == approved["student"]
    body = client.get(
        f"{V1}enrolments/student/{student_id}?include=person,households", headers=HEADERS
    ).json()
    person = next(r for r in body["included"] if r["type"] == "person")
    assert (person["attributes"]["firstName"], person["attributes"]["dateOfBirth"]) == ("Zoë", "2019-05-02")
    household = next(r for r in body["included"] if r["type"] == "household")
    assert household["attributes"]["postcode"] == "2042"


def test_after_a_reset_an_approved_students_person_is_still_included(client):
    assert client.post("/_sandbox/reset").status_code == 200
    draft_id = client.post(DRAFTS, json=valid_draft(), headers=HEADERS).json()["data"]["id"]
    student_id = client.post(f"/_sandbox/drafts/{draft_id}/approve").json()["student"]

    body = client.get(f"{V1}enrolments/student/{student_id}?include=person", headers=HEADERS).json()

    assert [r["attributes"]["firstName"] for r in body["included"]] == ["Zoë"]


def test_approving_a_draft_linked_to_a_household_reuses_it(client, school):
    household_id = school["sentral"]["households"][0]["id"]
    body = copy.deepcopy(valid_draft())
    body["data"]["attributes"]["data"]["households"][0]["household_id"] = household_id
    draft_id = client.post(DRAFTS, json=body, headers=HEADERS).json()["data"]["id"]
    student_id = client.post(f"/_sandbox/drafts/{draft_id}/approve").json()["student"]
    student = client.get(f"{V1}enrolments/student/{student_id}", headers=HEADERS).json()["data"]
    assert student["relationships"]["households"]["data"] == [{"type": "household", "id": household_id}]


def test_a_draft_linking_an_unknown_household_is_422(client):
    body = valid_draft()
    body["data"]["attributes"]["data"]["households"][0]["household_id"] = "999999"
    response = client.post(DRAFTS, json=body, headers=HEADERS)
    assert (
        response.json()["errors"][0]["source"]["pointer"] == "/data/attributes/data/households/0/household_id"
    )
