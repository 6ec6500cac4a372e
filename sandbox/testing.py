"""Both sandbox servers in background threads, for tests, the demo and ``python -m sandbox serve``.

with SandboxServers(generate_school(size=20)) as servers:
    servers.enrolhq_url            # http://127.0.0.1:<port>/api/v2/
    servers.sentral.add_fault(method="POST", path="student-enrolment-draft$", status=503)
    os.environ.update(servers.connection_env(school="demo"))
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import requests
import uvicorn

from sandbox import enrolhq, sentral
from sandbox.dropping import PROTOCOL


class ControlClient:
    """The ``/_sandbox/`` endpoints of one server."""

    def __init__(self, root_url: str) -> None:
        self.root_url = root_url.rstrip("/")
        self.session = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.root_url}/_sandbox/{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict:
        """The server's whole state, as JSON."""
        return self._call("GET", "state")

    def reset(self, seed_doc: dict | None = None) -> None:
        """Back to ``seed_doc`` (or the seed the server started with); clears faults, metrics, config."""
        body = json.dumps(seed_doc) if seed_doc is not None else b""
        self._call("POST", "reset", data=body, headers={"Content-Type": "application/json"})

    def add_fault(
        self,
        *,
        path: str = ".*",
        method: str | None = None,
        status: int | None = None,
        times: int | None = 1,
        retry_after: int | None = None,
        latency_ms: int = 0,
        drop_response: bool = False,
    ) -> dict:
        """Injects a fault; see :mod:`sandbox.control` for what each field does."""
        spec = {
            "path": path,
            "method": method,
            "status": status,
            "times": times,
            "retry_after": retry_after,
            "latency_ms": latency_ms,
            "drop_response": drop_response,
        }
        return self._call("POST", "faults", json=spec)

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def configure(self, **settings: Any) -> dict:
        """Changes settings (``latency_ms``; on EnrolHQ also ``rate_limits`` and their numbers)."""
        return self._call("PUT", "config", json=settings)

    def metrics(self) -> dict:
        return self._call("GET", "metrics")

    def approve_draft(self, draft_id: str) -> dict:
        """Plays a registrar approving a draft in Sentral (Sentral only)."""
        return self._call("POST", f"drafts/{draft_id}/approve")


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        # Runs in a thread: signals belong to the main thread's owner.
        pass


class _Running:
    def __init__(self, app: Any, host: str, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            http=PROTOCOL,
            lifespan="off",
            access_log=False,
            timeout_keep_alive=30,
        )
        self.server = _Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"sandbox-{port}", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class SandboxServers:
    """Starts the sandbox EnrolHQ and Sentral on free (or given) loopback ports.

    :param seed_doc: the school both servers load (from :func:`sandbox.generator.generate_school`).
    :param host: the address to listen on.
    :param enrolhq_port: a fixed port for EnrolHQ; 0 picks a free one.
    :param sentral_port: a fixed port for Sentral; 0 picks a free one.
    :param enrolhq_config: EnrolHQ settings to start with, e.g. ``{"rate_limits": False}``.
    """

    def __init__(
        self,
        seed_doc: dict,
        host: str = "127.0.0.1",
        *,
        enrolhq_port: int = 0,
        sentral_port: int = 0,
        enrolhq_config: dict | None = None,
        sentral_config: dict | None = None,
    ) -> None:
        self.seed_doc = seed_doc
        self.host = host
        self._enrolhq = _Running(
            enrolhq.create_app(seed_doc, enrolhq_config), host, enrolhq_port or free_port(host)
        )
        self._sentral = _Running(
            sentral.create_app(seed_doc, sentral_config), host, sentral_port or free_port(host)
        )
        self.enrolhq_root = f"http://{host}:{self._enrolhq.server.config.port}/"
        self.sentral_root = f"http://{host}:{self._sentral.server.config.port}/"
        self.enrolhq = ControlClient(self.enrolhq_root)
        self.sentral = ControlClient(self.sentral_root)

    @property
    def enrolhq_url(self) -> str:
        return f"{self.enrolhq_root}api/v2/"

    @property
    def sentral_url(self) -> str:
        return f"{self.sentral_root}restapi/"

    def __enter__(self) -> SandboxServers:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._enrolhq.start()
        try:
            self._sentral.start()
        except Exception:
            self._enrolhq.stop()
            raise

    def stop(self) -> None:
        self._sentral.stop()
        self._enrolhq.stop()

    def reset(self, seed_doc: dict | None = None) -> None:
        """Resets both servers (to ``seed_doc``, or to the seed they started with)."""
        self.enrolhq.reset(seed_doc)
        self.sentral.reset(seed_doc)

    def connection_env(self, school: str = "demo") -> dict[str, str]:
        """``AIRFLOW_CONN_ENROLHQ_<SCHOOL>`` and ``AIRFLOW_CONN_SENTRAL_<SCHOOL>`` in Airflow's JSON form."""
        enrolhq_seed = self.seed_doc["enrolhq"]
        key = self.seed_doc["sentral"]["api_keys"][0]
        suffix = school.upper()
        return {
            f"AIRFLOW_CONN_ENROLHQ_{suffix}": json.dumps(
                {
                    "conn_type": "enrolhq",
                    "host": self.enrolhq_url,
                    "password": enrolhq_seed["api_tokens"][0],
                    "extra": {"requests_per_second": 4.5, "timeout": 30},
                }
            ),
            f"AIRFLOW_CONN_SENTRAL_{suffix}": json.dumps(
                {
                    "conn_type": "sentral",
                    "host": self.sentral_url,
                    "login": key["tenant"],
                    "password": key["key"],
                }
            ),
        }
