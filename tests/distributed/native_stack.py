"""The compose stack's topology as native processes: api-server, scheduler, dag-processor, Celery workers.

Every process runs from this project's virtual environment with one shared environment (database,
broker, JWT secret, Fernet key, execution API URL, connections), binds to loopback only, and starts in
its own process group so that teardown, or a test that simulates a lost machine, can kill it and every
child it forked. ``SERVICE_COMMANDS`` is what each compose service runs; ``tests/test_compose.py``
holds ``docker-compose.yml`` to the same commands and settings. The triggerer is declared for that
check but not started here: no task of the project defers, so it would only cost start-up time.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INIT_SCRIPT = ROOT / "scripts" / "stack" / "init.sh"

# The Airflow command behind each long-running compose service, and the one-shot init service.
SERVICE_COMMANDS: dict[str, list[str]] = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}

# Settings both the compose file and this harness must give every Airflow process; the values differ
# (hosts, ports, secrets) but a setting missing from either side is a stack that behaves differently.
SHARED_SETTINGS = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW_CONN_SENTRAL_LEDGER",
    "SENTRAL_REPORTS_DIR",
)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def airflow_executable() -> str:
    """The ``airflow`` command of the virtual environment running the tests."""
    return str(Path(sys.executable).with_name("airflow"))


@dataclass
class StackConfig:
    """What differs between one native stack and the next.

    :param workdir: a fresh folder for the Airflow home, logs and reports.
    :param database_url: SQLAlchemy URL of an empty PostgreSQL database (metadata DB and ledger).
    :param broker_url: Redis URL of the Celery broker.
    :param key_prefix: prefix of every Redis key this stack's Celery writes, so teardown can remove them.
    :param dags_folder: the folder the dag-processor parses.
    :param connections: connection id → connection as a dict (JSON form of ``AIRFLOW_CONN_*``).
    :param extra_env: anything else every process needs (e.g. the school to use).
    """

    workdir: Path
    database_url: str
    broker_url: str
    key_prefix: str
    dags_folder: Path = ROOT / "dags"
    connections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)


class NativeStack:
    """Starts, watches and tears down the processes of one stack.

    :param config: the stack's databases, folders and connections.
    :param worker_names: one Celery worker per name, each with its own hostname and log-server port.
    :param worker_concurrency: task slots per worker.
    """

    def __init__(
        self,
        config: StackConfig,
        worker_names: tuple[str, ...] = ("worker1", "worker2"),
        worker_concurrency: int = 2,
    ) -> None:
        self.config = config
        self.worker_names = worker_names
        self.worker_concurrency = worker_concurrency
        self.logs = config.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.api_port = free_port()
        self.processes: dict[str, subprocess.Popen] = {}
        self.killed: set[str] = set()
        self._log_files: dict[str, Any] = {}
        self.env = self._environment()
        self._token: str | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _environment(self) -> dict[str, str]:
        # The test session's own Airflow settings (SQLite, LocalExecutor) must not leak into the stack.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SENTRAL_"))}
        home = self.config.workdir / "airflow-home"
        home.mkdir(parents=True, exist_ok=True)
        db = self.config.database_url
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
                "AIRFLOW__CELERY__BROKER_URL": self.config.broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db.replace("+psycopg2", ""),
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": self.config.key_prefix,
                "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.config.dags_folder),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "SENTRAL_REPORTS_DIR": str(self.config.workdir / "reports"),
                # A killed worker's task instances stop heartbeating; these make the scheduler notice
                # within seconds instead of the default five minutes.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
                # A task a killed worker had taken from the broker but not started stays queued; the
                # scheduler hands it out again after this long instead of the default ten minutes.
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "45",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
                "PYTHONUNBUFFERED": "1",
                # The init script calls `airflow` and `python`: the project's, as in the image.
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            }
        )
        for conn_id, conn in self.config.connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(dict(conn))
        env.update(self.config.extra_env)
        return env

    def run(self, *argv: str, timeout: float = 300) -> None:
        """Runs one command to completion in the stack's environment; its output goes to the logs.

        :param argv: the command and its arguments.
        :param timeout: seconds before the command counts as hung.
        """
        name = Path(argv[0]).name
        out = self.logs / f"run-{name}.log"
        with out.open("a") as sink:
            sink.write(f"$ {' '.join(argv)}\n")
            sink.flush()
            result = subprocess.run(
                argv, env=self.env, stdout=sink, stderr=subprocess.STDOUT, timeout=timeout, check=False
            )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited with {result.returncode}; see {out}")

    def start(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        """Starts a long-running process in a new process group, its output in ``logs/<name>.log``.

        :param name: the process's name in this stack.
        :param argv: the command and its arguments.
        :param env: settings for this process only, on top of the stack's environment.
        """
        sink = (self.logs / f"{name}.log").open("ab")
        self._log_files[name] = sink
        self.processes[name] = subprocess.Popen(
            argv,
            env={**self.env, **(env or {})},
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def initialise(self) -> None:
        """The compose init service's work: migrate, import pools, create the ledger's tables."""
        self.run("bash", str(INIT_SCRIPT), timeout=300)

    def start_services(self) -> None:
        """Starts every long-running service of the stack, workers included."""
        airflow = airflow_executable()
        self.start("api-server", [airflow, *SERVICE_COMMANDS["airflow-apiserver"]])
        self.start("scheduler", [airflow, *SERVICE_COMMANDS["airflow-scheduler"]])
        self.start("dag-processor", [airflow, *SERVICE_COMMANDS["airflow-dag-processor"]])
        for name in self.worker_names:
            self.start_worker(name)

    def start_worker(self, name: str) -> None:
        """Starts one Celery worker as if on its own machine: own hostname, own log-server port."""
        argv = [
            airflow_executable(),
            *SERVICE_COMMANDS["airflow-worker"],
            "--celery-hostname",
            f"{name}@%h",
            "--concurrency",
            str(self.worker_concurrency),
        ]
        env = {
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "stack_hostname.hostname",
            "SENTRAL_STACK_HOSTNAME": name,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), self.env.get("PYTHONPATH")])),
        }
        self.start(name, argv, env=env)

    def kill(self, name: str) -> None:
        """SIGKILLs a process and everything in its group, as a machine that lost power would stop."""
        process = self.processes[name]
        self.killed.add(name)
        _signal_tree(process.pid, _descendants(process.pid), signal.SIGKILL)
        process.wait(timeout=30)

    def assert_alive(self) -> None:
        """Raises when a process of the stack has exited on its own."""
        dead = {
            n: p.returncode
            for n, p in self.processes.items()
            if n not in self.killed and p.poll() is not None
        }
        if dead:
            raise RuntimeError(f"stack processes exited: {dead}")

    def stop(self) -> None:
        """Stops every process group: SIGTERM, a grace period, then SIGKILL for whatever is left."""
        trees = {name: _descendants(p.pid) for name, p in self.processes.items()}
        for name, process in self.processes.items():
            _signal_tree(process.pid, trees[name], signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for name, process in self.processes.items():
            _signal_tree(process.pid, trees[name], signal.SIGKILL)
            if process.poll() is None:
                process.wait(timeout=10)
        for sink in self._log_files.values():
            sink.close()

    def log_tails(self, lines: int = 60) -> str:
        """The last lines of every log, for a failure report."""
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"----- {path} -----\n" + "\n".join(text))
        return "\n".join(parts)

    # The REST API, as an operator's script would use it.

    def api(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Calls ``/api/v2`` and returns the decoded JSON answer.

        :param method: the HTTP method.
        :param path: the path under ``/api/v2``.
        :param body: a JSON body, for writes.
        """
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.api_url}/api/v2{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._api_token()}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def _api_token(self) -> str:
        if self._token is None:
            with urllib.request.urlopen(f"{self.api_url}/auth/token", timeout=30) as response:
                self._token = json.loads(response.read())["access_token"]
        return self._token

    def wait_for_api(self, timeout: float = 120) -> None:
        """Waits until the api-server answers its health check."""
        wait_until(lambda: self._healthy(), timeout, "the api-server to answer", self.assert_alive)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Waits until the dag-processor has parsed ``dag_id`` into the metadata database."""

        def parsed() -> bool:
            try:
                self.api("GET", f"/dags/{dag_id}")
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return False
                raise
            return True

        wait_until(parsed, timeout, f"the dag-processor to parse {dag_id}", self.assert_alive)

    def wait_for_workers(self, timeout: float = 120) -> None:
        """Waits until every Celery worker has said it is ready."""

        def ready() -> bool:
            return all(
                "ready." in (self.logs / f"{name}.log").read_text(errors="replace")
                for name in self.worker_names
            )

        wait_until(ready, timeout, "the Celery workers to be ready", self.assert_alive)

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Unpauses ``dag_id``, triggers a run and returns its run id."""
        self.api("PATCH", f"/dags/{dag_id}", {"is_paused": False})
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": dict(conf or {})})
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Waits for a run to finish and returns its final state."""
        states: list[str] = []

        def finished() -> bool:
            states.append(self.run_state(dag_id, run_id))
            return states[-1] in ("success", "failed")

        wait_until(finished, timeout, f"run {run_id} of {dag_id} to finish", self.assert_alive)
        return states[-1]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run, mapped ones included, as the REST API reports them."""
        answer = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")
        return answer["task_instances"]


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, check: Callable[[], None] | None = None
) -> None:
    """Polls ``condition`` until it holds; raises TimeoutError naming ``what`` when it never does.

    :param check: called between polls; raises to stop waiting early (a process died).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if check is not None:
            check()
        time.sleep(1)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def _descendants(pid: int) -> list:
    # Airflow's task supervisor puts each task process in a group of its own, so the leader's group
    # alone misses them; they are listed while they are still the leader's descendants.
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _signal_tree(pid: int, descendants: list, sig: signal.Signals) -> None:
    import psutil

    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    for child in descendants:
        try:
            child.send_signal(sig)
        except psutil.NoSuchProcess:
            pass
