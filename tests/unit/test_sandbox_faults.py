"""Fault injection and the control endpoints, against both servers running on loopback."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.generator import ENROLHQ_TOKEN, SENTRAL_KEY, SENTRAL_TENANT

SENTRAL_HEADERS = {"X-API-KEY": SENTRAL_KEY, "X-API-TENANT": SENTRAL_TENANT}


def enrolhq_headers(sandbox) -> dict[str, str]:
    answer = requests.post(
        f"{sandbox.enrolhq_url}accounts/refresh/",
        headers={"Authorization": f"Token {ENROLHQ_TOKEN}"},
        timeout=10,
    )
    return {"Authorization": f"Token {answer.json()['access_token']}"}


def houses(sandbox, **kwargs: object) -> requests.Response:
    return requests.get(
        f"{sandbox.sentral_url}v1/enrolments/house", headers=SENTRAL_HEADERS, timeout=10, **kwargs
    )


def test_a_status_fault_answers_with_that_status_then_expires(sandbox):
    sandbox.sentral.add_fault(method="GET", path="/house$", status=503, times=2)
    assert [houses(sandbox).status_code for _ in range(3)] == [503, 503, 200]


def test_a_fault_matches_only_its_method_and_path(sandbox):
    sandbox.sentral.add_fault(method="POST", path="/house$", status=500)
    assert houses(sandbox).status_code == 200
    still_waiting = requests.get(f"{sandbox.sentral_root}_sandbox/faults", timeout=10).json()
    assert [f["method"] for f in still_waiting] == ["POST"]


def test_an_injected_429_carries_retry_after(sandbox):
    sandbox.sentral.add_fault(path="/house$", status=429, retry_after=3)
    answer = houses(sandbox)
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "3")


def test_injected_latency_delays_the_answer(sandbox):
    sandbox.sentral.add_fault(path="/house$", latency_ms=300)
    started = time.monotonic()
    assert houses(sandbox).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_configured_latency_applies_to_every_call(sandbox):
    sandbox.sentral.configure(latency_ms=200)
    started = time.monotonic()
    houses(sandbox)
    houses(sandbox)
    assert time.monotonic() - started >= 0.4


def test_a_dropped_response_applies_the_write_but_the_client_gets_no_answer(sandbox, sandbox_school):
    body = {
        "data": {
            "type": "studentEnrolmentDraft",
            "attributes": {
                "data": {
                    "student": {
                        "first_name": "Ari",
                        "family_name": "Ngata",
                        "dob": "2019-01-02",
                        "gender": "M",
                    },
                    "enrolment": {"year": "1", "academic_period_id": "2", "campus_id": "1"},
                }
            },
        }
    }
    sandbox.sentral.add_fault(method="POST", path="student-enrolment-draft$", drop_response=True)
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{sandbox.sentral_url}v1/portal/student-enrolment-draft",
            json=body,
            headers=SENTRAL_HEADERS,
            timeout=10,
        )
    drafts = sandbox.sentral.state()["drafts"]
    assert [d["data"]["student"]["first_name"] for d in drafts] == ["Ari"]


def test_a_dropped_note_post_still_adds_the_note(sandbox, sandbox_school):
    headers = enrolhq_headers(sandbox)
    app_id = sandbox_school["enrolhq"]["applications"][0]["id"]
    sandbox.enrolhq.add_fault(method="POST", path="/notes/$", drop_response=True)
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{sandbox.enrolhq_url}notes/",
            json={"student_profile": app_id, "text": "once"},
            headers=headers,
            timeout=10,
        )
    assert [n["text"] for n in sandbox.enrolhq.state()["notes"]].count("once") == 1


def test_the_server_answers_normally_after_a_dropped_response(sandbox):
    sandbox.sentral.add_fault(path="/house$", drop_response=True)
    with pytest.raises(requests.ConnectionError):
        houses(sandbox)
    assert houses(sandbox).status_code == 200


def test_state_shows_the_seed_data(sandbox, sandbox_school):
    enrolhq = sandbox.enrolhq.state()
    sentral = sandbox.sentral.state()
    assert [a["id"] for a in enrolhq["applications"]] == [
        a["id"] for a in sandbox_school["enrolhq"]["applications"]
    ]
    assert len(sentral["students"]) == len(sandbox_school["sentral"]["students"])
    assert sentral["drafts"] == []


def test_reset_restores_the_seed_and_clears_faults(sandbox, sandbox_school):
    headers = enrolhq_headers(sandbox)
    app_id = sandbox_school["enrolhq"]["applications"][0]["id"]
    requests.post(
        f"{sandbox.enrolhq_url}notes/",
        json={"student_profile": app_id, "text": "x"},
        headers=headers,
        timeout=10,
    )
    sandbox.sentral.add_fault(path=".*", status=500, times=None)
    sandbox.reset()
    assert len(sandbox.enrolhq.state()["notes"]) == len(sandbox_school["enrolhq"]["notes"])
    assert houses(sandbox).status_code == 200


def test_reset_with_a_new_seed_loads_it(sandbox, sandbox_school):
    smaller = {**sandbox_school, "enrolhq": {**sandbox_school["enrolhq"], "applications": []}}
    sandbox.enrolhq.reset(smaller)
    assert sandbox.enrolhq.state()["applications"] == []


def test_an_empty_reset_goes_back_to_the_seed_the_server_started_with(sandbox, sandbox_school):
    sandbox.enrolhq.reset({**sandbox_school, "enrolhq": {**sandbox_school["enrolhq"], "applications": []}})
    sandbox.enrolhq.reset()
    assert len(sandbox.enrolhq.state()["applications"]) == len(sandbox_school["enrolhq"]["applications"])


def test_metrics_count_requests_by_route_sign_ins_and_429s(sandbox):
    sandbox.enrolhq.configure(rate_limits=True, requests_per_second=2)
    headers = enrolhq_headers(sandbox)
    for _ in range(3):
        requests.get(f"{sandbox.enrolhq_url}application-status-settings/", headers=headers, timeout=10)
    metrics = sandbox.enrolhq.metrics()
    assert metrics["sign_ins"] == 1
    assert metrics["rate_limited"] >= 1
    assert metrics["requests"]["GET /api/v2/application-status-settings/"] == 3
    assert sum(metrics["per_second"].values()) == 4


def test_unknown_settings_are_refused(sandbox):
    with pytest.raises(requests.HTTPError):
        sandbox.sentral.configure(rate_limits=True)


def test_connection_env_names_both_connections_in_json_form(sandbox):
    import json

    env = sandbox.connection_env(school="north")
    enrolhq = json.loads(env["AIRFLOW_CONN_ENROLHQ_NORTH"])
    sentral = json.loads(env["AIRFLOW_CONN_SENTRAL_NORTH"])
    assert (enrolhq["conn_type"], enrolhq["host"]) == ("enrolhq", sandbox.enrolhq_url)
    assert (sentral["conn_type"], sentral["login"], sentral["host"]) == (
        "sentral",
        SENTRAL_TENANT,
        sandbox.sentral_url,
    )
