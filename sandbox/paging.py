"""The three paging styles the sandbox serves, each building absolute links from the request's URL.

EnrolHQ: page numbers (``page``, ``page_size``; ``{count, next, previous, results}``) and cursors
(``cursor``; ``{next, previous, results}``, no count). Sentral: ``limit``/``offset`` with
``links.next`` (absent on the last page) and ``meta.count``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from fastapi import Request


class PagingError(ValueError):
    """A page, cursor or limit the server will not serve; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.status = status


def _int_param(request: Request, name: str, default: int, status: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise PagingError(f"Invalid {name}.", status) from None


def page_number(request: Request, items: Sequence, *, max_size: int, default_size: int = 50) -> dict:
    """One page of ``items``; a ``page_size`` over ``max_size`` is cut to it, as DRF does."""
    size = max(1, min(_int_param(request, "page_size", default_size, 404), max_size))
    page = _int_param(request, "page", 1, 404)
    pages = max(1, -(-len(items) // size))
    if page < 1 or page > pages:
        raise PagingError("Invalid page.")
    start = (page - 1) * size
    url = request.url
    return {
        "count": len(items),
        "next": str(url.include_query_params(page=page + 1)) if page < pages else None,
        "previous": str(url.include_query_params(page=page - 1)) if page > 1 else None,
        "results": list(items[start : start + size]),
    }


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o={offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith("o="):
            raise ValueError(cursor)
        return int(text[2:])
    except ValueError:
        raise PagingError("Invalid cursor") from None


def cursor_page(request: Request, items: Sequence, *, size: int = 100) -> dict:
    """One cursor page of ``items`` (already newest first)."""
    cursor = request.query_params.get("cursor")
    offset = _decode_cursor(cursor) if cursor else 0
    size = max(1, min(_int_param(request, "page_size", size, 404), size))
    url = request.url
    end = offset + size
    previous = None
    if offset > 0:
        previous = str(url.include_query_params(cursor=_encode_cursor(max(0, offset - size))))
    return {
        "next": str(url.include_query_params(cursor=_encode_cursor(end))) if end < len(items) else None,
        "previous": previous,
        "results": list(items[offset:end]),
    }


def limit_offset(request: Request, items: Sequence, *, max_limit: int = 200, default_limit: int = 50) -> dict:
    """A JSON:API page: ``data`` (the slice, unserialised), ``links`` and ``meta``."""
    limit = _int_param(request, "limit", default_limit, 400)
    offset = _int_param(request, "offset", 0, 400)
    if limit < 1 or limit > max_limit or offset < 0:
        raise PagingError(f"limit must be 1..{max_limit} and offset at least 0", 400)
    url = request.url
    links = {"self": str(url)}
    if offset + limit < len(items):
        links["next"] = str(url.include_query_params(limit=limit, offset=offset + limit))
    if offset > 0:
        links["prev"] = str(url.include_query_params(limit=limit, offset=max(0, offset - limit)))
    return {"data": list(items[offset : offset + limit]), "links": links, "meta": {"count": len(items)}}
