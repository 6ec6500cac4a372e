"""docker-compose.yml, the Dockerfile and .env.example refer only to what exists, and describe the same
stack that tests/distributed/ runs natively (the build machines have no Docker engine to run it)."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONTAINER_HOME = "/opt/airflow"
# Folders the stack writes to; they are outputs, so they need not exist in a fresh clone.
OUTPUT_FOLDERS = {"reports"}
# ${NAME} is read from the environment or .env; $${NAME} is a literal for the container's shell.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _load_native_stack():
    # The module the distributed test imports, under the same name, so both see one definition.
    if "native_stack" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "native_stack", ROOT / "tests/distributed/native_stack.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["native_stack"] = module
        spec.loader.exec_module(module)
    return sys.modules["native_stack"]


native_stack = _load_native_stack()


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_env(compose) -> dict:
    return compose["x-airflow-common"]["environment"]


def env_example() -> dict[str, str]:
    """The variables set in .env.example (commented-out examples are not settings)."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip().strip("'\"")
    return values


def command_words(service: dict) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def airflow_services(services: dict) -> dict[str, dict]:
    """Services that run Airflow itself: the image's entry point is ``airflow``."""
    return {name: s for name, s in services.items() if s.get("build") and "entrypoint" not in s}


def test_each_native_service_runs_the_same_airflow_command_in_compose(services):
    for name, argv in native_stack.SERVICE_COMMANDS.items():
        assert name in services, f"{name} is run by the native stack but missing from docker-compose.yml"
        assert command_words(services[name]) == argv, name


def test_every_long_running_airflow_service_is_one_the_native_test_also_knows(services):
    known = set(native_stack.SERVICE_COMMANDS) | {"airflow-cli", "flower"}

    assert set(airflow_services(services)) <= known


def test_init_service_runs_the_init_script_the_native_test_runs(services):
    entrypoint = services["airflow-init"]["entrypoint"]

    in_repository = ROOT / Path(entrypoint[-1]).relative_to(CONTAINER_HOME)

    assert entrypoint[0] == "bash"
    assert in_repository == native_stack.INIT_SCRIPT
    assert in_repository.is_file()


def test_init_script_steps_name_files_that_exist():
    script = native_stack.INIT_SCRIPT.read_text()

    referenced = re.findall(r'"\$project/([^"]+)"', script)

    assert referenced, "the init script names no project files"
    for relative in referenced:
        assert (ROOT / relative).exists(), relative


def test_every_setting_the_native_stack_shares_is_set_for_every_compose_airflow_service(airflow_env):
    missing = [name for name in native_stack.SHARED_SETTINGS if name not in airflow_env]

    assert missing == []


def test_both_stacks_run_the_celery_executor(airflow_env):
    assert airflow_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_workers_reach_the_execution_api_of_the_api_server_service(airflow_env, services):
    url = urlsplit(airflow_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    published = {p.split(":")[-1] for p in services["airflow-apiserver"]["ports"]}

    assert url.hostname == "airflow-apiserver"
    assert str(url.port) in published
    assert url.path == "/execution/"


@pytest.mark.parametrize(
    ("setting", "service"),
    [
        ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgres"),
        ("AIRFLOW__CELERY__RESULT_BACKEND", "postgres"),
        ("AIRFLOW__CELERY__BROKER_URL", "redis"),
    ],
)
def test_database_and_broker_urls_name_services_of_the_stack(airflow_env, services, setting, service):
    host = urlsplit(airflow_env[setting]).hostname

    assert host == service
    assert service in services


def test_ledger_connection_points_at_the_stacks_postgres(airflow_env, services):
    conn = json.loads(re.sub(r"\$\{[^}]*:-([^}]*)\}", r"\1", airflow_env["AIRFLOW_CONN_SENTRAL_LEDGER"]))

    assert (conn["conn_type"], conn["host"]) == ("postgres", "postgres")


def test_every_airflow_setting_in_compose_is_an_option_airflow_knows(airflow_env):
    from airflow.configuration import conf

    described = conf.configuration_description  # core's options and every installed provider's
    unknown = []
    for name in airflow_env:
        if name.startswith("AIRFLOW__"):
            section, key = name.removeprefix("AIRFLOW__").lower().split("__", 1)
            if key not in described.get(section, {}).get("options", {}):
                unknown.append(name)

    assert unknown == []


def test_every_mount_refers_to_a_folder_or_file_of_the_repository(services):
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                continue  # a named volume
            path = ROOT / source
            if path.name in OUTPUT_FOLDERS:
                assert _ignored_by_git(source), f"{name}: output folder {source} is not ignored by git"
            else:
                assert path.exists(), f"{name} mounts {source}, which does not exist"


def test_dags_plugins_include_and_reports_are_mounted_where_the_settings_point(compose, airflow_env):
    targets = {v.split(":")[1] for v in compose["x-airflow-common"]["volumes"]}

    assert {
        airflow_env["AIRFLOW__CORE__DAGS_FOLDER"],
        airflow_env["AIRFLOW__CORE__PLUGINS_FOLDER"],
        f"{CONTAINER_HOME}/include",
        airflow_env["SENTRAL_REPORTS_DIR"],
    } <= targets
    assert airflow_env["SENTRAL_MAPPINGS_DIR"].startswith(f"{CONTAINER_HOME}/include/")


def test_every_interpolated_variable_is_documented_in_env_example():
    used = set(INTERPOLATION.findall((ROOT / "docker-compose.yml").read_text()))

    assert used - set(env_example()) == set()


def test_every_variable_in_env_example_is_used_by_compose_or_read_by_the_code():
    compose_text = (ROOT / "docker-compose.yml").read_text()
    code = "\n".join(p.read_text() for folder in ("dags", "plugins") for p in (ROOT / folder).rglob("*.py"))
    schools = {p.parent.name for p in (ROOT / "include" / "mappings").glob("*/school.yml")}
    school_connections = {
        f"AIRFLOW_CONN_{kind}_{school}".upper() for school in schools for kind in ("enrolhq", "sentral")
    }

    unused = [
        name
        for name in env_example()
        if f"${{{name}" not in compose_text and name not in code and name not in school_connections
    ]

    assert unused == []


def test_every_sentral_variable_the_code_reads_is_documented_in_env_example():
    code = "\n".join(p.read_text() for folder in ("dags", "plugins") for p in (ROOT / folder).rglob("*.py"))
    read = set(re.findall(r"[\"'](SENTRAL_[A-Z_]+)[\"']", code))
    documented = (ROOT / ".env.example").read_text()

    assert {name for name in read if name not in documented} == set()


def test_sandbox_connections_in_env_example_point_at_the_sandbox_service(services):
    words = command_words(services["sandbox"])
    ports = {
        "enrolhq": words[words.index("--enrolhq-port") + 1],
        "sentral": words[words.index("--sentral-port") + 1],
    }

    for kind, port in ports.items():
        conn = json.loads(env_example()[f"AIRFLOW_CONN_{kind.upper()}_DEMO"])
        url = urlsplit(conn["host"])
        assert conn["conn_type"] == kind
        assert (url.hostname, str(url.port)) == ("sandbox", port)
    assert services["sandbox"]["profiles"] == ["sandbox"]
    assert services["sandbox"]["entrypoint"][-2:] == ["-m", "sandbox"]


def test_no_packages_are_installed_at_container_start(compose):
    text = (ROOT / "docker-compose.yml").read_text()

    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in text
    assert "pip install" not in text


def test_image_installs_the_hash_checked_lock_then_the_project_without_dependencies():
    dockerfile = (ROOT / "Dockerfile").read_text()
    runs = [line for line in dockerfile.splitlines() if "pip install" in line]

    assert any("--require-hashes" in r and "requirements.lock" in r for r in runs)
    assert any("--no-deps" in r and "-e ." in r for r in runs)
    assert len(runs) == 2


def test_every_file_the_image_copies_exists():
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources = line.split()[1:-1]
            for source in sources:
                assert (ROOT / source).exists(), source


def test_every_copied_folder_is_inside_the_build_context():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}

    copied = [
        line.split()[1].rstrip("/")
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    ]

    assert [c for c in copied if c in ignored] == []


def _ignored_by_git(path: str) -> bool:
    result = subprocess.run(
        ["git", "check-ignore", "-q", path], cwd=ROOT, capture_output=True, check=False, timeout=30
    )
    return result.returncode == 0
