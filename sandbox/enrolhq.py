"""The sandbox EnrolHQ API v2, as described in docs/api-surface.md, served under ``/api/v2/``.

``create_app(seed_doc)`` builds the app; the state lives in memory in an
:class:`~sandbox.enrolhq_state.EnrolHQState`. Errors follow Django REST Framework's shapes:
``{"detail": ...}`` or ``{field: [messages]}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response

from sandbox.control import SandboxMiddleware, add_control_routes, json_response
from sandbox.enrolhq_records import RecordErrors
from sandbox.enrolhq_state import EnrolHQState
from sandbox.paging import PagingError, cursor_page, page_number

SUMMARY_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "preferred_name",
    "dob",
    "gender",
    "entry_year",
    "entry_grade",
    "campus",
    "application_status",
    "external_id",
    "updated_at",
)
SUMMARY_PAGE_MAX = 200
DETAIL_PAGE_MAX = 100
AUDIT_PAGE = 100


def document_bytes(doc_id: int, size: int) -> bytes:
    """The file behind a document: ``size`` bytes derived from its id, the same on every download."""
    head = f"%PDF-1.4\n% sandbox document {doc_id}\n".encode()
    block = hashlib.sha256(str(doc_id).encode()).hexdigest().encode() + b"\n"
    body = block * (max(0, size - len(head)) // len(block) + 1)
    return (head + body)[:size]


def _detail_error(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail)


def _summary(app: dict) -> dict:
    return {field: app.get(field) for field in SUMMARY_FIELDS}


def _parse_moment(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filter_summaries(apps: list[dict], request: Request) -> list[dict]:
    params = request.query_params
    statuses = params.getlist("application_statuses")
    if statuses:
        wanted = {int(s) for s in statuses if s.lstrip("-").isdigit()}
        apps = [a for a in apps if a["application_status"] in wanted]
    has_external = params.get("has_external_id")
    if has_external in ("true", "false"):
        apps = [a for a in apps if bool(a.get("external_id")) == (has_external == "true")]
    for field in ("first_name", "last_name"):
        if params.get(field):
            apps = [a for a in apps if (a.get(field) or "").casefold() == params[field].casefold()]
    if params.get("dob"):
        apps = [a for a in apps if a.get("dob") == params["dob"]]
    if params.get("search"):
        needle = params["search"].casefold()
        fields = ("first_name", "last_name", "preferred_name")
        apps = [a for a in apps if any(needle in (a.get(f) or "").casefold() for f in fields)]
    # external_id= is accepted and ignored, as on the real service.
    ordering = params.get("ordering")
    if ordering:
        for key in reversed(ordering.split(",")):
            field = key.lstrip("-")
            if field in SUMMARY_FIELDS:
                apps = sorted(
                    apps,
                    key=lambda a, f=field: (a.get(f) is None, a.get(f) or ""),
                    reverse=key.startswith("-"),
                )
    return apps


def _token_of(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme != "Token" or not token:
        raise _detail_error(401, "Authentication credentials were not provided.")
    return token.strip()


def _paged(request: Request, items: list, max_size: int) -> Response:
    try:
        return json_response(page_number(request, items, max_size=max_size))
    except PagingError as exc:
        return json_response({"detail": str(exc)}, exc.status)


async def _json_body(request: Request) -> object:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise _detail_error(400, "JSON parse error.") from None


def _sign_in_routes(api: APIRouter, state: EnrolHQState) -> None:
    @api.post("/accounts/refresh/")
    async def refresh(request: Request) -> Response:
        api_token = _token_of(request)
        if api_token not in state.api_tokens:
            raise _detail_error(401, "Invalid token.")
        refusal = state.sign_in_refusal(api_token, time.time())
        if refusal is not None:
            return refusal
        state.signing_in.add(api_token)
        try:
            await asyncio.sleep(state.config["sign_in_ms"] / 1000)
            return json_response({"access_token": state.issue_token(api_token, time.time())})
        finally:
            state.signing_in.discard(api_token)


def _application_routes(api: APIRouter, state: EnrolHQState) -> None:
    def application_or_404(app_id: str) -> dict:
        found = state.applications.get(app_id)
        if found is None:
            raise _detail_error(404, "Not found.")
        return found

    @api.get("/applications-list/")
    async def applications_list(request: Request) -> Response:
        apps = _filter_summaries(list(state.applications.values()), request)
        return _paged(request, [_summary(a) for a in apps], SUMMARY_PAGE_MAX)

    @api.get("/applications/")
    async def applications(request: Request) -> Response:
        apps = list(state.applications.values())
        raw = request.query_params.get("updated_after")
        if raw:
            try:
                after = _parse_moment(raw)
            except ValueError:
                return json_response({"updated_after": ["Enter a valid date/time."]}, 400)
            apps = [a for a in apps if datetime.fromisoformat(a["updated_at"]) > after]
        return _paged(request, apps, DETAIL_PAGE_MAX)

    @api.get("/applications/{app_id}/")
    async def application(app_id: str) -> Response:
        return json_response(application_or_404(app_id))

    @api.put("/applications/{app_id}/")
    async def put_application(app_id: str, request: Request) -> Response:
        application_or_404(app_id)
        body = await _json_body(request)
        try:
            return json_response(state.put_application(app_id, body))
        except RecordErrors as exc:
            return json_response(exc.errors, 400)

    @api.get("/application-status-settings/")
    async def status_settings() -> Response:
        return json_response(state.status_settings)


def _document_routes(api: APIRouter, state: EnrolHQState) -> None:
    def with_file_url(doc: dict, request: Request) -> dict:
        return {**doc, "file": f"{request.base_url}api/v2/application-documents/{doc['id']}/download/"}

    @api.get("/application-documents/")
    async def documents(request: Request) -> Response:
        profile = request.query_params.get("student_profile")
        docs = [d for d in state.documents.values() if profile is None or d["student_profile"] == profile]
        return _paged(request, [with_file_url(d, request) for d in docs], 100)

    @api.get("/application-documents/{doc_id}/download/")
    async def download(doc_id: int) -> Response:
        doc = state.documents.get(doc_id)
        if doc is None:
            raise _detail_error(404, "Not found.")
        disposition = f'attachment; filename="{doc["filename"]}"'
        return Response(
            document_bytes(doc_id, doc["size"]),
            media_type="application/pdf",
            headers={"Content-Disposition": disposition},
        )


def _note_errors(state: EnrolHQState, body: object) -> dict:
    if not isinstance(body, dict):
        return {"non_field_errors": ["Expected a JSON object."]}
    errors = {}
    if body.get("student_profile") not in state.applications:
        errors["student_profile"] = [f'Invalid pk "{body.get("student_profile")}" - object does not exist.']
    if not isinstance(body.get("text"), str) or not body["text"].strip():
        errors["text"] = ["This field may not be blank."]
    if not isinstance(body.get("is_pinned", False), bool):
        errors["is_pinned"] = ["Must be a valid boolean."]
    return errors


def _note_and_audit_routes(api: APIRouter, state: EnrolHQState) -> None:
    @api.get("/notes/")
    async def notes(request: Request) -> Response:
        profile = request.query_params.get("student_profile")
        found = [n for n in state.notes if profile is None or n["student_profile"] == profile]
        return _paged(request, found, 100)

    @api.post("/notes/")
    async def add_note(request: Request) -> Response:
        body = await _json_body(request)
        errors = _note_errors(state, body)
        if errors:
            return json_response(errors, 400)
        note = state.add_note(body["student_profile"], body["text"], body.get("is_pinned", False))
        return json_response(note, 201)

    @api.get("/audit/log/")
    async def audit_log(request: Request) -> Response:
        params = request.query_params
        subjects = [(k, params[k]) for k in ("student_profile", "parent") if params.get(k)]
        if len(subjects) != 1:
            return json_response({"detail": "Filter by exactly one of student_profile or parent."}, 400)
        entries = state.audit.get(subjects[0], [])
        try:
            return json_response(cursor_page(request, entries, size=AUDIT_PAGE))
        except PagingError as exc:
            return json_response({"detail": str(exc)}, exc.status)


def create_app(seed_doc: dict, config: dict | None = None) -> FastAPI:
    """The sandbox EnrolHQ serving ``seed_doc``; ``config`` overrides the default settings."""
    state = EnrolHQState(seed_doc, config)
    app = FastAPI(title="Sandbox EnrolHQ API v2", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.sandbox = state

    def authorise(request: Request) -> None:
        if not state.token_valid(_token_of(request), time.time()):
            raise _detail_error(401, "Invalid token.")

    public = APIRouter(prefix="/api/v2")
    _sign_in_routes(public, state)
    api = APIRouter(prefix="/api/v2", dependencies=[Depends(authorise)])
    _application_routes(api, state)
    _document_routes(api, state)
    _note_and_audit_routes(api, state)
    app.include_router(public)
    app.include_router(api)
    add_control_routes(app, state)
    app.add_middleware(SandboxMiddleware, state=state)
    return app
