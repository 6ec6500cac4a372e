"""Deterministic synthetic schools: the seed documents the sandbox servers load.

``generate_school`` returns one JSON-ready document holding both systems' data and the ``truth``
tests check against. Same arguments, same document, byte for byte once dumped.

A school of ``size`` applications always begins with a fixed set of families, so every scenario is
present from ``size=16`` up: siblings, twins, a split family, a single parent, a grandparent guardian,
a sibling already enrolled in Sentral, two duplicates, one Orientation application without an
accepted offer, one each at statuses 3, 12 and 5, and two with an external id. The rest are drawn at
random. ``in_sentral`` current students (status 5, already in Sentral under slightly different names)
come on top of ``size``. The audit log holds about 0.85 entries per subject per day: a school of 200
applications with ``audit_days=120`` has about 50,000 entries.

Document bytes are not stored: the server generates each file's ``size`` bytes from its id on
download, so the one oversized document (12 MB, over Sentral's 10 MB limit) costs nothing until read.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from sandbox import names
from sandbox.audit import AuditWriter
from sandbox.families import API_USER, TIMEZONE, FamilyBuilder
from sandbox.lookups import sentral_lookups, status_settings
from sandbox.sentral_seed import SentralSeed

DEFAULT_AS_OF = date(2026, 11, 18)
ENROLHQ_TOKEN = "sandbox-enrolhq-token"
SENTRAL_KEY = "0123456789abcdef0123456789abcdef"
SENTRAL_ENROLMENTS_ONLY_KEY = "fedcba9876543210fedcba9876543210"
SENTRAL_TENANT = "SBX001"

ELIGIBLE = {"status": 4, "accepted": True, "tags": ["eligible"]}


def _child(base: dict, **extra: object) -> dict:
    plan = {**base, **extra}
    plan["tags"] = [*base.get("tags", []), *extra.get("tags", [])]
    return plan


def _fixed_families() -> list[tuple[str, list[dict], str | None]]:
    """The families every school starts with: ``(family kind, child plans, Sentral scenario)``."""
    twins = {"grade": "3", "dob": "2018-06-14"}
    return [
        ("together", [_child(ELIGIBLE), _child(ELIGIBLE)], None),
        (
            "together",
            [_child(ELIGIBLE, tags=["twin"], **twins), _child(ELIGIBLE, tags=["twin"], **twins)],
            None,
        ),
        ("split", [_child(ELIGIBLE, oversized=True)], None),
        ("single_parent", [_child(ELIGIBLE)], None),
        ("guardian", [_child(ELIGIBLE)], None),
        ("together", [_child(ELIGIBLE)], "sibling_household"),
        ("together", [_child(ELIGIBLE)], "duplicate"),
        ("single_parent", [_child(ELIGIBLE)], "duplicate"),
        ("together", [{"status": 4, "accepted": False, "tags": []}], None),
        ("together", [{"status": 3, "accepted": False, "tags": []}], None),
        ("split", [{"status": 12, "accepted": False, "tags": []}], None),
        ("together", [{"status": 5, "accepted": True, "tags": []}], None),
        ("together", [{"status": 4, "accepted": True, "tags": [], "showcase": True}], "has_external_id"),
        ("guardian", [{"status": 5, "accepted": True, "tags": []}], "has_external_id"),
    ]


def _random_family(rng: random.Random, room: int) -> tuple[str, list[dict], str | None]:
    kind = rng.choices(["together", "split", "single_parent", "guardian"], [60, 15, 15, 10])[0]
    draw = rng.random()
    if draw < 0.05:
        return kind, [_child(ELIGIBLE)], "duplicate"
    if draw < 0.10:
        return kind, [{"status": rng.choice([4, 5]), "accepted": True, "tags": []}], "has_external_id"
    if draw < 0.14:
        return "together", [_child(ELIGIBLE)], "sibling_household"
    if draw < 0.74:
        plan = ELIGIBLE
    elif draw < 0.84:
        plan = {"status": 4, "accepted": False, "tags": []}
    else:
        plan = {"status": rng.choice([3, 12, 5]), "accepted": False, "tags": []}
    shape = rng.choices(["one", "siblings", "twins"], [75, 20, 5])[0] if room >= 2 else "one"
    if shape == "one":
        return kind, [_child(plan)], None
    if shape == "siblings":
        return kind, [_child(plan), _child(plan)], None
    twins = {"grade": rng.choice(["K", "1", "4", "7"]), "tags": ["twin"]}
    return kind, [_child(plan, **twins), _child(plan, **twins)], None


def _showcase(builder: FamilyBuilder, app: dict) -> None:
    """Makes the record's present values fit the forced audit edits written for it."""
    app["preferred_name"] = app["preferred_name"] or "Kit"
    app["title"] = "Miss" if app["gender"] == 2 else "Master"
    app["custody_details"] = "Both parents collect; no orders."
    app["medical_data"]["medicare_number"] = ""
    app["medical_data"]["conditions"] = app["medical_data"]["conditions"] or ["Asthma"]
    html_first, html_last = names.HTML_NAME.split(" ", 1)
    nan = builder.parent(html_first, html_last, "Grandmother", app["residential_address"])
    app["guardians"] = [*app["guardians"], nan]
    app["user_parent"]["business_phone"] = ""
    app["user_parent"]["employer"] = names.FORMULA_VALUE


def _forced_entries(day: date) -> tuple[list[tuple], list[tuple]]:
    """Edits on one day that use every sentence form and label, and one field changed twice."""

    def at(hour: int, minute: int) -> datetime:
        return datetime.combine(day, time(hour, minute), TIMEZONE)

    address = [
        (f"residential_address.{f}", "changed", None)
        for f in ("street_address", "suburb", "state", "postcode")
    ]
    student = [
        (at(9, 5), "parent", [("preferred_name", "set", None), ("middle_name", None, None)]),
        (at(9, 40), "parent", address),
        (
            at(10, 15),
            "parent",
            [
                ("student_resides_with", "changed", None),
                ("parents_relationship", "changed", None),
                ("custody_details", "set", None),
            ],
        ),
        (
            at(11, 0),
            "parent",
            [
                ("medical_data.doctor_name", "changed", None),
                ("medical_data.doctor_phone", "changed", None),
                ("medical_data.medicare_number", "cleared", None),
                ("medical_data.conditions", "set", None),
                ("medical_data.allergies", None, None),
            ],
        ),
        (
            at(12, 30),
            "parent",
            [
                ("@emergency_contact", "changed", None),
                ("+emergency contact", "added", None),
                ("+guardian", "added", names.HTML_NAME),
            ],
        ),
        (at(13, 10), "parent", [("+emergency contact", "removed", None), ("+guardian", "removed", None)]),
        (
            at(14, 0),
            "staff",
            [
                ("first_name", "changed", None),
                ("last_name", "changed", None),
                ("title", "set", None),
                ("entry_grade", "changed", None),
                ("campus", "changed", None),
                ("@internal_notes", "changed", None),
                ("+parent", "added", None),
            ],
        ),
        (at(14, 30), "staff", [("+parent", "removed", None)]),
        (at(15, 0), None, [("application_status", "changed", None)]),
    ]
    parent = [
        (
            at(8, 30),
            "parent",
            [
                ("title", "changed", None),
                ("first_name", "changed", None),
                ("last_name", "changed", None),
                ("email", "changed", None),
            ],
        ),
        (at(9, 10), "parent", [("mobile_phone", "changed", None)]),
        (at(16, 45), "parent", [("mobile_phone", "changed", None)]),
        (at(17, 0), "parent", [("business_phone", "cleared", None), *address]),
        (
            at(17, 30),
            "parent",
            [
                ("relationship_to_student", "changed", None),
                ("lives_with_student", "changed", None),
                ("occupation", "changed", None),
                ("employer", "changed", None),
            ],
        ),
    ]
    return student, parent


def _write_audit(builder: FamilyBuilder, showcase: dict | None, audit_days: int) -> tuple[list, list]:
    writer = AuditWriter(builder.rng, builder.as_of, audit_days)
    yesterday = builder.as_of - timedelta(days=1)
    forced_student, forced_parent = _forced_entries(yesterday)
    children_of: dict[int, list[str]] = {}
    parents: dict[int, dict] = {}
    for app in builder.applications:
        carers = [p for p in (app["user_parent"], app["non_user_parent"]) if p]
        is_showcase = app is showcase
        writer.subject(
            "student_profile",
            app["id"],
            app,
            [app["id"]],
            {"parent": carers},
            forced=forced_student if is_showcase else (),
            skip_days={yesterday} if is_showcase else frozenset(),
        )
        for parent in carers:
            children_of.setdefault(parent["id"], []).append(app["id"])
            parents[parent["id"]] = parent
    showcase_parent = showcase["user_parent"]["id"] if showcase else None
    for parent_id, parent in parents.items():
        mine = parent_id == showcase_parent
        writer.subject(
            "parent",
            parent_id,
            parent,
            children_of[parent_id],
            {"parent": [parent]},
            forced=forced_parent if mine else (),
            skip_days={yesterday} if mine else frozenset(),
        )
    return writer.finish()


def _stamp_updated_at(applications: list[dict], logs: list[dict]) -> None:
    latest: dict[object, str] = {}
    for log in logs:
        if log["entries"]:
            key = (
                ("student_profile", log["student_profile"])
                if "student_profile" in log
                else ("parent", log["parent"])
            )
            latest[key] = log["entries"][0]["updated_at"]
    for app in applications:
        keys = [("student_profile", app["id"])]
        keys += [("parent", p["id"]) for p in (app["user_parent"], app["non_user_parent"]) if p]
        stamps = [app["created_at"], *(latest[k] for k in keys if k in latest)]
        app["updated_at"] = max(stamps, key=datetime.fromisoformat)


def generate_school(
    size: int = 30,
    seed: int = 1,
    *,
    in_sentral: int | None = None,
    as_of: date | str | None = None,
    audit_days: int = 3,
    name: str = "demo",
) -> dict:
    """A synthetic school as a seed document for both sandbox servers.

    :param size: how many applications, besides the ``in_sentral`` ones.
    :param seed: picks the school; the same seed gives the same document.
    :param in_sentral: how many current students (already in Sentral) have an application too;
        ``None`` means ``max(2, size // 10)``.
    :param as_of: the school's "today" (date or ``YYYY-MM-DD``); audit entries end the day before.
        Defaults to a fixed date so that the document does not depend on the clock.
    :param audit_days: how many days of audit log to write before ``as_of``.
    :param name: the school's name, as used in connection ids.
    """
    as_of_date = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of or DEFAULT_AS_OF
    rng = random.Random(seed)
    builder = FamilyBuilder(rng, as_of_date)
    sentral = SentralSeed(builder)
    families = _fixed_families()[:size]
    planned = sum(len(children) for _, children, _ in families)
    while planned < size:
        family = _random_family(rng, size - planned)
        families.append(family)
        planned += len(family[1])
    showcase = None
    for kind, children, scenario in families:
        apps = builder.family(kind, children)
        for app, plan in zip(apps, children, strict=True):
            if scenario:
                getattr(sentral, scenario)(app)
            if plan.get("showcase"):
                showcase = app
                _showcase(builder, app)
    extra = max(2, size // 10) if in_sentral is None else in_sentral
    for index in range(extra):
        (app,) = builder.family("together", [{"status": 5, "accepted": True, "tags": []}])
        sentral.in_sentral(app, index)
    for _ in range(max(3, size // 10)):
        sentral.unrelated_student()

    logs, edits = _write_audit(builder, showcase, audit_days)
    _stamp_updated_at(builder.applications, logs)
    applications = sorted(builder.applications, key=lambda a: (a["created_at"], a["id"]))
    return {
        "school": {"name": name, "timezone": "Australia/Sydney", "as_of": as_of_date.isoformat()},
        "enrolhq": {
            "api_tokens": [ENROLHQ_TOKEN],
            "api_user": dict(API_USER),
            "status_settings": status_settings(),
            "applications": applications,
            "documents": builder.documents,
            "notes": builder.notes,
            "audit": logs,
        },
        "sentral": {
            "api_keys": [
                {"key": SENTRAL_KEY, "tenant": SENTRAL_TENANT, "modules": ["enrolments", "portal"]},
                {"key": SENTRAL_ENROLMENTS_ONLY_KEY, "tenant": SENTRAL_TENANT, "modules": ["enrolments"]},
            ],
            **sentral_lookups(as_of_date),
            **builder.sentral,
            "drafts": [],
        },
        "truth": {"applications": builder.truth, "audit_edits": edits},
    }


def roster_rows(seed_doc: dict) -> list[dict]:
    """What a Sentral roster export holds for every student in Sentral, one dict per student."""
    sentral = seed_doc["sentral"]
    persons = {p["id"]: p for p in sentral["persons"]}
    year_levels = {y["id"]: y["name"] for y in sentral["year_levels"]}
    rows = []
    for student in sentral["students"]:
        person = persons[student["person"]]
        rows.append(
            {
                "id": student["id"],
                "student_code": student["studentCode"],
                "first_name": person["firstName"],
                "last_name": person["lastName"],
                "preferred_name": person["preferredName"],
                "dob": person["dateOfBirth"],
                "year_level": year_levels.get(student.get("yearLevel"), ""),
            }
        )
    return rows
