"""Fixed lookup tables of the sandbox: Sentral's reference data and EnrolHQ's status settings.

Ids here do not depend on the generator's seed, so mapping files written for the sandbox stay valid
for every generated school.
"""

from __future__ import annotations

from datetime import date

GRADES = ["K", *[str(n) for n in range(1, 13)]]
GRADE_LABELS = {"K": "Kindergarten", **{str(n): f"Year {n}" for n in range(1, 13)}}

# EnrolHQ status ids are stable; labels are the school's own.
STATUS_LABELS = {
    -1: "Enquiry - Register Interest",
    0: "Enquiry - Online",
    2: "Expression of Interest",
    3: "Application for Enrolment",
    13: "Interview",
    9: "Wait List",
    12: "Enrolment Offer",
    4: "Orientation",
    5: "Community",
    8: "Declined",
    11: "Not Proceeding",
    7: "Trashed",
    15: "Custom 1",
}
DISABLED_STATUSES = {15}

CAMPUSES = {"Main Campus": "1", "Junior Campus": "2"}
ENROLHQ_CAMPUSES = list(CAMPUSES)

DOCUMENT_CATEGORIES = [
    ("1", "Birth Certificate"),
    ("2", "School Report"),
    ("3", "NAPLAN Results"),
    ("4", "Passport / Visa"),
    ("5", "Medical"),
    ("6", "Custody Orders"),
    ("7", "Immunisation History"),
]
RELATIONSHIP_CODES = [
    "MOTHER",
    "FATHER",
    "PARENT",
    "STEPMOTHER",
    "STEPFATHER",
    "GRANDMOTHER",
    "GRANDFATHER",
    "AUNT",
    "UNCLE",
    "GUARDIAN",
    "CARER",
    "OTHER",
]


def status_settings() -> list[dict]:
    """EnrolHQ's ``application-status-settings/`` list."""
    return [
        {"id": sid, "label": label, "is_enabled": sid not in DISABLED_STATUSES}
        for sid, label in STATUS_LABELS.items()
    ]


def sentral_lookups(as_of: date) -> dict[str, list[dict]]:
    """Sentral's reference tables, keyed as in the seed document; ``as_of`` dates the periods.

    One year level ("Year 13") and one campus ("Old Campus") are inactive, so that preflight has
    something to find.
    """
    year_levels = [
        {"id": str(i + 1), "name": GRADE_LABELS[g], "code": g, "censusYear": g, "isActive": True}
        for i, g in enumerate(GRADES)
    ]
    year_levels.append({"id": "14", "name": "Year 13", "code": "13", "censusYear": "13", "isActive": False})
    periods = [
        {
            "id": str(i + 1),
            "name": f"{year} School Year",
            "year": year,
            "start_date": f"{year}-01-28",
            "end_date": f"{year}-12-18",
        }
        for i, year in enumerate((as_of.year, as_of.year + 1))
    ]
    return {
        "year_levels": year_levels,
        "academic_periods": periods,
        "campuses": [
            {"id": "1", "name": "Main Campus", "isActive": True},
            {"id": "2", "name": "Junior Campus", "isActive": True},
            {"id": "3", "name": "Old Campus", "isActive": False},
        ],
        "houses": [
            {"id": str(i + 1), "name": name, "sequence": i + 1}
            for i, name in enumerate(["Banksia", "Waratah", "Wattle", "Jacaranda"])
        ],
        "flags": [
            {"id": "1", "internalName": "MEDICAL_ALERT", "name": "Medical alert", "isActive": True},
            {"id": "2", "internalName": "COURT_ORDER", "name": "Court order", "isActive": True},
            {"id": "3", "internalName": "EAL", "name": "English as an additional language", "isActive": True},
            {"id": "4", "internalName": "OLD_BUS", "name": "Bus route (retired)", "isActive": False},
        ],
        "document_categories": [{"id": cid, "name": name} for cid, name in DOCUMENT_CATEGORIES],
        "note_types": [
            {"id": "1", "name": "General", "isBuiltIn": True},
            {"id": "2", "name": "Registrar", "isBuiltIn": False},
            {"id": "3", "name": "Medical", "isBuiltIn": True},
            {"id": "4", "name": "Wellbeing", "isBuiltIn": False},
        ],
    }
