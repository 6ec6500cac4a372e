"""Preflight: proves a school's connections and mappings are ready before anything is written to Sentral.

Three steps, each usable on its own (the ``sentral_preflight`` DAG runs them as three tasks):

1. :func:`read_sentral` signs in to Sentral and reads the lookups the mappings point at;
2. :func:`read_enrolhq` signs in to EnrolHQ and collects every value that eligible applications use
   and that goes through a lookup table (entry grade, campus, gender, carers' relationships, verified
   documents' kinds);
3. :func:`find_gaps` compares both with the school's mappings, and :func:`write_preflight_report`
   writes the HTML and CSV report.

A refused connection (401/403) is a gap like any other: the report says which system and what to fix.
The step results are plain JSON so that Airflow can pass them between tasks; they hold ids and codes,
never personal data.

Sentral publishes no lookup of gender or relationship codes. Those mappings are checked against the
code lists under ``sentral_codes`` in ``school.yml``, which a school confirms once against its tenant;
the report says so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from apicore.errors import FatalApiError, NotFoundError
from sentral.fieldmap import value_at
from sentral.mappings import LookupTable, SchoolConfig
from sentral.reports import ReportFiles, write_report
from sentral.sync_rules import offer_accepted

log = logging.getLogger(__name__)

# Mapping table → the Sentral lookup its values must exist in.
SENTRAL_LOOKUP_OF_TABLE = {
    "year_levels": "year_levels",
    "campuses": "campuses",
    "houses": "houses",
    "document_categories": "document_categories",
}
# school.yml defaults → the Sentral lookup the value must exist in.
SENTRAL_LOOKUP_OF_DEFAULT = {
    "campus_id": "campuses",
    "academic_period_id": "academic_periods",
    "note_type_id": "note_types",
}
# Mapping tables whose Sentral side has no lookup endpoint → the code list in school.yml.
CODE_LIST_OF_TABLE = {"genders": "genders", "relationships": "relationships"}
SENTRAL_LOOKUPS = (
    "year_levels",
    "campuses",
    "houses",
    "document_categories",
    "academic_periods",
    "note_types",
)

LOOKUP_LABELS = {
    "year_levels": "Year levels",
    "campuses": "Campuses",
    "houses": "Houses",
    "document_categories": "Document categories",
    "academic_periods": "Academic periods",
    "note_types": "Note types",
    "genders": "Genders",
    "relationships": "Relationships",
}
EXAMPLES_PER_VALUE = 3

COLUMNS = [
    ("check", "Check"),
    ("problem", "Problem"),
    ("value", "Value"),
    ("where", "Where"),
    ("action", "What to do"),
]


class PreflightFailed(Exception):
    """The school is not ready: the report lists every gap."""

    def __init__(self, school: str, gaps: int, report: ReportFiles) -> None:
        self.report = report
        super().__init__(f"preflight of {school} found {gaps} gap(s); see the report {report.html}")


@dataclass(frozen=True)
class Gap:
    """One thing to fix before the sync can run.

    :param check: which area was checked, e.g. ``Year levels`` or ``Connection``.
    :param problem: what is wrong, e.g. ``inactive in Sentral``.
    :param value: the value at fault (a code, an id, a system name).
    :param where: where the value comes from: a mapping file and line, or the applications using it.
    :param action: what a person should change.
    """

    check: str
    problem: str
    value: str
    where: str
    action: str


# --- Step 1: Sentral ---


def read_sentral(client: Any, conn_id: str) -> dict[str, Any]:
    """Check the Sentral connection and read its lookups as ``{"lookups": {kind: [row]}, "errors": []}``.

    Each row is ``{"id", "name", "active"}``. A refused connection or lookup is recorded in
    ``errors`` (the task still succeeds so that the report is written); anything retriable is raised.

    :param client: the school's Sentral client.
    :param conn_id: the Airflow connection the client was built from, named in messages.
    """
    result: dict[str, Any] = {"lookups": {}, "errors": []}
    try:
        client.check()
    except FatalApiError as exc:
        result["errors"].append(_connection_error("Sentral", conn_id, exc, "signing in"))
        return result
    for kind in SENTRAL_LOOKUPS:
        try:
            rows = client.lookup(kind)
        except FatalApiError as exc:
            during = f"reading {LOOKUP_LABELS[kind].lower()}"
            result["errors"].append(_connection_error("Sentral", conn_id, exc, during))
            continue
        result["lookups"][kind] = [_lookup_row(row) for row in rows]
    log.info("Sentral lookups read: %s", {kind: len(rows) for kind, rows in result["lookups"].items()})
    return result


def _lookup_row(resource: Any) -> dict[str, Any]:
    active = resource.get("isActive", True)
    return {"id": str(resource.id), "name": str(resource.get("name") or ""), "active": active is not False}


def _connection_error(system: str, conn_id: str, exc: FatalApiError, during: str) -> dict[str, str]:
    # Client messages carry no credentials and already say what to fix for 401 and 403.
    return {"system": system, "conn_id": conn_id, "during": during, "message": str(exc)}


# --- Step 2: EnrolHQ ---


def read_enrolhq(client: Any, config: SchoolConfig, conn_id: str | None = None) -> dict[str, Any]:
    """Check the EnrolHQ connection and collect the lookup values eligible applications use.

    Returns ``{"applications": n, "values": [{"table", "value", "fields", "count", "examples"}],
    "errors": []}``; ``examples`` are application ids.

    :param client: the school's EnrolHQ client.
    :param config: the school's mappings (eligibility rules and the field map).
    :param conn_id: the Airflow connection named in messages; the school's by default.
    """
    conn_id = conn_id or config.enrolhq_conn_id
    result: dict[str, Any] = {"applications": 0, "values": [], "errors": []}
    usage = _Usage()
    try:
        client.check()
    except FatalApiError as exc:
        result["errors"].append(_connection_error("EnrolHQ", conn_id, exc, "signing in"))
        return result
    try:
        for application in eligible_applications(client, config):
            result["applications"] += 1
            _collect_field_values(usage, config, application)
            _collect_document_kinds(usage, client.list_documents(str(application["id"])), application)
    except FatalApiError as exc:
        result["errors"].append(_connection_error("EnrolHQ", conn_id, exc, "reading applications"))
    result["values"] = usage.as_list()
    log.info(
        "EnrolHQ: %s eligible applications read, %s distinct mapped values",
        result["applications"],
        len(result["values"]),
    )
    return result


def eligible_applications(client: Any, config: SchoolConfig) -> Iterable[dict[str, Any]]:
    """The applications the sync would consider, in detail: an eligible status, no external ID, and
    (when the school requires it) an accepted offer."""
    settings = config.settings
    accepted_field = settings.offer_accepted_field if settings.require_offer_accepted else None
    for summary in client.iter_applications(statuses=settings.eligible_statuses, has_external_id=False):
        if summary.get("external_id"):
            continue
        try:
            application = client.get_application(str(summary["id"]))
        except NotFoundError:
            # Deleted between the list and the read: nothing left to map.
            log.info("application %s vanished while preflight read it; skipped", summary["id"])
            continue
        if offer_accepted(application, accepted_field):
            yield application


class _Usage:
    """Which application used which EnrolHQ value of which lookup table."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, table: str, value: object, field: str, application_id: str) -> None:
        key = (table, str(value).strip())
        entry = self._seen.setdefault(key, {"fields": set(), "applications": []})
        entry["fields"].add(field)
        if application_id not in entry["applications"]:
            entry["applications"].append(application_id)

    def as_list(self) -> list[dict[str, Any]]:
        return [
            {
                "table": table,
                "value": value,
                "fields": sorted(entry["fields"]),
                "count": len(entry["applications"]),
                "examples": entry["applications"][:EXAMPLES_PER_VALUE],
            }
            for (table, value), entry in sorted(self._seen.items())
        ]


def _collect_field_values(usage: _Usage, config: SchoolConfig, application: Mapping[str, Any]) -> None:
    application_id = str(application["id"])
    for section, rule in config.fields.lookup_rules():
        for source in _sources(section, application):
            value = value_at(source, rule.source)
            if value is not None and str(value).strip():
                usage.add(str(rule.lookup), value, rule.source_path, application_id)


def _sources(section: str, application: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The records a field map section reads, as the payload builder feeds them."""
    from sentral.payload import carers

    if section in ("reference", "student", "enrolment"):
        return [application]
    if section == "contact":
        return carers(application)
    if section == "address":
        people = [application, *carers(application)]
        return [person["residential_address"] for person in people if person.get("residential_address")]
    return []


def _collect_document_kinds(
    usage: _Usage, documents: Iterable[Mapping[str, Any]], application: Mapping
) -> None:
    # Only verified documents are sent to Sentral, so only their kinds need a category.
    for document in documents:
        kind = document.get("group_kind")
        if document.get("is_verified") and kind:
            usage.add("document_categories", kind, "group_kind", str(application["id"]))


# --- Step 3: compare and report ---


def find_gaps(
    config: SchoolConfig, sentral: Mapping[str, Any] | None, enrolhq: Mapping[str, Any] | None
) -> list[Gap]:
    """Every gap between the school's mappings, Sentral's lookups and the values applications use.

    :param config: the school's mappings.
    :param sentral: the result of :func:`read_sentral`, or None when that step did not finish.
    :param enrolhq: the result of :func:`read_enrolhq`, or None when that step did not finish.
    """
    gaps: list[Gap] = []
    gaps += _step_gaps("Sentral", config.sentral_conn_id, sentral)
    gaps += _step_gaps("EnrolHQ", config.enrolhq_conn_id, enrolhq)
    if sentral is not None:
        gaps += _mapped_values_missing_in_sentral(config, sentral.get("lookups", {}))
    gaps += _codes_unknown_to_tenant(config)
    if enrolhq is not None:
        gaps += _values_without_mapping(config, enrolhq.get("values", []))
    return gaps


def _step_gaps(system: str, conn_id: str, result: Mapping[str, Any] | None) -> list[Gap]:
    if result is None:
        return [
            Gap(
                check="Connection",
                problem=f"{system} could not be read",
                value=system,
                where=f"connection {conn_id}",
                action=f"The {system} step failed after its retries; its task log says why. Run preflight again.",
            )
        ]
    return [
        Gap(
            check="Connection",
            problem=f"{error['system']} refused the request while {error['during']}",
            value=error["system"],
            where=f"connection {error['conn_id']}",
            action=error["message"],
        )
        for error in result.get("errors", [])
    ]


def _mapped_values_missing_in_sentral(config: SchoolConfig, lookups: Mapping[str, list[dict]]) -> list[Gap]:
    gaps = []
    for table_name, kind in SENTRAL_LOOKUP_OF_TABLE.items():
        table = config.lookup(table_name)
        if table is None or kind not in lookups:
            continue
        rows = {row["id"]: row for row in lookups[kind]}
        for entry in table:
            where = f"{table.file_name}, line {entry.line} ({entry.enrolhq_value})"
            gap = _sentral_id_gap(kind, entry.sentral_value, rows, where, table.file_name)
            if gap:
                gaps.append(gap)
    for key, kind in SENTRAL_LOOKUP_OF_DEFAULT.items():
        value = config.defaults.get(key)
        if value is None or kind not in lookups:
            continue
        rows = {row["id"]: row for row in lookups[kind]}
        gap = _sentral_id_gap(kind, str(value), rows, f"school.yml, defaults.{key}", "school.yml")
        if gap:
            gaps.append(gap)
    return gaps


def _sentral_id_gap(
    kind: str, sentral_id: str, rows: Mapping[str, dict], where: str, file_name: str
) -> Gap | None:
    label = LOOKUP_LABELS[kind]
    row = rows.get(sentral_id)
    if row is None:
        return Gap(
            label,
            "missing in Sentral",
            sentral_id,
            where,
            f"Sentral has no {label.lower()} with id {sentral_id}: correct {file_name}.",
        )
    if not row["active"]:
        return Gap(
            label,
            "inactive in Sentral",
            f"{sentral_id} ({row['name']})",
            where,
            f"Map to an active one in {file_name}, or reactivate it in Sentral.",
        )
    return None


def _codes_unknown_to_tenant(config: SchoolConfig) -> list[Gap]:
    gaps = []
    codes = config.settings.sentral_codes
    for table_name, list_name in CODE_LIST_OF_TABLE.items():
        table = config.lookup(table_name)
        known = set(getattr(codes, list_name))
        for entry in table or ():
            if entry.sentral_value not in known:
                gaps.append(
                    Gap(
                        LOOKUP_LABELS[table_name],
                        "not a code the tenant knows",
                        entry.sentral_value,
                        f"{table.file_name}, line {entry.line} ({entry.enrolhq_value})",
                        f"Use one of {', '.join(sorted(known))}, or add the code to sentral_codes.{list_name} "
                        "in school.yml once the tenant is confirmed to accept it.",
                    )
                )
    return gaps


def _values_without_mapping(config: SchoolConfig, values: Iterable[Mapping[str, Any]]) -> list[Gap]:
    gaps = []
    for used in values:
        table: LookupTable | None = config.lookup(used["table"])
        if table is not None and used["value"] in table:
            continue
        file_name = f"{used['table']}.csv"
        examples = ", ".join(used["examples"])
        more = (
            f" and {used['count'] - len(used['examples'])} more"
            if used["count"] > len(used["examples"])
            else ""
        )
        gaps.append(
            Gap(
                LOOKUP_LABELS.get(used["table"], used["table"]),
                "no mapping",
                used["value"],
                f"{', '.join(used['fields'])} of {used['count']} eligible application(s): {examples}{more}",
                f"Add a row for {used['value']!r} to {file_name}.",
            )
        )
    return gaps


def preflight_notes(config: SchoolConfig, sentral: Mapping | None, enrolhq: Mapping | None) -> list[str]:
    """What the report says was checked."""
    codes = config.settings.sentral_codes
    notes = [
        "Mapped year levels, campuses, houses and document categories, and the defaults in school.yml, "
        "are checked against Sentral's own lookups.",
        "Sentral publishes no lookup of gender or relationship codes: genders.csv and relationships.csv "
        f"are checked against sentral_codes in school.yml (genders: {', '.join(codes.genders)}; "
        f"relationships: {', '.join(codes.relationships)}). Confirm those lists against the tenant once.",
    ]
    if enrolhq is not None and not enrolhq.get("errors"):
        statuses = ", ".join(str(status) for status in config.settings.eligible_statuses)
        accepted = ", offer accepted" if config.settings.require_offer_accepted else ""
        notes.append(
            f"{enrolhq.get('applications', 0)} eligible application(s) (status {statuses}, no external ID"
            f"{accepted}) were read from EnrolHQ: entry grade, campus, gender, carers' relationships and "
            "verified documents' kinds must each have a mapping."
        )
    return notes


def write_preflight_report(
    config: SchoolConfig,
    gaps: Sequence[Gap],
    *,
    sentral: Mapping[str, Any] | None,
    enrolhq: Mapping[str, Any] | None,
    stamp: str | None = None,
    out_dir: str | None = None,
) -> ReportFiles:
    """Write the preflight report of a school (one row per gap).

    :param stamp: names the report files (the run id).
    :param out_dir: overrides the reports folder.
    """
    summary = {
        "Result": "not ready" if gaps else "ready",
        "Gaps": len(gaps),
        "Eligible applications": (enrolhq or {}).get("applications", "not read"),
        "Sentral lookups read": len((sentral or {}).get("lookups", {})),
    }
    return write_report(
        kind="preflight",
        school=config.school,
        title=f"Preflight: {config.name}",
        columns=COLUMNS,
        rows=[asdict(gap) for gap in gaps],
        summary=summary,
        notes=preflight_notes(config, sentral, enrolhq),
        out_dir=out_dir,
        stamp=stamp,
        generated_at=datetime.now(config.tz),
    )


def conclude(
    config: SchoolConfig,
    sentral: Mapping[str, Any] | None,
    enrolhq: Mapping[str, Any] | None,
    *,
    stamp: str | None = None,
    out_dir: str | None = None,
) -> ReportFiles:
    """Find the gaps, write the report, and raise :class:`PreflightFailed` when there are any."""
    gaps = find_gaps(config, sentral, enrolhq)
    files = write_preflight_report(
        config, gaps, sentral=sentral, enrolhq=enrolhq, stamp=stamp, out_dir=out_dir
    )
    if gaps:
        log.error("preflight of %s: %s gap(s); report %s", config.school, len(gaps), files.html)
        raise PreflightFailed(config.school, len(gaps), files)
    log.info("preflight of %s: ready; report %s", config.school, files.html)
    return files


def run_preflight(school: Any, *, stamp: str | None = None, out_dir: str | None = None) -> ReportFiles:
    """All three steps in one call, for a school opened with :func:`sentral.school.open_school`."""
    config = school.config
    sentral = read_sentral(school.sentral, config.sentral_conn_id)
    enrolhq = read_enrolhq(school.enrolhq, config)
    return conclude(config, sentral, enrolhq, stamp=stamp, out_dir=out_dir)
