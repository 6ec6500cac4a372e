"""The installed provider entry point gives Airflow the ``sentral`` and ``enrolhq`` connection types."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

from sentral.provider import ENROLHQ_CONN_TYPE, PACKAGE_NAME, SENTRAL_CONN_TYPE, get_provider_info

CONN_TYPES = {SENTRAL_CONN_TYPE: "sentral.hook.SentralHook", ENROLHQ_CONN_TYPE: "enrolhq.hook.EnrolHQHook"}


@pytest.fixture(scope="module")
def providers():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    manager.initialize_providers_hooks()
    return manager


def test_entry_point_is_registered_by_the_installed_package():
    points = metadata.entry_points(group="apache_airflow_provider")

    ours = [p for p in points if p.value == "sentral.provider:get_provider_info"]

    assert [p.dist.name for p in ours] == [PACKAGE_NAME]


def test_airflow_lists_the_project_as_a_provider_with_its_installed_version(providers):
    info = providers.providers[PACKAGE_NAME]

    assert info.version == metadata.version(PACKAGE_NAME)


@pytest.mark.parametrize(("conn_type", "hook_class"), sorted(CONN_TYPES.items()))
def test_each_connection_type_is_served_by_its_hook(conn_type, hook_class):
    # Tasks resolve a connection type to its hook through the Task SDK's own provider registry.
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks[conn_type]

    assert hook is not None, f"{hook_class} could not be imported"
    assert (hook.hook_class_name, hook.connection_type, hook.package_name) == (
        hook_class,
        conn_type,
        PACKAGE_NAME,
    )


def test_sentral_form_relabels_login_and_password_as_tenant_and_api_key(providers):
    behaviour = providers.field_behaviours[SENTRAL_CONN_TYPE]

    assert behaviour["relabeling"] == {"host": "Sentral host", "login": "Tenant", "password": "API key"}
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}


def test_enrolhq_form_has_an_instance_host_and_an_api_token_and_no_login(providers):
    behaviour = providers.field_behaviours[ENROLHQ_CONN_TYPE]

    assert behaviour["relabeling"] == {"host": "Instance host", "password": "API token"}
    assert "login" in behaviour["hidden_fields"]


@pytest.mark.parametrize("conn_type", [SENTRAL_CONN_TYPE, ENROLHQ_CONN_TYPE])
def test_extra_fields_are_declared_with_the_names_the_hook_reads(providers, conn_type):
    widgets = providers.connection_form_widgets

    names = {w.field_name for key, w in widgets.items() if key.startswith(f"extra__{conn_type}__")}

    assert names == {"timeout", "requests_per_second"}


def test_connection_types_satisfy_airflows_provider_schema():
    import jsonschema

    core = metadata.distribution("apache-airflow-core")
    schema = json.loads(Path(core.locate_file("airflow/provider.yaml.schema.json")).read_text())
    entry_schema = schema["properties"]["connection-types"]

    jsonschema.validate(get_provider_info()["connection-types"], entry_schema)


def test_hook_reads_a_connection_of_its_own_type(monkeypatch):
    from sentral.hook import SentralHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_SENTRAL_PROVIDER_TEST",
        json.dumps(
            {
                "conn_type": SENTRAL_CONN_TYPE,
                "host": "https://school.example/restapi",
                "login": "tenant-a",
                "password": "key-123456",
                "extra": {"timeout": 7},
            }
        ),
    )

    client = SentralHook("sentral_provider_test").get_client()

    assert SentralHook.conn_type == SENTRAL_CONN_TYPE
    assert client.timeout == 7
