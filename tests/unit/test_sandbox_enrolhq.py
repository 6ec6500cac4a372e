"""The sandbox EnrolHQ: sign-in and token cancellation, rate limits, paging, filters and full-record PUT."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
import requests
from fastapi.testclient import TestClient

from sandbox.enrolhq import create_app
from sandbox.generator import ENROLHQ_TOKEN, generate_school

API = "/api/v2/"


@pytest.fixture(scope="module")
def school() -> dict:
    return generate_school(size=16, seed=11)


def client_for(school: dict, **config: object) -> TestClient:
    return TestClient(create_app(school, {"rate_limits": False, "sign_in_ms": 0, **config}))


def sign_in(client: TestClient) -> dict[str, str]:
    response = client.post(f"{API}accounts/refresh/", headers={"Authorization": f"Token {ENROLHQ_TOKEN}"})
    assert response.status_code == 200
    return {"Authorization": f"Token {response.json()['access_token']}"}


@pytest.fixture
def client(school) -> TestClient:
    return client_for(school)


@pytest.fixture
def auth(client) -> dict[str, str]:
    return sign_in(client)


def first_id(school: dict, tag: str) -> str:
    return next(a for a, facts in school["truth"]["applications"].items() if tag in facts["tags"])


def test_calls_without_an_access_token_get_401(client):
    assert client.get(f"{API}applications-list/").status_code == 401


def test_the_api_token_itself_is_not_an_access_token(client):
    headers = {"Authorization": f"Token {ENROLHQ_TOKEN}"}
    assert client.get(f"{API}applications-list/", headers=headers).status_code == 401


def test_a_new_sign_in_cancels_the_previous_access_token(client):
    old = sign_in(client)
    new = sign_in(client)
    assert client.get(f"{API}application-status-settings/", headers=old).status_code == 401
    assert client.get(f"{API}application-status-settings/", headers=new).status_code == 200


def test_an_expired_access_token_gets_401(school):
    client = client_for(school, token_ttl_s=-1)
    headers = sign_in(client)
    assert client.get(f"{API}application-status-settings/", headers=headers).status_code == 401


def test_a_sixth_sign_in_within_a_minute_gets_429_with_retry_after(school):
    client = client_for(school, rate_limits=True, requests_per_second=1000)
    for _ in range(5):
        sign_in(client)
    response = client.post(f"{API}accounts/refresh/", headers={"Authorization": f"Token {ENROLHQ_TOKEN}"})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_requests_over_the_per_second_limit_get_429_with_retry_after(school):
    client = client_for(school, rate_limits=True, requests_per_second=2)
    headers = sign_in(client)
    answers = [client.get(f"{API}application-status-settings/", headers=headers) for _ in range(5)]
    assert [a.status_code for a in answers].count(429) >= 1
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["Retry-After"] == "1"


def test_rate_limits_can_be_switched_off(school):
    client = client_for(school, rate_limits=False)
    headers = sign_in(client)
    codes = {client.get(f"{API}application-status-settings/", headers=headers).status_code for _ in range(12)}
    assert codes == {200}


def test_list_pages_carry_count_and_an_absolute_next_link(client, auth, school):
    page = client.get(f"{API}applications-list/", params={"page_size": 5}, headers=auth).json()
    assert page["count"] == len(school["enrolhq"]["applications"])
    assert page["next"].startswith("http://testserver/api/v2/applications-list/")
    assert len(page["results"]) == 5
    seen = []
    url = f"{API}applications-list/?page_size=5"
    while url:
        body = client.get(url, headers=auth).json()
        seen += [r["id"] for r in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(a["id"] for a in school["enrolhq"]["applications"])


def test_page_size_above_the_maximum_is_cut_to_it(client, auth):
    page = client.get(f"{API}applications/", params={"page_size": 500}, headers=auth).json()
    assert len(page["results"]) <= 100


def test_a_page_past_the_end_is_404(client, auth):
    assert client.get(f"{API}applications-list/", params={"page": 99}, headers=auth).status_code == 404


def test_has_external_id_filter_selects_by_external_id(client, auth, school):
    body = client.get(f"{API}applications-list/", params={"has_external_id": "true"}, headers=auth).json()
    expected = [a["id"] for a in school["enrolhq"]["applications"] if a["external_id"]]
    assert sorted(r["id"] for r in body["results"]) == sorted(expected)


def test_external_id_filter_is_accepted_and_ignored(client, auth, school):
    body = client.get(f"{API}applications-list/", params={"external_id": "nope"}, headers=auth).json()
    assert body["count"] == len(school["enrolhq"]["applications"])


def test_status_filter_is_repeatable(client, auth, school):
    params = [("application_statuses", 3), ("application_statuses", 12), ("page_size", 200)]
    body = client.get(f"{API}applications-list/", params=params, headers=auth).json()
    assert {r["application_status"] for r in body["results"]} == {3, 12}


def test_updated_after_returns_only_later_changes(client, auth, school):
    stamps = sorted(datetime.fromisoformat(a["updated_at"]) for a in school["enrolhq"]["applications"])
    middle = stamps[len(stamps) // 2]
    body = client.get(
        f"{API}applications/", params={"updated_after": middle.isoformat(), "page_size": 100}, headers=auth
    ).json()
    assert body["count"] == sum(1 for s in stamps if s > middle)


def test_put_resets_fields_left_out(client, auth, school):
    app_id = first_id(school, "split_family")
    record = client.get(f"{API}applications/{app_id}/", headers=auth).json()
    assert record["custody_details"]
    del record["custody_details"], record["emergency_contacts"]
    saved = client.put(f"{API}applications/{app_id}/", json=record, headers=auth).json()
    assert saved["custody_details"] == ""
    assert saved["emergency_contacts"] == []


def test_put_bumps_updated_at(client, auth, school):
    app_id = first_id(school, "eligible")
    record = client.get(f"{API}applications/{app_id}/", headers=auth).json()
    saved = client.put(
        f"{API}applications/{app_id}/", json={**record, "external_id": "5999"}, headers=auth
    ).json()
    assert datetime.fromisoformat(saved["updated_at"]) > datetime.fromisoformat(record["updated_at"])
    assert client.get(f"{API}applications/{app_id}/", headers=auth).json()["external_id"] == "5999"


def test_put_of_a_parent_change_writes_an_audit_entry_by_the_api_user(client, auth, school):
    app_id = first_id(school, "eligible")
    record = client.get(f"{API}applications/{app_id}/", headers=auth).json()
    record["user_parent"]["mobile_phone"] = "0400 111 222"
    client.put(f"{API}applications/{app_id}/", json=record, headers=auth)
    log = client.get(f"{API}audit/log/", params={"parent": record["user_parent"]["id"]}, headers=auth).json()
    newest = log["results"][0]
    assert newest["changes"][0].endswith('to "0400 111 222"')
    assert newest["updated_by"]["role"] == "staff"
    assert newest["updated_by"]["full_name"] == school["enrolhq"]["api_user"]["full_name"]


def test_put_without_a_required_field_is_400_naming_it(client, auth, school):
    app_id = first_id(school, "eligible")
    record = client.get(f"{API}applications/{app_id}/", headers=auth).json()
    del record["dob"]
    response = client.put(f"{API}applications/{app_id}/", json=record, headers=auth)
    assert response.status_code == 400
    assert "dob" in response.json()


def test_rejected_put_changes_nothing(client, auth, school):
    app_id = first_id(school, "eligible")
    record = client.get(f"{API}applications/{app_id}/", headers=auth).json()
    client.put(
        f"{API}applications/{app_id}/", json={**record, "gender": 9, "first_name": "Zed"}, headers=auth
    )
    assert client.get(f"{API}applications/{app_id}/", headers=auth).json() == record


def test_audit_log_pages_by_cursor_newest_first(school):
    doc = generate_school(size=16, seed=11, audit_days=20)
    client = client_for(doc)
    headers = sign_in(client)
    log = max(doc["enrolhq"]["audit"], key=lambda item: len(item["entries"]))
    subject = "student_profile" if "student_profile" in log else "parent"
    url, seen = f"{API}audit/log/?{subject}={log[subject]}&page_size=5", []
    while url:
        page = client.get(url, headers=headers).json()
        assert "count" not in page
        seen += page["results"]
        url = page["next"]
    assert len(log["entries"]) > 10
    assert [e["id"] for e in seen] == [e["id"] for e in log["entries"]]


def test_notes_post_adds_a_note_to_the_application(client, auth, school):
    app_id = first_id(school, "eligible")
    body = {"student_profile": app_id, "text": "Sent to Sentral as draft 101", "is_pinned": False}
    assert client.post(f"{API}notes/", json=body, headers=auth).status_code == 201
    notes = client.get(f"{API}notes/", params={"student_profile": app_id}, headers=auth).json()["results"]
    assert notes[-1]["text"] == "Sent to Sentral as draft 101"


def test_notes_post_for_an_unknown_application_is_400(client, auth):
    body = {"student_profile": "00000000-0000-4000-8000-000000000000", "text": "x"}
    response = client.post(f"{API}notes/", json=body, headers=auth)
    assert response.status_code == 400
    assert "student_profile" in response.json()


def test_document_download_serves_as_many_bytes_as_its_size(client, auth, school):
    doc = next(d for d in school["enrolhq"]["documents"] if d["size"] < 100_000)
    listed = client.get(
        f"{API}application-documents/", params={"student_profile": doc["student_profile"]}, headers=auth
    ).json()["results"]
    file_url = next(d["file"] for d in listed if d["id"] == doc["id"])
    response = client.get(file_url, headers=auth)
    assert len(response.content) == doc["size"]
    assert response.content == client.get(file_url, headers=auth).content


def test_a_sign_in_while_another_is_in_flight_gets_400(school):
    from sandbox.testing import SandboxServers

    with SandboxServers(school, enrolhq_config={"rate_limits": False, "sign_in_ms": 400}) as servers:
        url = f"{servers.enrolhq_url}accounts/refresh/"
        codes: list[int] = []

        def attempt() -> None:
            codes.append(
                requests.post(
                    url, headers={"Authorization": f"Token {ENROLHQ_TOKEN}"}, timeout=10
                ).status_code
            )

        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(codes) == [200, 400]
