"""How EnrolHQClient treats failures: what it retries, what it raises, and what it never reveals."""

from __future__ import annotations

import json
import logging
import random
from datetime import date

import pytest
import requests
import responses

from apicore.backoff import BackoffPolicy
from apicore.errors import (
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    ResponseLostError,
    RetriableApiError,
)
from apicore.ratelimit import RateLimiter
from enrolhq.client import EnrolHQClient
from enrolhq.tokens import MemoryTokenStore
from sandbox.families import FamilyBuilder

BASE = "https://school.enrolhq.test/api/v2/"
API_TOKEN = "api-token-3b8e51f0d2c7"
ACCESS_TOKEN = "access-token-94fd0e1a77"
MAINTENANCE_PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.fixture(scope="module")
def application() -> dict:
    builder = FamilyBuilder(random.Random(4411), date(2026, 11, 2))
    return builder.family("together", [{"status": 4, "accepted": True}])[0]


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(waits) -> EnrolHQClient:
    return EnrolHQClient(
        BASE,
        API_TOKEN,
        token_store=MemoryTokenStore(),
        rate_limiter=RateLimiter(0),
        backoff=BackoffPolicy(attempts=3, base=0.25, cap=60.0),
        sleep=waits.append,
    )


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        mock.post(BASE + "accounts/refresh/", json={"access_token": ACCESS_TOKEN})
        yield mock


def application_url(application: dict) -> str:
    return f"{BASE}applications/{application['id']}/"


def test_429_waits_as_long_as_retry_after_says(client, rsps, waits, application):
    rsps.get(application_url(application), status=429, headers={"Retry-After": "7"}, body="")
    rsps.get(application_url(application), json=application)

    assert client.get_application(application["id"])["id"] == application["id"]
    assert waits == [7.0]


def test_5xx_is_retried_until_it_succeeds(client, rsps, waits, application):
    rsps.get(application_url(application), status=503, json={"detail": "Service unavailable"})
    rsps.get(application_url(application), status=500, json={"detail": "Server error"})
    rsps.get(application_url(application), json=application)

    assert client.get_application(application["id"])["id"] == application["id"]
    assert len(waits) == 2
    assert client.stats.retries == 2


def test_5xx_on_every_attempt_raises_a_retriable_error_with_the_status(client, rsps, application):
    rsps.get(application_url(application), status=503, json={"detail": "Service unavailable"})

    with pytest.raises(RetriableApiError) as raised:
        client.get_application(application["id"])

    assert raised.value.status == 503
    assert f"GET applications/{application['id']}/" in str(raised.value)
    assert len([call for call in rsps.calls if call.request.method == "GET"]) == 3


def test_html_error_page_from_the_proxy_is_transient(client, rsps, application):
    rsps.get(application_url(application), status=400, body=MAINTENANCE_PAGE, content_type="text/html")
    rsps.get(application_url(application), json=application)

    assert client.get_application(application["id"])["id"] == application["id"]


def test_html_page_with_status_200_is_transient_too(client, rsps, application):
    rsps.get(application_url(application), body=MAINTENANCE_PAGE, content_type="text/html")
    rsps.get(application_url(application), json=application)

    assert client.get_application(application["id"])["id"] == application["id"]


def test_400_is_fatal_at_once_and_carries_the_servers_detail(client, rsps):
    rsps.get(BASE + "applications-list/", status=400, json={"detail": "Invalid ordering field."})

    with pytest.raises(RequestRejectedError, match="Invalid ordering field") as raised:
        list(client.iter_applications(ordering="shoe_size"))

    assert raised.value.status == 400
    assert len(rsps.calls) == 2


def test_422_lists_each_rejected_field(client, rsps, application):
    rsps.get(application_url(application), json=application)
    rsps.get(application_url(application), json=application)
    rsps.put(application_url(application), status=422, json={"dob": ["Enter a valid date."]})

    with pytest.raises(RequestRejectedError) as raised:
        client.update_application(application["id"], lambda record: record.update(dob="31/02/2019"))

    assert raised.value.details == ["dob: Enter a valid date."]
    assert "dob: Enter a valid date." in str(raised.value)


def test_404_is_not_found(client, rsps):
    rsps.get(BASE + "applications/missing/", status=404, json={"detail": "Not found."})

    with pytest.raises(NotFoundError, match="Not found"):
        client.get_application("missing")


def test_get_timeout_is_retried(client, rsps, application):
    rsps.get(application_url(application), body=requests.ReadTimeout("read timed out"))
    rsps.get(application_url(application), json=application)

    assert client.get_application(application["id"])["id"] == application["id"]


def test_put_timeout_is_retried_because_a_full_record_put_is_idempotent(client, rsps, application):
    rsps.get(application_url(application), json=application)
    rsps.get(application_url(application), json=application)
    rsps.put(application_url(application), body=requests.ReadTimeout("read timed out"))
    rsps.put(application_url(application), json=application)

    client.update_application(application["id"], lambda record: record.update(external_id="S5001"))

    assert [call.request.method for call in rsps.calls].count("PUT") == 2


def test_post_timeout_raises_response_lost_after_one_try(client, rsps, application):
    rsps.post(BASE + "notes/", body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ResponseLostError, match="may or may not have been saved"):
        client.add_note(application["id"], "Sent to Sentral as draft 4411")

    assert [call.request.url for call in rsps.calls].count(BASE + "notes/") == 1


def test_post_answered_with_5xx_raises_response_lost_after_one_try(client, rsps, application):
    rsps.post(BASE + "notes/", status=504, body=MAINTENANCE_PAGE, content_type="text/html")

    with pytest.raises(ResponseLostError):
        client.add_note(application["id"], "Sent to Sentral as draft 4411")

    assert [call.request.url for call in rsps.calls].count(BASE + "notes/") == 1


def test_post_rate_limited_is_retried_because_it_was_never_processed(client, rsps, waits, application):
    note = {"id": 60100, "text": "Sent", "is_pinned": False, "student_profile": application["id"]}
    rsps.post(BASE + "notes/", status=429, headers={"Retry-After": "2"}, body="")
    rsps.post(BASE + "notes/", status=201, json=note)

    assert client.add_note(application["id"], "Sent")["id"] == 60100
    assert waits == [2.0]


def test_note_body_names_the_application_and_is_not_pinned(client, rsps, application):
    rsps.post(BASE + "notes/", status=201, json={"id": 60101})

    client.add_note(application["id"], "Sent to Sentral as draft 4411")

    sent = json.loads(rsps.calls[-1].request.body)
    assert sent == {
        "student_profile": application["id"],
        "text": "Sent to Sentral as draft 4411",
        "is_pinned": False,
    }


def test_rate_limit_exhausted_stays_retriable_for_airflow(client, rsps):
    rsps.get(BASE + "application-status-settings/", status=429, headers={"Retry-After": "1"}, body="")

    with pytest.raises(RateLimitedError) as raised:
        client.status_settings()

    assert raised.value.retriable


def test_no_token_appears_in_logs_or_error_text(client, rsps, caplog, application):
    caplog.set_level(logging.DEBUG)
    echo = f"Token {API_TOKEN} / {ACCESS_TOKEN} is not allowed here"
    rsps.get(application_url(application), status=503, json={"detail": echo})
    rsps.get(BASE + "applications-list/", status=400, json={"detail": echo, "token": [ACCESS_TOKEN]})

    with pytest.raises(RetriableApiError) as first:
        client.get_application(application["id"])
    with pytest.raises(RequestRejectedError) as second:
        list(client.iter_applications(search="x"))

    seen = " ".join([caplog.text, str(first.value), str(second.value), *second.value.details])
    assert "is not allowed here" in seen
    assert API_TOKEN not in seen
    assert ACCESS_TOKEN not in seen


def test_rate_limiter_spaces_every_request_including_the_sign_in(application):
    clock = FakeClock()
    started = []
    with responses.RequestsMock() as rsps:
        rsps.add_callback(
            responses.POST, BASE + "accounts/refresh/", callback=clock.answer(started, {"access_token": "a"})
        )
        rsps.add_callback(
            responses.GET, application_url(application), callback=clock.answer(started, application)
        )
        client = EnrolHQClient(
            BASE,
            API_TOKEN,
            token_store=MemoryTokenStore(),
            rate_limiter=RateLimiter(2.0, clock=clock.now, sleep=clock.sleep),
        )

        client.get_application(application["id"])
        client.get_application(application["id"])

    assert started == [0.0, 0.5, 1.0]


class FakeClock:
    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += seconds

    def answer(self, started: list[float], body: dict):
        def callback(request):
            started.append(self.time)
            return 200, {"Content-Type": "application/json"}, json.dumps(body)

        return callback
