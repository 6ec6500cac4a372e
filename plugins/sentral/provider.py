"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point.

Installing this project (``pip install -e .`` or the image's ``--no-deps`` install) registers the
``sentral`` and ``enrolhq`` connection types, so the connection form shows each API's own fields.
The form is declared here as data (``ui-field-behaviour`` and ``conn-fields``), the way Airflow 3.2+
reads it, so the UI never imports the hooks to draw it. The plugins folder still serves the same
packages to DAG files in the compose stack; only the connection types need the installed entry point.

This module is loaded by every Airflow command, so it imports nothing beyond the standard library.
"""

from __future__ import annotations

from importlib import metadata

PACKAGE_NAME = "enrolhq-sentral"

SENTRAL_CONN_TYPE = "sentral"
ENROLHQ_CONN_TYPE = "enrolhq"

# Sentral identifies a school by its host and a tenant code, and authorises by an API key. The
# standard login and password fields carry the tenant and the key so that the key is stored encrypted
# and masked in logs like any password.
_SENTRAL = {
    "connection-type": SENTRAL_CONN_TYPE,
    "hook-class-name": "sentral.hook.SentralHook",
    "hook-name": "Sentral",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port"],
        "relabeling": {"host": "Sentral host", "login": "Tenant", "password": "API key"},
        "placeholders": {
            "host": "https://school.sentral.com.au/restapi",
            "login": "the X-API-TENANT value Sentral gave the school",
            "password": "the X-API-KEY value of a key with the Enrolments and Portal modules",
        },
    },
    # Stored in the connection's extra under these names, which is where sentral.hook reads them.
    "conn-fields": {
        "timeout": {
            "label": "Timeout (seconds)",
            "description": "How long one request may take before it is retried. 30 when empty.",
            "schema": {"type": ["number", "null"], "minimum": 1},
        },
        "requests_per_second": {
            "label": "Requests per second",
            "description": "A cap on requests per worker process. Sentral publishes no limit; empty means none.",
            "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
        },
    },
}

# EnrolHQ identifies a school by its instance host; the long-lived API token is exchanged for short
# access tokens by the client, so the token is the only secret.
_ENROLHQ = {
    "connection-type": ENROLHQ_CONN_TYPE,
    "hook-class-name": "enrolhq.hook.EnrolHQHook",
    "hook-name": "EnrolHQ",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port", "login"],
        "relabeling": {"host": "Instance host", "password": "API token"},
        "placeholders": {
            "host": "school.enrolhq.com.au",
            "password": "the long-lived API token from EnrolHQ's integration settings",
        },
    },
    # Stored in the connection's extra under these names, which is where enrolhq.hook reads them.
    "conn-fields": {
        "timeout": {
            "label": "Timeout (seconds)",
            "description": "How long one request may take before it is retried. 30 when empty.",
            "schema": {"type": ["number", "null"], "minimum": 1},
        },
        "requests_per_second": {
            "label": "Requests per second",
            "description": "A cap on requests per worker process; EnrolHQ allows about 5. 4.5 when empty.",
            "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
        },
    },
}


def _version() -> str:
    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:  # imported from the plugins folder without an install
        return "0.0.0"


def get_provider_info() -> dict:
    """What Airflow's ProvidersManager reads: the package, its version and its connection types."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "EnrolHQ and Sentral",
        "description": "Hooks and connection types for the EnrolHQ → Sentral pipelines.",
        "versions": [_version()],
        "connection-types": [_SENTRAL, _ENROLHQ],
    }
