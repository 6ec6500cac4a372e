"""SentralClient against a mocked Sentral (``responses``): paging, includes, errors, retries, uploads."""

from __future__ import annotations

import json
import logging
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from apicore.backoff import BackoffPolicy
from apicore.errors import (
    AuthenticationError,
    FatalApiError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    ResponseLostError,
    RetriableApiError,
)
from sandbox.lookups import sentral_lookups
from sentral.client import DRAFT_TYPE, SentralClient

BASE = "https://school.sentral.test/restapi/"
KEY = "0f3a9c1e5b7d2468ace013579bdf2468"
TENANT = "Tn7Qx2"
YEAR_LEVELS = BASE + "v1/enrolments/year-level"
STUDENTS = BASE + "v1/enrolments/student"
PERSONS = BASE + "v1/enrolments/person"
DRAFTS = BASE + "v1/portal/student-enrolment-draft"
LOOKUPS = sentral_lookups(date(2026, 12, 3))


def resource(type_: str, id_: str, attributes: dict | None = None, **relationships) -> dict:
    """A JSON:API resource object; each relationship is a (type, id), a list of them, or None."""
    rels = {}
    for name, target in relationships.items():
        if target is None:
            rels[name] = {"data": None}
        elif isinstance(target, list):
            rels[name] = {"data": [{"type": t, "id": i} for t, i in target]}
        else:
            rels[name] = {"data": {"type": target[0], "id": target[1]}}
    return {"type": type_, "id": id_, "attributes": attributes or {}, "relationships": rels}


def lookup_rows(kind: str, type_: str) -> list[dict]:
    return [resource(type_, row["id"], {k: v for k, v in row.items() if k != "id"}) for row in LOOKUPS[kind]]


def page(data, *, next_url: str | None = None, included: list[dict] | None = None) -> dict:
    document = {"data": data, "links": {"self": "ignored"}, "meta": {"count": 0}}
    if next_url:
        document["links"]["next"] = next_url
    if included is not None:
        document["included"] = included
    return document


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def client(sleep: FakeSleep) -> SentralClient:
    return SentralClient(BASE, KEY, TENANT, backoff=BackoffPolicy(attempts=3, base=0.01, cap=60), sleep=sleep)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def query_of(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


# --- Paging ---


def test_paging_follows_links_next_across_three_pages(client, rsps):
    rows = lookup_rows("year_levels", "yearLevel")
    second, third = YEAR_LEVELS + "?limit=5&offset=5", YEAR_LEVELS + "?limit=5&offset=10"
    rsps.get(YEAR_LEVELS, json=page(rows[:5], next_url=second), match=[_offset("0")])
    rsps.get(YEAR_LEVELS, json=page(rows[5:10], next_url=third), match=[_offset("5")])
    rsps.get(YEAR_LEVELS, json=page(rows[10:]), match=[_offset("10")])

    levels = client.lookup("year_levels")

    assert [level.id for level in levels] == [row["id"] for row in rows]
    assert len(rsps.calls) == 3


def test_first_page_asks_for_two_hundred_from_offset_zero(client, rsps):
    rsps.get(YEAR_LEVELS, json=page([]))

    client.lookup("year_levels")

    assert query_of(rsps.calls[0]) == {"limit": ["200"], "offset": ["0"]}


def test_next_link_to_another_host_is_not_followed(client, rsps):
    rsps.get(YEAR_LEVELS, json=page([], next_url="https://elsewhere.test/restapi/v1/enrolments/year-level"))

    with pytest.raises(FatalApiError, match="another host"):
        client.lookup("year_levels")

    assert len(rsps.calls) == 1


def test_next_link_with_plain_http_keeps_the_configured_scheme(client, rsps):
    next_url = "http://school.sentral.test/restapi/v1/enrolments/year-level?limit=200&offset=200"
    rsps.get(YEAR_LEVELS, json=page([], next_url=next_url), match=[_offset("0")])
    rsps.get(YEAR_LEVELS, json=page([]), match=[_offset("200")])

    client.lookup("year_levels")

    assert rsps.calls[1].request.url.startswith("https://")


def test_paging_that_loops_back_is_stopped(client, rsps):
    rsps.get(YEAR_LEVELS, json=page([], next_url=YEAR_LEVELS + "?limit=200&offset=0"))

    with pytest.raises(FatalApiError, match="loops back"):
        client.lookup("year_levels")


def test_campus_lookup_includes_inactive_campuses(client, rsps):
    rsps.get(BASE + "v1/enrolments/campus", json=page(lookup_rows("campuses", "campus")))

    campuses = client.lookup("campuses")

    assert query_of(rsps.calls[0])["includeInactive"] == ["true"]
    assert [c["isActive"] for c in campuses] == [row["isActive"] for row in LOOKUPS["campuses"]]


def test_unknown_lookup_kind_is_refused_before_any_request(client, rsps):
    with pytest.raises(ValueError, match="genders"):
        client.lookup("genders")

    assert len(rsps.calls) == 0


def test_filters_use_sentrals_spelling_for_lists_and_booleans(client, rsps):
    rsps.get(STUDENTS, json=page([]))

    list(client.iter_students(studentCodes=["S1", "S2"], includeInactive=False, ids=None))

    query = query_of(rsps.calls[0])
    assert query["studentCodes"] == ["S1,S2"]
    assert query["includeInactive"] == ["false"]
    assert "ids" not in query
    assert query["include"] == ["person,households"]


# --- Included resources ---


def test_student_include_resolves_person_and_households(client, rsps):
    student = resource(
        "student", "41", {"studentCode": "S041"}, person=("person", "7"), households=[("household", "3")]
    )
    person = resource("person", "7", {"firstName": "Zoë", "lastName": "O'Brien"})
    household = resource("household", "3", {"householdCode": "H3", "postcode": "2204"})
    rsps.get(STUDENTS + "/41", json={"data": student, "included": [person, household]})

    found = client.get_student(41)

    assert found.relationships == {"person": "7", "households": ["3"]}
    assert found.related("person")["firstName"] == "Zoë"
    assert [h["postcode"] for h in found.related("households")] == ["2204"]


def test_included_resources_resolve_their_own_relationships(client, rsps):
    person = resource("person", "7", {"lastName": "Tran"}, primaryHousehold=("household", "3"))
    household = resource("household", "3", {"postcode": "2042"})
    student = resource("student", "41", person=("person", "7"))
    rsps.get(STUDENTS, json=page([student], included=[person, household]))

    (found,) = client.iter_students()

    assert found.related("person").related("primaryHousehold")["postcode"] == "2042"


def test_draft_without_student_has_none_for_the_relationship(client, rsps):
    draft = resource("studentEnrolmentDraft", "12", {"status": "pending"}, student=None)
    rsps.get(DRAFTS + "/12", json={"data": draft})

    found = client.get_draft(12)

    assert found.relationships["student"] is None
    assert found.related("student") is None


def test_relationship_not_included_leaves_no_resolved_resource(client, rsps):
    student = resource("student", "41", person=("person", "7"))
    rsps.get(STUDENTS + "/41", json={"data": student})

    found = client.get_student(41)

    assert found.relationships["person"] == "7"
    assert "person" not in found.included


# --- Errors ---


def test_401_says_key_or_tenant_is_wrong_and_where_to_fix_it(client, rsps):
    rsps.get(YEAR_LEVELS, status=401, json={"errors": [{"status": "401", "title": "Unauthorized"}]})

    with pytest.raises(AuthenticationError) as caught:
        client.check()

    message = str(caught.value)
    assert message.startswith("Sentral 401")
    assert "API key or the tenant code is wrong" in message
    assert "API Keys" in message
    assert len(rsps.calls) == 1


def test_403_names_the_module_the_key_lacks(client, rsps):
    rsps.post(DRAFTS, status=403, json={"errors": [{"status": "403", "title": "Forbidden"}]})

    with pytest.raises(AuthenticationError) as caught:
        client.create_draft({"student": {}})

    message = str(caught.value)
    assert "lacks permission" in message
    assert "Portal module" in message
    assert "wrong" not in message


def test_404_is_not_found(client, rsps):
    rsps.get(PERSONS + "/99", status=404, json={"errors": [{"status": "404", "title": "Not Found"}]})

    with pytest.raises(NotFoundError, match="v1/enrolments/person/99"):
        client.get_person(99)


def test_422_gives_one_detail_per_error_with_its_field_pointer(client, rsps):
    errors = [
        {
            "status": "422",
            "title": "Invalid",
            "detail": "must be YYYY-MM-DD",
            "source": {"pointer": _ptr("dob")},
        },
        {
            "status": "422",
            "title": "Invalid",
            "detail": "unknown year level",
            "source": {"pointer": _ptr("year")},
        },
    ]
    rsps.post(DRAFTS, status=422, json={"errors": errors})

    with pytest.raises(RequestRejectedError) as caught:
        client.create_draft({"student": {"dob": "3/4/2019"}})

    assert caught.value.details == [
        f"{_ptr('dob')}: must be YYYY-MM-DD",
        f"{_ptr('year')}: unknown year level",
    ]
    assert _ptr("dob") in str(caught.value)


def test_redirect_is_not_followed_with_the_key(client, rsps):
    rsps.get(YEAR_LEVELS, status=301, headers={"Location": "https://login.elsewhere.test/"})

    with pytest.raises(FatalApiError, match=r"redirected to login\.elsewhere\.test"):
        client.check()

    assert len(rsps.calls) == 1


def test_answer_that_is_not_json_api_is_fatal(client, rsps):
    rsps.get(DRAFTS + "/12", json={"draft": {"id": 12}})

    with pytest.raises(FatalApiError, match="unreadable document"):
        client.get_draft(12)


# --- Retries on GET ---


def test_429_waits_as_long_as_retry_after_says(client, rsps, sleep):
    rsps.get(YEAR_LEVELS, status=429, headers={"Retry-After": "7"})
    rsps.get(YEAR_LEVELS, json=page(lookup_rows("year_levels", "yearLevel")))

    levels = client.lookup("year_levels")

    assert sleep.waits == [7.0]
    assert len(levels) == len(LOOKUPS["year_levels"])


def test_5xx_on_get_is_retried_until_it_succeeds(client, rsps, sleep):
    rsps.get(STUDENTS + "/41", status=502)
    rsps.get(STUDENTS + "/41", status=503)
    rsps.get(STUDENTS + "/41", json={"data": resource("student", "41")})

    assert client.get_student(41).id == "41"
    assert len(sleep.waits) == 2
    assert client.stats.retries == 2


def test_dropped_connection_on_get_is_retried(client, rsps, sleep):
    rsps.get(STUDENTS + "/41", body=requests.ConnectionError("reset by peer"))
    rsps.get(STUDENTS + "/41", json={"data": resource("student", "41")})

    assert client.get_student(41).id == "41"
    assert len(rsps.calls) == 2


def test_get_gives_up_after_the_policys_attempts_with_a_retriable_error(client, rsps, sleep):
    rsps.get(STUDENTS + "/41", status=500)

    with pytest.raises(RetriableApiError) as caught:
        client.get_student(41)

    assert not isinstance(caught.value, ResponseLostError)
    assert len(rsps.calls) == 3


def test_4xx_rejection_is_not_retried(client, rsps, sleep):
    rsps.get(PERSONS, status=400, json={"errors": [{"detail": "bad filter", "source": {"parameter": "dob"}}]})

    with pytest.raises(RequestRejectedError, match="query parameter dob: bad filter"):
        list(client.iter_persons(dob="x"))

    assert len(rsps.calls) == 1


# --- POST: never retried unless Sentral refused it with 429 ---


def test_post_timeout_raises_response_lost_after_exactly_one_post(client, rsps, sleep):
    rsps.post(DRAFTS, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ResponseLostError, match="Look for the record"):
        client.create_draft({"student": {"first_name": "Ivy"}})

    assert len(rsps.calls) == 1
    assert sleep.waits == []


def test_post_503_raises_response_lost_and_is_not_retried(client, rsps):
    rsps.post(DRAFTS, status=503)

    with pytest.raises(ResponseLostError):
        client.create_draft({"student": {"first_name": "Ivy"}})

    assert len(rsps.calls) == 1


def test_post_refused_with_429_is_sent_again(client, rsps, sleep):
    rsps.post(DRAFTS, status=429, headers={"Retry-After": "2"})
    rsps.post(DRAFTS, json={"data": resource(DRAFT_TYPE, "12", {"status": "pending"})})

    draft = client.create_draft({"student": {"first_name": "Ivy"}})

    assert draft.id == "12"
    assert sleep.waits == [2.0]
    assert len(rsps.calls) == 2


def test_post_that_keeps_getting_429_raises_rate_limited_not_lost(client, rsps):
    rsps.post(DRAFTS, status=429)

    with pytest.raises(RateLimitedError):
        client.create_draft({"student": {}})

    assert len(rsps.calls) == 3


# --- Drafts and attachments ---


def test_create_draft_sends_a_json_api_document_of_the_draft_type(client, rsps):
    data = {"reference": {"source": "EnrolHQ", "application_id": "9f2c"}, "student": {"first_name": "Ivy"}}
    rsps.post(DRAFTS, json={"data": resource(DRAFT_TYPE, "12", {"status": "pending", "data": data})})

    client.create_draft(data)

    request = rsps.calls[0].request
    assert request.headers["Content-Type"] == "application/vnd.api+json"
    assert json.loads(request.body) == {"data": {"type": DRAFT_TYPE, "attributes": {"data": data}}}


def test_draft_data_that_json_cannot_carry_names_application_and_field(client, rsps):
    data = {"reference": {"application_id": "9f2c"}, "student": {"dob": date(2019, 4, 3)}}

    with pytest.raises(ValueError, match=r"application 9f2c: field data\.student\.dob holds a date"):
        client.create_draft(data)

    assert len(rsps.calls) == 0


def test_upload_sends_the_file_as_the_attachment_part_with_category_in_query(client, rsps):
    url = DRAFTS + "/12/attachment"
    rsps.post(
        url, json={"data": resource("studentDocument", "90", {"fileName": "birth.pdf", "categoryId": "1"})}
    )

    attachment = client.upload_attachment(
        12, filename="birth.pdf", content=b"%PDF-1.4 bytes", category_id=1, content_type="application/pdf"
    )

    request = rsps.calls[0].request
    assert attachment.id == "90"
    assert query_of(rsps.calls[0]) == {"categoryId": ["1"]}
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="attachment"; filename="birth.pdf"' in request.body
    assert b"Content-Type: application/pdf\r\n\r\n%PDF-1.4 bytes" in request.body


def test_list_attachments_reads_the_drafts_attachment_collection(client, rsps):
    rows = [resource("studentDocument", "90", {"fileName": "birth.pdf", "categoryId": "1", "size": 10})]
    rsps.get(DRAFTS + "/12/attachment", json=page(rows))

    assert [a["fileName"] for a in client.list_attachments(12)] == ["birth.pdf"]


# --- Headers, stats and secrets ---


def test_every_request_carries_key_tenant_and_json_api_accept(client, rsps):
    rsps.get(YEAR_LEVELS, json=page([]))

    client.check()

    headers = rsps.calls[0].request.headers
    assert headers["X-API-KEY"] == KEY
    assert headers["X-API-TENANT"] == TENANT
    assert headers["Accept"] == "application/vnd.api+json, application/json"


def test_stats_count_requests_retries_and_endpoints_with_ids_folded(client, rsps):
    rsps.get(DRAFTS + "/12", status=500)
    rsps.get(DRAFTS + "/12", json={"data": resource(DRAFT_TYPE, "12")})
    rsps.get(DRAFTS + "/13", json={"data": resource(DRAFT_TYPE, "13")})

    client.get_draft(12)
    client.get_draft(13)

    assert client.stats.as_dict() == {
        "requests": 3,
        "retries": 1,
        "by_endpoint": {"GET v1/portal/student-enrolment-draft/{id}": 3},
    }


def test_key_and_tenant_never_reach_logs_or_error_text(client, rsps, caplog):
    echo = f"key {KEY} is not valid for tenant {TENANT}"
    rsps.get(YEAR_LEVELS, status=503)
    rsps.get(YEAR_LEVELS, status=422, json={"errors": [{"detail": echo}]})
    caplog.set_level(logging.DEBUG)

    with pytest.raises(RequestRejectedError) as caught:
        client.check()

    text = caplog.text + str(caught.value) + repr(client)
    assert KEY not in text
    assert TENANT not in text


def test_query_string_names_stay_out_of_error_text(client, rsps):
    rsps.get(PERSONS, body=requests.ConnectionError("GET /restapi/v1/enrolments/person?firstName=Zo%C3%AB"))

    with pytest.raises(RetriableApiError) as caught:
        list(client.iter_persons(firstName="Zoë", lastName="Tran"))

    assert "Zo" not in str(caught.value)
    assert "Tran" not in str(caught.value)
    assert caught.value.__suppress_context__


def _offset(value: str):
    def match(request):
        offset = parse_qs(urlsplit(request.url).query).get("offset")
        return offset == [value], f"offset {offset} is not {value}"

    return match


def _ptr(field: str) -> str:
    section = "student" if field == "dob" else "enrolment"
    return f"/data/attributes/data/{section}/{field}"


def test_record_id_that_would_change_the_path_is_refused(client, rsps):
    with pytest.raises(ValueError, match="is not a Sentral record id"):
        client.get_draft("12/../../enrolments/student")

    assert len(rsps.calls) == 0
