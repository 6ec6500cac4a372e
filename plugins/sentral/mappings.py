"""Per-school configuration and lookup tables, loaded from ``include/mappings/<school>/`` and validated.

A school's folder holds:

- ``school.yml``: settings (timezone, connections, which applications are eligible, defaults, ...);
- lookup tables, one per CSV with the columns ``enrolhq_value,sentral_value[,note]``:
  ``year_levels.csv``, ``campuses.csv``, ``genders.csv``, ``relationships.csv``,
  ``document_categories.csv`` and, optionally, ``houses.csv``;
- ``fields.yml``: the draft field map (:mod:`sentral.fieldmap`).

Everything is checked when loaded; a :class:`MappingError` names the file, the line or key, and the
value, so a data engineer can fix the file without reading code. Unknown keys are errors: a typo must
not silently fall back to a default.

The mappings folder is, in order: the ``root`` argument, ``$SENTRAL_MAPPINGS_DIR``, ``include/mappings``
beside the DAGs folder, and ``include/mappings`` of the repository this package lives in.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from sentral.fieldmap import FieldMap, MappingError

__all__ = [
    "LOOKUP_TABLES",
    "OPTIONAL_LOOKUP_TABLES",
    "LookupEntry",
    "LookupTable",
    "MappingError",
    "SchoolConfig",
    "load_lookup",
    "load_school",
    "mappings_root",
]

MAPPINGS_DIR_ENV = "SENTRAL_MAPPINGS_DIR"
SCHOOL_FILE = "school.yml"
FIELDS_FILE = "fields.yml"
LOOKUP_TABLES = ("year_levels", "campuses", "genders", "relationships", "document_categories")
OPTIONAL_LOOKUP_TABLES = ("houses",)
LOOKUP_COLUMNS = ("enrolhq_value", "sentral_value")

_SCHOOL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


# --- Lookup tables ---


@dataclass(frozen=True)
class LookupEntry:
    """One row of a lookup table; ``line`` is its line in the CSV file."""

    enrolhq_value: str
    sentral_value: str
    note: str
    line: int


@dataclass(frozen=True)
class LookupTable:
    """EnrolHQ value → Sentral value, read from one CSV file.

    Values are compared as written, after trimming spaces: ``Year 7`` and ``year 7`` are different keys.
    """

    name: str
    path: Path
    entries: Mapping[str, LookupEntry]

    def get(self, enrolhq_value: object) -> str | None:
        """The Sentral value for an EnrolHQ value, or None when the table has no row for it."""
        entry = self.entries.get(str(enrolhq_value).strip())
        return entry.sentral_value if entry else None

    def __contains__(self, enrolhq_value: object) -> bool:
        return str(enrolhq_value).strip() in self.entries

    def __iter__(self) -> Iterator[LookupEntry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def file_name(self) -> str:
        return self.path.name


def load_lookup(path: str | Path, name: str | None = None) -> LookupTable:
    """Read one lookup CSV; duplicate EnrolHQ values and blank values are errors naming the line.

    Lines whose first cell starts with ``#`` are comments. A byte-order mark (Excel) is accepted.

    :param path: the CSV file.
    :param name: the table's name; defaults to the file name without ``.csv``.
    """
    path = Path(path)
    name = name or path.stem
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise MappingError(path, "file not found") from None
    with handle:
        reader = csv.reader(handle)
        header = _read_header(path, reader)
        entries: dict[str, LookupEntry] = {}
        for cells in reader:
            entry = _read_row(path, header, cells, reader.line_num)
            if entry is None:
                continue
            first = entries.get(entry.enrolhq_value)
            if first is not None:
                raise MappingError(
                    path,
                    f"EnrolHQ value {entry.enrolhq_value!r} is listed twice (first on line {first.line})",
                    line=entry.line,
                )
            entries[entry.enrolhq_value] = entry
    return LookupTable(name=name, path=path, entries=entries)


def _read_header(path: Path, reader: Any) -> list[str]:
    for cells in reader:
        if _is_comment_or_blank(cells):
            continue
        header = [cell.strip() for cell in cells]
        if header[:2] != list(LOOKUP_COLUMNS) or len(header) > 3 or header[2:] not in ([], ["note"]):
            raise MappingError(
                path,
                f"header must be enrolhq_value,sentral_value[,note], got {','.join(header)!r}",
                line=reader.line_num,
            )
        return header
    raise MappingError(path, "file is empty; expected the header enrolhq_value,sentral_value[,note]")


def _read_row(path: Path, header: list[str], cells: list[str], line: int) -> LookupEntry | None:
    if _is_comment_or_blank(cells):
        return None
    if len(cells) > len(header):
        raise MappingError(path, f"{len(cells)} cells where the header has {len(header)}", line=line)
    cells = [cell.strip() for cell in cells] + [""] * (len(header) - len(cells))
    for column, value in zip(LOOKUP_COLUMNS, cells, strict=False):
        if not value:
            other = cells[1] if column == "enrolhq_value" else cells[0]
            raise MappingError(path, f"{column} is blank (row {other!r})", line=line, key=column)
    return LookupEntry(
        enrolhq_value=cells[0], sentral_value=cells[1], note=cells[2] if len(cells) > 2 else "", line=line
    )


def _is_comment_or_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#")


# --- school.yml ---


def _id_text(value: object) -> object:
    # Sentral ids are integers serialised as strings; YAML readers may write them either way.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


SentralId = Annotated[str, BeforeValidator(_id_text), Field(min_length=1)]
StatusList = Annotated[list[int], Field(min_length=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Connections(_Section):
    """Airflow connection ids of the school; empty means ``enrolhq_<school>`` / ``sentral_<school>``."""

    enrolhq: str | None = None
    sentral: str | None = None


class Defaults(_Section):
    """Sentral values used when an application does not say (ids as Sentral shows them)."""

    campus_id: SentralId | None = None
    academic_period_id: SentralId
    start_date: date | None = None
    note_type_id: SentralId | None = None


class Documents(_Section):
    max_size_mb: float = Field(10, gt=0)


class SyncSettings(_Section):
    """``synced_by_default``: whether a run with no applications named sends every eligible one."""

    synced_by_default: bool = True


class RosterSettings(_Section):
    source: Literal["api", "inbox"] = "api"
    inbox: str | None = None
    max_external_id_writes: int = Field(50, ge=0)
    synced_statuses: StatusList = [4, 5]
    # Student codes are often fixed-width with leading zeros that spreadsheets strip from a CSV.
    id_width: int | None = Field(None, ge=1)


class ChangeSettings(_Section):
    locked_statuses: list[int] = [5]
    parent_roles: Annotated[list[str], Field(min_length=1)] = ["parent"]
    email_to: list[str] = []
    smtp_conn_id: str = "smtp_default"
    only_updated_applications: bool = False


class SentralCodes(_Section):
    """Codes the tenant accepts where Sentral's API publishes no lookup: check them against the tenant."""

    genders: Annotated[list[str], Field(min_length=1)] = ["M", "F", "X", "U"]
    relationships: Annotated[list[str], Field(min_length=1)]


class SchoolSettings(_Section):
    """The contents of ``school.yml``."""

    name: str = Field(min_length=1)
    timezone: str
    connections: Connections = Connections()
    eligible_statuses: StatusList = [4]
    require_offer_accepted: bool = True
    offer_accepted_field: str = "progress.enrolment_offer.accepted_at"
    student_id_source: Literal["id", "studentCode"] = "id"
    defaults: Defaults
    documents: Documents = Documents()
    sync: SyncSettings = SyncSettings()
    roster: RosterSettings = RosterSettings()
    changes: ChangeSettings = ChangeSettings()
    sentral_codes: SentralCodes

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA timezone name such as Australia/Sydney") from None
        return value


@dataclass(frozen=True)
class SchoolConfig:
    """Everything a DAG needs to know about one school, validated.

    :param school: the school key: its folder name under the mappings root.
    :param directory: the school's mappings folder.
    :param settings: ``school.yml``.
    :param lookups: table name (``year_levels``, ...) → table.
    :param fields: the draft field map.
    """

    school: str
    directory: Path
    settings: SchoolSettings
    lookups: Mapping[str, LookupTable]
    fields: FieldMap

    @property
    def name(self) -> str:
        """The school's display name."""
        return self.settings.name

    @property
    def tz(self) -> ZoneInfo:
        """The school's timezone."""
        return ZoneInfo(self.settings.timezone)

    @property
    def enrolhq_conn_id(self) -> str:
        return self.settings.connections.enrolhq or f"enrolhq_{self.school}"

    @property
    def sentral_conn_id(self) -> str:
        return self.settings.connections.sentral or f"sentral_{self.school}"

    @property
    def defaults(self) -> dict[str, Any]:
        """The ``defaults`` of school.yml as a plain mapping, as the field map reads them."""
        return self.settings.defaults.model_dump()

    def lookup(self, name: str) -> LookupTable | None:
        """A lookup table by name, or None for an optional table the school does not have."""
        return self.lookups.get(name)


def mappings_root(root: str | Path | None = None) -> Path:
    """The folder holding one sub-folder per school, by the order in the module docstring."""
    if root is not None:
        return Path(root)
    configured = os.environ.get(MAPPINGS_DIR_ENV)
    if configured:
        return Path(configured)
    for candidate in _conventional_roots():
        if candidate.is_dir():
            return candidate
    raise MappingError(
        "include/mappings",
        f"no mappings folder found; set {MAPPINGS_DIR_ENV} to the folder holding one folder per school",
    )


def _conventional_roots() -> list[Path]:
    roots = []
    dags_folder = _dags_folder()
    if dags_folder:
        roots.append(Path(dags_folder).resolve().parent / "include" / "mappings")
    # plugins/sentral/mappings.py → <repository>/include/mappings
    roots.append(Path(__file__).resolve().parents[2] / "include" / "mappings")
    return roots


def _dags_folder() -> str | None:
    folder = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
    if folder:
        return folder
    try:
        from airflow.configuration import conf
    except ImportError:  # outside Airflow: benchmarks, the sandbox
        return None
    return conf.get("core", "dags_folder", fallback=None)


def load_school(name: str, root: str | Path | None = None) -> SchoolConfig:
    """Load and validate one school's configuration, lookup tables and field map.

    :param name: the school key, i.e. its folder name (lower case letters, digits, ``_``, ``-``).
    :param root: the mappings folder; see :func:`mappings_root` for the default.
    :raises MappingError: naming the file, the line or key, and the value at fault.
    """
    base = mappings_root(root)
    if not _SCHOOL_NAME.match(name or ""):
        raise MappingError(base, f"school {name!r} is not a folder name (lower case letters, digits, _ or -)")
    directory = base / name
    if not directory.is_dir():
        raise MappingError(directory, f"no mappings folder for school {name!r}")

    settings = _load_settings(directory / SCHOOL_FILE)
    lookups = _load_lookups(directory)
    fields = FieldMap.load(directory / FIELDS_FILE)
    _check_field_map_references(fields, lookups)
    return SchoolConfig(school=name, directory=directory, settings=settings, lookups=lookups, fields=fields)


def _load_lookups(directory: Path) -> dict[str, LookupTable]:
    lookups = {name: load_lookup(directory / f"{name}.csv", name) for name in LOOKUP_TABLES}
    for name in OPTIONAL_LOOKUP_TABLES:
        path = directory / f"{name}.csv"
        if path.exists():
            lookups[name] = load_lookup(path, name)
    return lookups


def _load_settings(path: Path) -> SchoolSettings:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(path, "file not found") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise MappingError(path, "not valid YAML", line=mark.line + 1 if mark else None) from None
    if not isinstance(raw, dict):
        raise MappingError(path, "expected a mapping of settings (name, timezone, ...)")
    try:
        return SchoolSettings.model_validate(raw)
    except ValidationError as exc:
        raise _settings_error(path, text, exc) from None


def _settings_error(path: Path, text: str, exc: ValidationError) -> MappingError:
    # The first problem is reported; fixing files one error at a time keeps messages short and exact.
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        message = "unknown key (a typo? see include/mappings/demo/school.yml for every key)"
    elif error["type"] == "missing":
        message = "is required"
    else:
        message = f"{error['msg']}, got {error['input']!r}"
    return MappingError(path, message, line=_yaml_line(text, loc), key=key)


def _yaml_line(text: str, loc: list[str]) -> int | None:
    """The line where the key at ``loc`` (or its nearest existing parent) is written."""
    node = yaml.compose(text)
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((pair for pair in node.value if str(pair[0].value) == part), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _check_field_map_references(fields: FieldMap, lookups: Mapping[str, LookupTable]) -> None:
    for section, rule in fields.lookup_rules():
        if rule.lookup not in lookups:
            raise MappingError(
                fields.path,
                f"lookup {rule.lookup!r} has no table: expected {rule.lookup}.csv beside it",
                key=f"{section}.{rule.target}",
            )
    known_defaults = set(Defaults.model_fields)
    for section, rules in fields.sections.items():
        for rule in rules:
            if rule.default and rule.default not in known_defaults:
                raise MappingError(
                    fields.path,
                    f"default {rule.default!r} is not a key of defaults in {SCHOOL_FILE} "
                    f"({', '.join(sorted(known_defaults))})",
                    key=f"{section}.{rule.target}",
                )
