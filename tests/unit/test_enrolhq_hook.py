"""EnrolHQHook: from an Airflow connection (JSON form of ``AIRFLOW_CONN_*``) to a working client."""

from __future__ import annotations

import json

import pytest
import responses

from enrolhq.hook import EnrolHQHook, base_url_from_host
from enrolhq.tokens import MemoryTokenStore

API_TOKEN = "api-token-c0ffee5eed"


def set_connection(monkeypatch, conn_id: str = "enrolhq_default", **fields) -> None:
    conn = {"conn_type": "enrolhq", "host": "school.enrolhq.test", "password": API_TOKEN, **fields}
    conn = {name: value for name, value in conn.items() if value is not None}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("school.enrolhq.com.au", None, "https://school.enrolhq.com.au/api/v2/"),
        ("https://enrol.school.edu.au", None, "https://enrol.school.edu.au/api/v2/"),
        ("http://127.0.0.1:8701/api/v2/", None, "http://127.0.0.1:8701/api/v2/"),
        ("http://127.0.0.1:8701/api/v2", None, "http://127.0.0.1:8701/api/v2/"),
        ("localhost", 8701, "https://localhost:8701/api/v2/"),
    ],
)
def test_base_url_from_the_connection_host(host, port, expected):
    assert base_url_from_host(host, port) == expected


def test_client_signs_in_with_the_connections_api_token(monkeypatch):
    set_connection(monkeypatch, conn_id="enrolhq_demo", host="http://127.0.0.1:8701/api/v2/")
    client = EnrolHQHook("enrolhq_demo").get_client(token_store=MemoryTokenStore())

    with responses.RequestsMock() as rsps:
        rsps.post("http://127.0.0.1:8701/api/v2/accounts/refresh/", json={"access_token": "access-1"})
        rsps.get(
            "http://127.0.0.1:8701/api/v2/applications-list/", json={"count": 12, "next": None, "results": []}
        )

        assert client.check() == 12
        assert rsps.calls[0].request.headers["Authorization"] == f"Token {API_TOKEN}"
        assert rsps.calls[1].request.headers["Authorization"] == "Token access-1"


def test_extras_set_the_request_rate_and_timeout(monkeypatch):
    set_connection(monkeypatch, host="paced.enrolhq.test", extra={"requests_per_second": "2", "timeout": 12})

    client = EnrolHQHook().get_client()

    assert client.rate_limiter.per_second == 2.0
    assert client.timeout == 12.0


def test_clients_of_one_connection_share_one_rate_limiter(monkeypatch):
    set_connection(monkeypatch, host="shared.enrolhq.test")

    first, second = EnrolHQHook().get_client(), EnrolHQHook().get_client()

    assert first.rate_limiter is second.rate_limiter


def test_connection_without_an_api_token_is_refused_naming_the_connection(monkeypatch):
    set_connection(monkeypatch, conn_id="enrolhq_empty", password=None)

    with pytest.raises(ValueError, match=r"enrolhq_empty.*API token"):
        EnrolHQHook("enrolhq_empty").get_client()


def test_extra_that_is_not_a_number_is_refused_naming_the_field(monkeypatch):
    set_connection(monkeypatch, extra={"timeout": "soon"})

    with pytest.raises(ValueError, match="'timeout' must be a number"):
        EnrolHQHook().get_client()


def test_test_connection_reports_failure_without_the_token(monkeypatch):
    set_connection(monkeypatch, host="refused.enrolhq.test")

    with responses.RequestsMock() as rsps:
        rsps.post(
            "https://refused.enrolhq.test/api/v2/accounts/refresh/",
            status=401,
            json={"detail": "Invalid token."},
        )
        ok, message = EnrolHQHook().test_connection()

    assert not ok
    assert "API token was refused" in message
    assert API_TOKEN not in message


def test_hook_clients_hand_access_tokens_to_airflows_log_masker(monkeypatch):
    import airflow.sdk.log

    masked = []
    monkeypatch.setattr(airflow.sdk.log, "mask_secret", masked.append)
    set_connection(monkeypatch, host="masked.enrolhq.test")
    client = EnrolHQHook().get_client(token_store=MemoryTokenStore())

    with responses.RequestsMock() as rsps:
        rsps.post("https://masked.enrolhq.test/api/v2/accounts/refresh/", json={"access_token": "access-9"})
        rsps.get(
            "https://masked.enrolhq.test/api/v2/applications-list/",
            json={"count": 0, "next": None, "results": []},
        )
        client.check()

    assert masked == ["access-9"]
