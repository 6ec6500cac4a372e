"""The sandbox Sentral REST API, as described in docs/api-surface.md, served under ``/restapi/v1/``.

``create_app(seed_doc)`` builds the app; the state lives in memory in a
:class:`~sandbox.sentral_state.SentralState`. Answers are JSON:API documents
(``application/vnd.api+json``); errors are ``{"errors": [{status, title, detail, source}]}``.
Drafts carry no idempotency: the same POST twice makes two drafts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.datastructures import UploadFile

from sandbox.control import SandboxMiddleware, add_control_routes, json_response
from sandbox.drafts import DraftValidator, error
from sandbox.paging import PagingError, limit_offset
from sandbox.sentral_state import LOOKUPS, MAX_ATTACHMENT_BYTES, SentralState

JSONAPI = "application/vnd.api+json"


class ApiProblem(Exception):
    def __init__(self, status: int, title: str, detail: str, source: dict | None = None) -> None:
        super().__init__(detail)
        self.body = {"status": str(status), "title": title, "detail": detail}
        if source:
            self.body["source"] = source
        self.status = status


def _doc(body: dict, status: int = 200) -> Response:
    return json_response(body, status, media_type=JSONAPI)


def _ref(kind: str, record_id: str | None) -> dict | None:
    return {"type": kind, "id": record_id} if record_id else None


def lookup_resource(kind: str, record: dict) -> dict:
    return {"type": kind, "id": record["id"], "attributes": {k: v for k, v in record.items() if k != "id"}}


def student_resource(record: dict) -> dict:
    return {
        "type": "student",
        "id": record["id"],
        "attributes": {
            "studentCode": record["studentCode"],
            "refId": record["refId"],
            "isActive": record["isActive"],
        },
        "relationships": {
            "person": {"data": _ref("person", record["person"])},
            "households": {"data": [_ref("household", h) for h in record["households"]]},
        },
    }


def person_resource(record: dict) -> dict:
    attributes = {k: v for k, v in record.items() if k not in ("id", "primaryHousehold")}
    return {
        "type": "person",
        "id": record["id"],
        "attributes": attributes,
        "relationships": {"primaryHousehold": {"data": _ref("household", record["primaryHousehold"])}},
    }


def household_resource(record: dict) -> dict:
    return lookup_resource("household", record)


def draft_resource(draft: dict) -> dict:
    return {
        "type": "studentEnrolmentDraft",
        "id": draft["id"],
        "attributes": {
            "status": draft["status"],
            "createdAt": draft["createdAt"],
            "data": draft["data"],
            "originalData": draft["originalData"],
        },
        "relationships": {"student": {"data": _ref("student", draft["student"])}},
    }


def attachment_resource(attachment: dict) -> dict:
    attributes = {k: attachment[k] for k in ("fileName", "categoryId", "size")}
    return {"type": "studentDocument", "id": attachment["id"], "attributes": attributes}


def _page(request: Request, records: list, serialise: Any, included: Any = None) -> Response:
    try:
        body = limit_offset(request, records)
    except PagingError as exc:
        raise ApiProblem(exc.status, "Bad request", str(exc), {"parameter": "limit"}) from None
    body["data"] = [serialise(r) for r in body["data"]]
    if included is not None:
        body["included"] = included(body["data"])
    return _doc(body)


def _one(records: dict, record_id: str, what: str) -> dict:
    if record_id not in records:
        raise ApiProblem(404, "Not found", f"No {what} {record_id}.")
    return records[record_id]


def _lookup_routes(api: APIRouter, state: SentralState) -> None:
    def add_lookup(path: str, key: str, kind: str) -> None:
        async def list_lookup(request: Request) -> Response:
            records = state.tables[key]
            if path == "campus" and request.query_params.get("includeInactive") != "true":
                records = [r for r in records if r.get("isActive")]
            return _page(request, records, lambda r: lookup_resource(kind, r))

        async def get_lookup(record_id: str) -> Response:
            found = next((r for r in state.tables[key] if r["id"] == record_id), None)
            if found is None:
                raise ApiProblem(404, "Not found", f"No {kind} {record_id}.")
            return _doc({"data": lookup_resource(kind, found)})

        api.add_api_route(f"/enrolments/{path}", list_lookup, methods=["GET"])
        api.add_api_route(f"/enrolments/{path}/{{record_id}}", get_lookup, methods=["GET"])

    for path, (key, kind) in LOOKUPS.items():
        add_lookup(path, key, kind)


def _one_with_includes(resource: dict, collect: Any) -> Response:
    body: dict = {"data": resource}
    if collect:
        body["included"] = collect([resource])
    return _doc(body)


def _people_routes(api: APIRouter, state: SentralState) -> None:
    # Tables are looked up on every request: a reset replaces the state's record tables.
    serialisers = {"person": ("persons", person_resource), "household": ("households", household_resource)}

    def includes(request: Request, offered: tuple[str, ...]) -> Any:
        """The collector of JSON:API ``included`` resources for the relationships a request asks for."""
        wanted = set((request.query_params.get("include") or "").split(",")) & set(offered)
        if not wanted:
            return None

        def collect(data: list[dict]) -> list[dict]:
            included, seen = [], set()
            for resource in data:
                for name in wanted:
                    refs = resource["relationships"][name]["data"]
                    for ref in refs if isinstance(refs, list) else [refs]:
                        if ref and (ref["type"], ref["id"]) not in seen:
                            seen.add((ref["type"], ref["id"]))
                            table, serialise = serialisers[ref["type"]]
                            records = getattr(state, table)
                            if ref["id"] in records:
                                included.append(serialise(records[ref["id"]]))
            return included

        return collect

    def student_includes(request: Request) -> Any:
        return includes(request, ("person", "households"))

    def person_includes(request: Request) -> Any:
        return includes(request, ("primaryHousehold",))

    @api.get("/enrolments/student")
    async def students(request: Request) -> Response:
        records = list(state.students.values())
        ids = request.query_params.get("ids")
        if ids:
            records = [s for s in records if s["id"] in ids.split(",")]
        codes = request.query_params.get("studentCodes")
        if codes:
            records = [s for s in records if s["studentCode"] in codes.split(",")]
        return _page(request, records, student_resource, student_includes(request))

    @api.get("/enrolments/student/{student_id}")
    async def student(student_id: str, request: Request) -> Response:
        return _one_with_includes(
            student_resource(_one(state.students, student_id, "student")), student_includes(request)
        )

    @api.get("/enrolments/person")
    async def persons(request: Request) -> Response:
        records = list(state.persons.values())
        for param, field in (("firstName", "firstName"), ("lastName", "lastName")):
            wanted = request.query_params.get(param)
            if wanted:
                records = [p for p in records if (p.get(field) or "").casefold() == wanted.casefold()]
        return _page(request, records, person_resource, person_includes(request))

    @api.get("/enrolments/person/{person_id}")
    async def person(person_id: str, request: Request) -> Response:
        return _one_with_includes(
            person_resource(_one(state.persons, person_id, "person")), person_includes(request)
        )

    @api.get("/enrolments/household")
    async def households(request: Request) -> Response:
        return _page(request, list(state.households.values()), household_resource)

    @api.get("/enrolments/household/{household_id}")
    async def household(household_id: str) -> Response:
        return _doc({"data": household_resource(_one(state.households, household_id, "household"))})


def _draft_routes(api: APIRouter, state: SentralState) -> None:
    @api.get("/portal/student-enrolment-draft")
    async def drafts(request: Request) -> Response:
        records = list(state.drafts.values())
        status = request.query_params.get("status")
        if status:
            records = [d for d in records if d["status"] == status]
        return _page(request, records, draft_resource)

    @api.get("/portal/student-enrolment-draft/{draft_id}")
    async def draft(draft_id: str) -> Response:
        return _doc({"data": draft_resource(_one(state.drafts, draft_id, "draft"))})

    @api.post("/portal/student-enrolment-draft")
    async def create_draft(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise ApiProblem(400, "Bad request", "The body is not JSON.") from None
        validator = DraftValidator(state.tables, set(state.households))
        problems = validator.errors(body)
        if problems:
            return _doc({"errors": problems}, 422)
        created = state.add_draft(body["data"]["attributes"]["data"])
        return _doc({"data": draft_resource(created)}, 201)

    @api.get("/portal/student-enrolment-draft/{draft_id}/attachment")
    async def attachments(draft_id: str, request: Request) -> Response:
        found = _one(state.drafts, draft_id, "draft")
        return _page(request, found["attachments"], attachment_resource)

    @api.post("/portal/student-enrolment-draft/{draft_id}/attachment")
    async def attach(draft_id: str, request: Request) -> Response:
        found = _one(state.drafts, draft_id, "draft")
        category = request.query_params.get("categoryId")
        if category not in {c["id"] for c in state.tables["document_categories"]}:
            detail = f"categoryId must be a student document category id, not {category!r}."
            return _doc({"errors": [{**error("", detail), "source": {"parameter": "categoryId"}}]}, 422)
        form = await request.form()
        upload = form.get("attachment")
        if not isinstance(upload, UploadFile):
            detail = "The multipart body needs a file part named attachment."
            return _doc({"errors": [{**error("", detail), "source": {"parameter": "attachment"}}]}, 422)
        content = await upload.read()
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise ApiProblem(
                413, "Payload too large", f"Attachments are limited to {MAX_ATTACHMENT_BYTES} bytes."
            )
        created = state.add_attachment(
            found,
            upload.filename or "attachment",
            category,
            len(content),
            hashlib.sha256(content).hexdigest(),
        )
        return _doc({"data": attachment_resource(created)}, 201)


def create_app(seed_doc: dict, config: dict | None = None) -> FastAPI:
    """The sandbox Sentral serving ``seed_doc``; ``config`` overrides the default settings."""
    state = SentralState(seed_doc, config)
    app = FastAPI(title="Sandbox Sentral REST API", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.sandbox = state

    @app.exception_handler(ApiProblem)
    async def problem(request: Request, exc: ApiProblem) -> Response:
        return _doc({"errors": [exc.body]}, exc.status)

    def authorise(request: Request) -> None:
        key = state.api_keys.get(request.headers.get("x-api-key", ""))
        if key is None or key["tenant"] != request.headers.get("x-api-tenant"):
            raise ApiProblem(401, "Unauthorized", "The API key or tenant is not valid.")
        module = request.url.path.removeprefix("/restapi/v1/").split("/", 1)[0]
        if module not in key["modules"]:
            raise ApiProblem(403, "Forbidden", f"This API key has no access to the {module} module.")

    api = APIRouter(prefix="/restapi/v1", dependencies=[Depends(authorise)])
    _lookup_routes(api, state)
    _people_routes(api, state)
    _draft_routes(api, state)
    app.include_router(api)
    add_control_routes(app, state)

    @app.post("/_sandbox/drafts/{draft_id}/approve")
    async def approve(draft_id: str) -> Response:
        found = state.drafts.get(draft_id)
        if found is None:
            return json_response({"detail": f"No draft {draft_id}."}, 404)
        return json_response(state.approve(found))

    app.add_middleware(SandboxMiddleware, state=state)
    return app
