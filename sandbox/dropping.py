"""Dropping a response: the request has been applied, and the client gets no answer at all.

ASGI has no way to close a connection without answering (uvicorn would send a 500), so the sandbox
runs uvicorn with the HTTP protocol class below, which remembers each connection's transport by the
client's address. After the application has handled the request and its answer has been discarded,
:func:`drop_connection` closes that transport: the client sees the connection closed before any
status line (``requests`` raises ``ConnectionError``), exactly as when an answer is lost on the way.

Outside :class:`~sandbox.testing.SandboxServers` and ``python -m sandbox serve`` (for example under
FastAPI's ``TestClient``) there is no transport to close, and the request raises
:class:`ResponseDropped` instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional for uvicorn; h11 then serves alone
    HttpToolsProtocol = None

_transports: dict[tuple[str, int], asyncio.Transport] = {}


class ResponseDropped(Exception):
    """The answer to this request was dropped on purpose, and no transport was there to close."""


class _RemembersTransport:
    """Mixed into a uvicorn protocol: remembers its transport so that a fault can close it unanswered."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        if peer:
            self._sandbox_peer = (peer[0], peer[1])
            _transports[self._sandbox_peer] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        peer = getattr(self, "_sandbox_peer", None)
        if peer and _transports.get(peer) is self.transport:
            del _transports[peer]
        super().connection_lost(exc)


class DroppingH11Protocol(_RemembersTransport, H11Protocol):
    pass


DroppingHttpToolsProtocol = (
    type("DroppingHttpToolsProtocol", (_RemembersTransport, HttpToolsProtocol), {})
    if HttpToolsProtocol
    else None
)
# The faster parser when it is installed.
PROTOCOL = DroppingHttpToolsProtocol or DroppingH11Protocol


async def drop_connection(scope: dict[str, Any]) -> None:
    """Closes the connection that carried the request in ``scope``, without a response."""
    client = scope.get("client")
    transport = _transports.get((client[0], client[1])) if client else None
    if transport is None:
        raise ResponseDropped(f"{scope['method']} {scope['path']}: response dropped")
    transport.close()
    # Let the protocol see the closed connection before uvicorn decides whether to answer.
    for _ in range(3):
        await asyncio.sleep(0)
