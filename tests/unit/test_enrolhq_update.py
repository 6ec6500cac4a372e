"""update_application: read, change a copy, check nothing moved, PUT the whole record."""

from __future__ import annotations

import copy
import json
import random
from datetime import date

import pytest
import responses

from apicore.backoff import BackoffPolicy
from apicore.ratelimit import RateLimiter
from enrolhq.client import ConflictError, EnrolHQClient
from enrolhq.tokens import MemoryTokenStore, token_key
from sandbox.families import FamilyBuilder

BASE = "https://school.enrolhq.test/api/v2/"
API_TOKEN = "api-token-1e6a0c55b2"


@pytest.fixture
def client() -> EnrolHQClient:
    store = MemoryTokenStore()
    store.replace(token_key(BASE, API_TOKEN), None, lambda: "access-1")
    return EnrolHQClient(
        BASE,
        API_TOKEN,
        token_store=store,
        rate_limiter=RateLimiter(0),
        backoff=BackoffPolicy(attempts=2, base=0.0),
        sleep=lambda seconds: None,
    )


@pytest.fixture
def application() -> dict:
    builder = FamilyBuilder(random.Random(5001), date(2026, 11, 2))
    return builder.family("split", [{"status": 4, "accepted": True}])[0]


def edited_by_a_parent(application: dict) -> dict:
    edited = copy.deepcopy(application)
    edited["user_parent"]["mobile_phone"] = "0400 111 222"
    edited["updated_at"] = "2026-11-02T09:30:00+11:00"
    return edited


def set_external_id(record: dict) -> None:
    record["external_id"] = "S5001"


def test_put_sends_the_whole_record_with_the_change(client, application):
    url = f"{BASE}applications/{application['id']}/"
    with responses.RequestsMock() as rsps:
        rsps.get(url, json=application)
        rsps.get(url, json=application)
        rsps.put(url, json=dict(application, external_id="S5001"))

        saved = client.update_application(application["id"], set_external_id)

        sent = json.loads(rsps.calls[-1].request.body)
    assert sent == dict(application, external_id="S5001")
    assert saved["external_id"] == "S5001"


def test_change_may_return_a_new_record_instead_of_editing_in_place(client, application):
    url = f"{BASE}applications/{application['id']}/"
    with responses.RequestsMock() as rsps:
        rsps.get(url, json=application)
        rsps.get(url, json=application)
        rsps.put(url, json=application)

        client.update_application(application["id"], lambda record: {**record, "campus": "Senior"})

        assert json.loads(rsps.calls[-1].request.body)["campus"] == "Senior"


def test_record_changed_between_read_and_write_is_read_again_and_written_from_the_latest(client, application):
    url = f"{BASE}applications/{application['id']}/"
    latest = edited_by_a_parent(application)
    with responses.RequestsMock() as rsps:
        rsps.get(url, json=application)
        rsps.get(url, json=latest)
        rsps.get(url, json=latest)
        rsps.get(url, json=latest)
        rsps.put(url, json=dict(latest, external_id="S5001"))

        client.update_application(application["id"], set_external_id)

        methods = [call.request.method for call in rsps.calls]
        sent = json.loads(rsps.calls[-1].request.body)
    assert methods == ["GET", "GET", "GET", "GET", "PUT"]
    assert sent["user_parent"]["mobile_phone"] == "0400 111 222"
    assert sent["external_id"] == "S5001"


def test_record_that_keeps_changing_raises_a_retriable_conflict_naming_the_application(client, application):
    url = f"{BASE}applications/{application['id']}/"
    versions = [dict(application, updated_at=f"2026-11-02T09:{minute:02d}:00+11:00") for minute in range(6)]
    with responses.RequestsMock() as rsps:
        for version in versions:
            rsps.get(url, json=version)

        with pytest.raises(ConflictError) as raised:
            client.update_application(application["id"], set_external_id, attempts=3)

        assert "PUT" not in [call.request.method for call in rsps.calls]
    assert raised.value.retriable
    assert application["id"] in str(raised.value)


def test_change_that_leaves_the_record_as_it_was_writes_nothing(client, application):
    url = f"{BASE}applications/{application['id']}/"
    with responses.RequestsMock() as rsps:
        rsps.get(url, json=application)

        returned = client.update_application(application["id"], lambda record: None)

        assert len(rsps.calls) == 1
    assert returned == application


def test_nested_change_is_written_because_the_change_works_on_a_deep_copy(client, application):
    url = f"{BASE}applications/{application['id']}/"

    def clear_parent_email(record: dict) -> None:
        record["user_parent"]["email"] = ""

    with responses.RequestsMock() as rsps:
        rsps.get(url, json=application)
        rsps.get(url, json=application)
        rsps.put(url, json=application)

        client.update_application(application["id"], clear_parent_email)

        assert json.loads(rsps.calls[-1].request.body)["user_parent"]["email"] == ""
