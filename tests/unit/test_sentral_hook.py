"""SentralHook: from an Airflow connection (JSON form of ``AIRFLOW_CONN_*``) to a working client."""

from __future__ import annotations

import json

import pytest
import responses

from apicore.errors import FatalApiError
from sentral.hook import SentralHook, base_url_from

KEY = "5e1d0c9b8a7f6e5d4c3b2a1908f7e6d5"
TENANT = "Rk4Wp9"


def set_connection(monkeypatch, conn_id: str = "sentral_default", **fields) -> None:
    conn = {"conn_type": "sentral", "host": "https://school.sentral.test/restapi", "login": TENANT}
    conn.update({"password": KEY, **fields})
    conn = {name: value for name, value in conn.items() if value is not None}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_client_from_json_connection_sends_its_key_and_tenant(monkeypatch):
    set_connection(monkeypatch, conn_id="sentral_demo", extra={"timeout": 12})

    client = SentralHook("sentral_demo").get_client()

    with responses.RequestsMock() as rsps:
        rsps.get("https://school.sentral.test/restapi/v1/enrolments/year-level", json={"data": []})
        client.check()
        headers = rsps.calls[0].request.headers
    assert (headers["X-API-KEY"], headers["X-API-TENANT"]) == (KEY, TENANT)
    assert client.timeout == 12.0


def test_connection_without_extras_has_no_rate_limit_and_a_30_second_timeout(monkeypatch):
    set_connection(monkeypatch)

    client = SentralHook().get_client()

    assert client.rate_limiter is None
    assert client.timeout == 30.0


def test_requests_per_second_extra_limits_the_client(monkeypatch):
    set_connection(monkeypatch, extra={"requests_per_second": "4"})

    client = SentralHook().get_client()

    assert client.rate_limiter.per_second == 4.0


def test_clients_of_one_connection_share_one_rate_limiter(monkeypatch):
    set_connection(monkeypatch, extra={"requests_per_second": 3})

    first, second = SentralHook().get_client(), SentralHook().get_client()

    assert first.rate_limiter is second.rate_limiter


def test_missing_api_key_names_the_field_to_set(monkeypatch):
    set_connection(monkeypatch, password=None)

    with pytest.raises(FatalApiError, match=r"'sentral_default' has no password; set it to the API key"):
        SentralHook().get_client()


def test_non_numeric_timeout_is_refused_with_the_extra_named(monkeypatch):
    set_connection(monkeypatch, extra={"timeout": "soon"})

    with pytest.raises(FatalApiError, match="extra timeout must be a positive number"):
        SentralHook().get_client()


def test_test_connection_reports_sentrals_refusal_without_the_key(monkeypatch):
    set_connection(monkeypatch)

    with responses.RequestsMock() as rsps:
        rsps.get("https://school.sentral.test/restapi/v1/enrolments/year-level", status=401)
        ok, message = SentralHook().test_connection()

    assert not ok
    assert "API key or the tenant code is wrong" in message
    assert KEY not in message
    assert TENANT not in message


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("https://school.sentral.com.au/restapi", None, "https://school.sentral.com.au/restapi/"),
        ("http://127.0.0.1:8702/restapi/", None, "http://127.0.0.1:8702/restapi/"),
        ("school.sentral.com.au", None, "https://school.sentral.com.au/restapi/"),
        ("https://sentral.school.edu.au", 8443, "https://sentral.school.edu.au:8443/restapi/"),
    ],
)
def test_base_url_from_connection_host(host, port, expected):
    assert base_url_from(host, port) == expected
