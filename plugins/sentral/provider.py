"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations


def get_provider_info() -> dict:
    return {
        "package-name": "enrolhq-sentral",
        "name": "EnrolHQ and Sentral",
        "description": "Hooks and connection types for the EnrolHQ → Sentral pipelines.",
        "versions": ["0.1.0"],
        "connection-types": [],
    }
