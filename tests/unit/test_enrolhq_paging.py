"""EnrolHQClient reads whole lists: page-number and cursor paging, filters, documents."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
import responses
from responses import matchers

from apicore.backoff import BackoffPolicy
from apicore.errors import FatalApiError
from apicore.ratelimit import RateLimiter
from enrolhq.client import EnrolHQClient
from enrolhq.tokens import MemoryTokenStore, token_key
from sandbox.families import FamilyBuilder
from sandbox.sentences import change_sentence

BASE = "https://school.enrolhq.test/api/v2/"
API_TOKEN = "api-token-5d0c7b1e9a44"
ACCESS_TOKEN = "access-token-0a9e33c1"


@pytest.fixture
def client() -> EnrolHQClient:
    store = MemoryTokenStore()
    store.replace(token_key(BASE, API_TOKEN), None, lambda: ACCESS_TOKEN)
    return EnrolHQClient(
        BASE,
        API_TOKEN,
        token_store=store,
        rate_limiter=RateLimiter(0),
        backoff=BackoffPolicy(attempts=2, base=0.0),
        sleep=lambda seconds: None,
    )


@pytest.fixture(scope="module")
def builder() -> FamilyBuilder:
    built = FamilyBuilder(random.Random(20261), date(2026, 11, 2))
    built.family("together", [{"status": 4, "accepted": True}, {"status": 4, "accepted": True}])
    built.family("split", [{"status": 4, "accepted": True}])
    built.family("single_parent", [{"status": 3}, {"status": 12, "accepted": False}])
    return built


def page(results: list[dict], next_url: str | None, count: int | None = None) -> dict:
    body = {"next": next_url, "previous": None, "results": results}
    if count is not None:
        body["count"] = count
    return body


def audit_entries(application: dict, newest: datetime, count: int) -> list[dict]:
    """Entries one hour apart, newest first, as EnrolHQ lists them."""
    return [
        {
            "id": 9000 + index,
            "changes": [
                change_sentence("Suburb", f"Old {index}", application["residential_address"]["suburb"])
            ],
            "updated_at": (newest - timedelta(hours=index)).isoformat(),
            "updated_by": {"id": 1001, "full_name": "Parent", "role": "parent"},
        }
        for index in range(count)
    ]


@responses.activate
def test_summaries_follow_next_links_until_the_last_page(client, builder):
    apps = builder.applications
    url = BASE + "applications-list/"
    responses.get(
        url,
        match=[matchers.query_param_matcher({"page_size": "2"})],
        json=page(apps[:2], url + "?page=2&page_size=2", 5),
    )
    responses.get(
        url,
        match=[matchers.query_param_matcher({"page": "2", "page_size": "2"})],
        json=page(apps[2:4], url + "?page=3&page_size=2", 5),
    )
    responses.get(
        url,
        match=[matchers.query_param_matcher({"page": "3", "page_size": "2"})],
        json=page(apps[4:], None, 5),
    )

    ids = [summary["id"] for summary in client.iter_applications(page_size=2)]

    assert ids == [app["id"] for app in apps]


@responses.activate
def test_status_and_external_id_filters_are_sent_as_list_parameters(client):
    responses.get(
        BASE + "applications-list/",
        match=[
            matchers.query_param_matcher(
                {"application_statuses": ["4", "12"], "has_external_id": "false", "page_size": "200"}
            )
        ],
        json=page([], None, 0),
    )

    assert list(client.iter_applications(statuses=[4, 12], has_external_id=False)) == []


def test_external_id_filter_is_refused_because_enrolhq_ignores_it(client):
    with pytest.raises(ValueError, match="external_id"):
        list(client.iter_applications(external_id="S1234"))


def test_empty_status_list_selects_nothing_without_asking(client):
    with responses.RequestsMock():
        assert list(client.iter_applications(statuses=[])) == []


@responses.activate
def test_page_size_above_the_summary_limit_is_capped_at_200(client):
    responses.get(
        BASE + "applications-list/",
        match=[matchers.query_param_matcher({"page_size": "200"})],
        json=page([], None, 0),
    )

    list(client.iter_applications(page_size=500))

    assert len(responses.calls) == 1


@responses.activate
def test_next_link_written_with_http_is_followed_over_the_connections_https(client, builder):
    url = BASE + "applications-list/"
    plain = url.replace("https://", "http://")
    responses.get(
        url,
        match=[matchers.query_param_matcher({"page_size": "200"})],
        json=page(builder.applications[:1], plain + "?page=2", 2),
    )
    responses.get(
        url,
        match=[matchers.query_param_matcher({"page": "2"})],
        json=page(builder.applications[1:2], None, 2),
    )

    assert len(list(client.iter_applications())) == 2
    assert all(call.request.url.startswith("https://") for call in responses.calls)


@responses.activate
def test_next_link_to_another_host_is_refused_so_the_token_stays_home(client, builder):
    responses.get(
        BASE + "applications-list/", json=page(builder.applications[:1], "https://elsewhere.test/x/?page=2")
    )

    with pytest.raises(FatalApiError, match="another host"):
        list(client.iter_applications())


@responses.activate
def test_count_reads_the_total_from_a_one_record_page(client):
    responses.get(
        BASE + "applications-list/",
        match=[matchers.query_param_matcher({"application_statuses": "4", "page": "1", "page_size": "1"})],
        json=page([], BASE + "applications-list/?page=2", 37),
    )

    assert client.count_applications(statuses=[4]) == 37
    assert len(responses.calls) == 1


@responses.activate
def test_updated_applications_ask_for_changes_after_the_moment_in_pages_of_100(client, builder):
    responses.get(
        BASE + "applications/",
        match=[
            matchers.query_param_matcher({"updated_after": "2026-11-01T00:00:00+00:00", "page_size": "100"})
        ],
        json=page(builder.applications[:3], None, 3),
    )

    updated = list(client.iter_updated_applications(datetime(2026, 11, 1)))

    assert [app["id"] for app in updated] == [app["id"] for app in builder.applications[:3]]


@responses.activate
def test_audit_log_follows_cursor_links(client, builder):
    app = builder.applications[0]
    entries = audit_entries(app, datetime.fromisoformat("2026-11-02T09:00:00+11:00"), 4)
    url = BASE + "audit/log/"
    responses.get(
        url,
        match=[matchers.query_param_matcher({"student_profile": app["id"]})],
        json=page(entries[:2], url + "?cursor=cD0y"),
    )
    responses.get(url, match=[matchers.query_param_matcher({"cursor": "cD0y"})], json=page(entries[2:], None))

    assert [entry["id"] for entry in client.iter_audit_log(student_profile=app["id"])] == [
        9000,
        9001,
        9002,
        9003,
    ]


@responses.activate
def test_audit_log_stops_reading_pages_once_entries_are_older_than_since(client, builder):
    app = builder.applications[0]
    newest = datetime.fromisoformat("2026-11-02T09:00:00+11:00")
    entries = audit_entries(app, newest, 4)
    url = BASE + "audit/log/"
    responses.get(
        url,
        match=[matchers.query_param_matcher({"parent": "1001"})],
        json=page(entries[:2], url + "?cursor=cD0y"),
    )
    responses.get(
        url,
        match=[matchers.query_param_matcher({"cursor": "cD0y"})],
        json=page(entries[2:], url + "?cursor=cD00"),
    )

    since = newest - timedelta(hours=2, minutes=30)
    read = list(client.iter_audit_log(parent="1001", since=since))

    assert [entry["id"] for entry in read] == [9000, 9001, 9002]
    assert len(responses.calls) == 2


def test_audit_log_needs_exactly_one_subject(client):
    with pytest.raises(ValueError, match="exactly one"):
        list(client.iter_audit_log(student_profile="a", parent="1"))


@responses.activate
def test_documents_of_an_application_are_listed_by_student_profile(client, builder):
    app = builder.applications[0]
    documents = [doc for doc in builder.documents if doc["student_profile"] == app["id"]]
    responses.get(
        BASE + "application-documents/",
        match=[matchers.query_param_matcher({"student_profile": app["id"]})],
        json=page(documents, None, len(documents)),
    )

    assert [doc["id"] for doc in client.list_documents(app["id"])] == [doc["id"] for doc in documents]


@responses.activate
def test_document_download_follows_its_file_url_with_the_access_token(client, builder):
    document = dict(
        builder.documents[0], file=f"{BASE}application-documents/{builder.documents[0]['id']}/download/"
    )
    responses.get(document["file"], body=b"%PDF-1.4 birth certificate")

    assert client.download_document(document) == b"%PDF-1.4 birth certificate"
    assert responses.calls[0].request.headers["Authorization"] == f"Token {ACCESS_TOKEN}"


@responses.activate
def test_document_on_a_storage_host_is_fetched_without_the_access_token(client, builder):
    document = dict(builder.documents[0], file="https://storage.test/docs/abc.pdf?signature=s1")
    responses.get("https://storage.test/docs/abc.pdf", body=b"%PDF-1.4")

    assert client.download_document(document) == b"%PDF-1.4"
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_status_settings_accept_a_bare_list(client):
    settings = [{"id": 4, "label": "Orientation", "is_enabled": True}]
    responses.get(BASE + "application-status-settings/", json=settings)

    assert client.status_settings() == settings
