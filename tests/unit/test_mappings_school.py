"""open_school: the school's configuration at once, its clients only when first used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentral.mappings import MappingError
from sentral.school import open_school

ROOT = Path(__file__).resolve().parents[2] / "include" / "mappings"


@pytest.fixture
def connections(monkeypatch, tmp_path):
    sentral = {
        "conn_type": "sentral",
        "host": "http://127.0.0.1:9/restapi",
        "login": "TENANT1",
        "password": "k1",
    }
    enrolhq = {"conn_type": "enrolhq", "host": "http://127.0.0.1:9", "password": "api-token-1"}
    monkeypatch.setenv("AIRFLOW_CONN_SENTRAL_DEMO", json.dumps(sentral))
    monkeypatch.setenv("AIRFLOW_CONN_ENROLHQ_DEMO", json.dumps(enrolhq))
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def test_configuration_is_available_without_any_connection(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SENTRAL_DEMO", raising=False)

    school = open_school("demo", root=ROOT)

    assert school.config.school == "demo"
    assert school.name == "demo"


def test_clients_are_built_from_the_schools_connections(connections):
    school = open_school("demo", root=ROOT, ledger_url=connections)

    assert school.sentral.base_url == "http://127.0.0.1:9/restapi/"
    assert school.enrolhq.base_url == "http://127.0.0.1:9/api/v2/"


def test_each_client_is_built_once(connections):
    school = open_school("demo", root=ROOT, ledger_url=connections)

    assert school.sentral is school.sentral


def test_ledger_engine_uses_the_given_database(connections):
    school = open_school("demo", root=ROOT, ledger_url=connections)

    assert school.engine.url.render_as_string() == connections


def test_invalid_mappings_fail_before_any_client_is_built(tmp_path):
    with pytest.raises(MappingError, match="no mappings folder"):
        open_school("demo", root=tmp_path)
