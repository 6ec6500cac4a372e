"""The sandbox EnrolHQ's in-memory state: records, access tokens, rate limits and the audit log."""

from __future__ import annotations

import math
import secrets
from collections import deque
from datetime import datetime
from typing import Any, ClassVar

from fastapi import Response

from sandbox.control import ServerState, json_response
from sandbox.enrolhq_records import PutBuilder, parent_changes, student_changes
from sandbox.families import TIMEZONE

API_PREFIX = "/api/v2/"


def now_iso() -> str:
    return datetime.now(TIMEZONE).isoformat()


class EnrolHQState(ServerState):
    """Everything the sandbox EnrolHQ holds; see :mod:`sandbox.enrolhq` for the API over it.

    Settings (``PUT /_sandbox/config``): ``latency_ms`` added to every call; ``rate_limits`` on or
    off; ``requests_per_second`` (every API call) and ``sign_ins_per_minute``; ``sign_in_ms``, how
    long a sign-in takes (a second sign-in of the same API token meanwhile gets 400);
    ``token_ttl_s``, how long an access token lives. The request limit is one sliding one-second
    window for the whole server, not per client.
    """

    seed_sections: ClassVar[tuple[str, ...]] = ("school", "enrolhq")
    default_config: ClassVar[dict[str, Any]] = {
        "latency_ms": 0,
        "rate_limits": True,
        "requests_per_second": 5,
        "sign_ins_per_minute": 5,
        "sign_in_ms": 50,
        "token_ttl_s": 3000,
    }

    def load(self, seed_doc: dict) -> None:
        self.school = seed_doc.get("school", {})
        section = seed_doc["enrolhq"]
        self.api_tokens = list(section["api_tokens"])
        self.api_user = section.get("api_user") or {"id": 599, "full_name": "EnrolHQ API", "role": "staff"}
        self.status_settings = section["status_settings"]
        self.applications: dict[str, dict] = {a["id"]: a for a in section["applications"]}
        self.documents: dict[int, dict] = {int(d["id"]): d for d in section["documents"]}
        self.notes: list[dict] = section["notes"]
        self.audit_logs: list[dict] = section["audit"]
        self.audit: dict[tuple[str, str], list[dict]] = {}
        for log in self.audit_logs:
            kind = "student_profile" if "student_profile" in log else "parent"
            self.audit[(kind, str(log[kind]))] = log["entries"]
        self.access: dict[str, tuple[str, float]] = {}
        self.current_token: dict[str, str] = {}
        self.signing_in: set[str] = set()
        self.request_times: deque[float] = deque()
        self.sign_in_times: deque[float] = deque()
        entries = [e["id"] for log in self.audit_logs for e in log["entries"]]
        parents = [p["id"] for a in self.applications.values() for p in self._people(a)]
        self.ids = {
            "audit": max(entries, default=0) + 1,
            "note": max((n["id"] for n in self.notes), default=0) + 1,
            "parent": max(parents, default=0) + 1,
            "member": 900001,
        }

    @staticmethod
    def _people(app: dict) -> list[dict]:
        people = [app["user_parent"], app.get("non_user_parent"), *app.get("guardians", [])]
        return [p for p in people if p]

    def next_id(self, kind: str) -> int:
        value = self.ids[kind]
        self.ids[kind] += 1
        return value

    def snapshot(self) -> dict:
        return {
            "school": self.school,
            "api_user": self.api_user,
            "status_settings": self.status_settings,
            "applications": list(self.applications.values()),
            "documents": list(self.documents.values()),
            "notes": self.notes,
            "audit": self.audit_logs,
            "live_access_tokens": len(self.access),
        }

    # admission and tokens ---------------------------------------------------------------------

    def admit(self, method: str, path: str, now: float) -> Response | None:
        if not path.startswith(API_PREFIX) or not self.config["rate_limits"]:
            return None
        window = self.request_times
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.config["requests_per_second"]:
            return json_response(
                {"detail": "Request was throttled. Expected available in 1 second."},
                429,
                {"Retry-After": "1"},
            )
        window.append(now)
        return None

    def sign_in_refusal(self, api_token: str, now: float) -> Response | None:
        """Why a sign-in may not start now (in flight, or over the per-minute limit), or None."""
        if api_token in self.signing_in:
            return json_response({"detail": "A sign-in for this token is already in progress."}, 400)
        if not self.config["rate_limits"]:
            return None
        window = self.sign_in_times
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= self.config["sign_ins_per_minute"]:
            wait = max(1, math.ceil(window[0] + 60.0 - now))
            return json_response(
                {"detail": f"Too many sign-ins. Expected available in {wait} seconds."},
                429,
                {"Retry-After": str(wait)},
            )
        window.append(now)
        return None

    def issue_token(self, api_token: str, now: float) -> str:
        """A new access token for ``api_token``; the previous one stops working."""
        previous = self.current_token.pop(api_token, None)
        if previous:
            self.access.pop(previous, None)
        token = secrets.token_hex(20)
        self.access[token] = (api_token, now + self.config["token_ttl_s"])
        self.current_token[api_token] = token
        self.counters["sign_ins"] += 1
        return token

    def token_valid(self, token: str, now: float) -> bool:
        held = self.access.get(token)
        return held is not None and held[1] > now

    # writes -----------------------------------------------------------------------------------

    def write_audit(self, kind: str, subject_id: Any, sentences: list[str]) -> None:
        if not sentences:
            return
        entries = self.audit.get((kind, str(subject_id)))
        if entries is None:
            entries = []
            self.audit[(kind, str(subject_id))] = entries
            self.audit_logs.append({kind: subject_id, "entries": entries})
        entry = {
            "id": self.next_id("audit"),
            "changes": sentences,
            "updated_at": now_iso(),
            "updated_by": dict(self.api_user),
        }
        entries.insert(0, entry)

    def put_application(self, app_id: str, body: Any) -> dict:
        """Replaces the application with ``body`` (raises ``RecordErrors``); writes its audit entries."""
        current = self.applications[app_id]
        new = PutBuilder(self.next_id).build(current, body)
        new["updated_at"] = now_iso()
        self.write_audit("student_profile", app_id, student_changes(current, new))
        before = {p["id"]: p for p in self._people(current)}
        for parent in (new["user_parent"], new["non_user_parent"]):
            if parent and parent["id"] in before:
                self.write_audit("parent", parent["id"], parent_changes(before[parent["id"]], parent))
        self.applications[app_id] = new
        self._share_parents(new)
        return new

    def _share_parents(self, changed: dict) -> None:
        # A parent is one record in EnrolHQ: siblings' applications show the same values.
        by_id = {p["id"]: p for p in self._people(changed)}
        for app in self.applications.values():
            if app is changed:
                continue
            for field in ("user_parent", "non_user_parent"):
                parent = app.get(field)
                if parent and parent["id"] in by_id:
                    app[field] = dict(by_id[parent["id"]])

    def add_note(self, app_id: str, text: str, is_pinned: bool) -> dict:
        note = {
            "id": self.next_id("note"),
            "text": text,
            "is_pinned": is_pinned,
            "created_by": {"id": self.api_user["id"], "full_name": self.api_user["full_name"]},
            "created_at": now_iso(),
            "student_profile": app_id,
        }
        self.notes.append(note)
        return note
