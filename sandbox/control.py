"""What both sandbox servers share: configuration, injected faults, metrics, and the ``/_sandbox/`` routes.

Faults and latency are applied by :class:`SandboxMiddleware`, a plain ASGI middleware in front of the
API routes (never in front of ``/_sandbox/``). A fault is ``{method, path, status, times, retry_after,
latency_ms, drop_response}``: ``path`` is a regular expression searched in the request path, ``method``
may be omitted to match any, and ``times`` (default 1; ``null`` for ever) counts the requests it
affects. A fault with ``status`` answers with it instead of running the request; with
``drop_response`` the request runs, its answer is discarded and the connection is closed (see
:mod:`sandbox.dropping`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi import FastAPI, Request, Response

from sandbox import dropping

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox/"


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None, media_type: str = "application/json"
) -> Response:
    """A JSON response serialised once with the standard library (faster than FastAPI's encoder)."""
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status, headers=headers, media_type=media_type)


@dataclass
class Fault:
    method: str | None
    path: re.Pattern
    status: int | None = None
    times: int | None = 1
    retry_after: int | None = None
    latency_ms: int = 0
    drop_response: bool = False

    @classmethod
    def from_json(cls, spec: dict) -> Fault:
        unknown = set(spec) - {
            "method",
            "path",
            "status",
            "times",
            "retry_after",
            "latency_ms",
            "drop_response",
        }
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        method = spec.get("method")
        return cls(
            method=method.upper() if method else None,
            path=re.compile(spec.get("path") or ".*"),
            status=spec.get("status"),
            times=spec.get("times", 1),
            retry_after=spec.get("retry_after"),
            latency_ms=int(spec.get("latency_ms") or 0),
            drop_response=bool(spec.get("drop_response")),
        )

    def as_json(self) -> dict:
        return {
            "method": self.method,
            "path": self.path.pattern,
            "status": self.status,
            "times": self.times,
            "retry_after": self.retry_after,
            "latency_ms": self.latency_ms,
            "drop_response": self.drop_response,
        }


class ServerState:
    """Base of each server's in-memory state: the seed, configuration, faults and metrics.

    Subclasses implement :meth:`load` (take a seed document), :meth:`snapshot` (the state as JSON) and
    may implement :meth:`admit` (refuse a request before it runs, e.g. for a rate limit).
    """

    default_config: ClassVar[dict[str, Any]] = {"latency_ms": 0}
    # The parts of a seed document this server loads; the rest is neither copied nor kept.
    seed_sections: ClassVar[tuple[str, ...]] = ("school",)

    def __init__(self, seed_doc: dict, config: dict | None = None) -> None:
        self.original = seed_doc
        self.initial_config = {**self.default_config, **(config or {})}
        self.reset()

    def reset(self, seed_doc: dict | None = None) -> None:
        """Loads ``seed_doc``, or without one the seed the server was created with; clears faults,
        metrics and settings changed since."""
        source = self.original if seed_doc is None else seed_doc
        self.config = dict(self.initial_config)
        self.faults: list[Fault] = []
        self.clear_metrics()
        # A JSON round trip copies a large seed several times faster than copy.deepcopy.
        mine = {key: source[key] for key in self.seed_sections if key in source}
        self.load(json.loads(json.dumps(mine)))

    def clear_metrics(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.per_second: Counter[int] = Counter()
        self.counters: Counter[str] = Counter()

    def configure(self, changes: dict) -> dict:
        unknown = set(changes) - set(self.default_config)
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}; known: {sorted(self.default_config)}")
        self.config.update(changes)
        return self.config

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if (fault.method in (None, method)) and fault.path.search(path):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def metrics(self) -> dict:
        return {
            "requests": dict(self.requests),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "per_second": {str(k): v for k, v in sorted(self.per_second.items())},
            "rate_limited": self.statuses.get(429, 0),
            **dict(self.counters),
        }

    def load(self, seed_doc: dict) -> None:
        raise NotImplementedError

    def snapshot(self) -> dict:
        raise NotImplementedError

    def admit(self, method: str, path: str, now: float) -> Response | None:
        return None


class SandboxMiddleware:
    """Applies latency, faults and admission rules, and counts every API request."""

    def __init__(self, app: Any, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        state = self.state
        method, path = scope["method"], scope["path"]
        now = time.time()
        state.per_second[int(now)] += 1
        fault = state.take_fault(method, path)
        delay = state.config.get("latency_ms", 0) + (fault.latency_ms if fault else 0)
        if delay:
            await asyncio.sleep(delay / 1000)

        status_seen: list[int] = []

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
            await send(message)

        refusal = None
        if fault and fault.status:
            state.counters["faults_applied"] += 1
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
            refusal = json_response({"detail": "Injected fault."}, fault.status, headers)
        else:
            refusal = state.admit(method, path, now)
        if refusal is not None:
            await refusal(scope, receive, counting_send)
        elif fault and fault.drop_response:
            state.counters["responses_dropped"] += 1
            await self.app(scope, receive, _discard)
            await dropping.drop_connection(scope)
        else:
            await self.app(scope, receive, counting_send)
        route = scope.get("route")
        state.requests[f"{method} {getattr(route, 'path', path)}"] += 1
        if status_seen:
            state.statuses[status_seen[0]] += 1


async def _discard(message: dict) -> None:
    return None


def add_control_routes(app: FastAPI, state: ServerState) -> None:
    """The ``/_sandbox/`` endpoints tests and benchmarks use to inspect and steer a server."""

    @app.get("/_sandbox/state")
    async def get_state() -> Response:
        return json_response(state.snapshot())

    @app.post("/_sandbox/reset")
    async def reset(request: Request) -> Response:
        body = await request.body()
        state.reset(json.loads(body) if body.strip() else None)
        return json_response({"reset": True})

    @app.get("/_sandbox/faults")
    async def list_faults() -> Response:
        return json_response([f.as_json() for f in state.faults])

    @app.post("/_sandbox/faults")
    async def add_fault(request: Request) -> Response:
        try:
            fault = Fault.from_json(await request.json())
        except (ValueError, re.error) as exc:
            return json_response({"detail": str(exc)}, 400)
        state.faults.append(fault)
        return json_response(fault.as_json(), 201)

    @app.delete("/_sandbox/faults")
    async def clear_faults() -> Response:
        state.faults.clear()
        return json_response({"faults": 0})

    @app.put("/_sandbox/config")
    async def configure(request: Request) -> Response:
        try:
            return json_response(state.configure(await request.json()))
        except ValueError as exc:
            return json_response({"detail": str(exc)}, 400)

    @app.get("/_sandbox/config")
    async def get_config() -> Response:
        return json_response(state.config)

    @app.get("/_sandbox/metrics")
    async def metrics() -> Response:
        return json_response(state.metrics())

    @app.delete("/_sandbox/metrics")
    async def clear_metrics() -> Response:
        state.clear_metrics()
        return json_response({"cleared": True})
