"""Reading a school's Sentral roster export: the CSV as schools really produce it, into roster rows.

No public layout exists for Sentral's student export, so headers are recognised through
:data:`COLUMN_ALIASES` (case, spaces and punctuation ignored). Files arrive as UTF-8 with or without
a byte-order mark, UTF-16 (a spreadsheet's "Unicode text"), or Windows-1252; separated by commas,
semicolons or tabs; with dates as DD/MM/YYYY, D/M/YY, ISO or D-Mon-YYYY; and with IDs that a
spreadsheet turned into numbers (``1234.0``) or stripped of their leading zeros.

Reading never stops at the first bad row: every problem is collected, naming the spreadsheet row
(the header is row 1) and the column as the file spells it, so that one correction round fixes the
whole file. A file with any problem is reported and nothing is written from it.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

log = logging.getLogger(__name__)

# Which of Sentral's two identifiers a school writes to EnrolHQ as the external ID.
ID_SOURCE_FIELDS = {"id": "student_id", "student_code": "student_code"}

# Canonical field -> header spellings seen in school exports. Add a school's own spelling here.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "student_id": (
        "Student ID",
        "ID",
        "Sentral ID",
        "Sentral Student ID",
        "Internal ID",
        "Student Internal ID",
        "System Student ID",
    ),
    "student_code": ("Student Code", "Code", "Student Number", "Student No", "Sentral Student Code"),
    "first_name": ("First Name", "Given Name", "Given Names", "Firstname", "Forename", "First"),
    "legal_first_name": ("Legal First Name", "Legal Given Name", "Legal Forename"),
    "preferred_name": ("Preferred Name", "Known As", "Preferred", "Pref Name", "Preferred First Name"),
    "middle_names": ("Middle Name", "Middle Names", "Second Name", "Other Names"),
    "last_name": ("Surname", "Last Name", "Family Name", "Lastname", "Family"),
    "legal_last_name": ("Legal Surname", "Legal Last Name", "Legal Family Name"),
    "dob": ("Date of Birth", "DOB", "Birth Date", "Birthdate", "Born"),
    "gender": ("Gender", "Sex"),
    "year_level": ("Year Level", "Year", "School Year", "Scholastic Year", "Grade"),
}

# A required field may be satisfied by its legal counterpart.
REQUIRED_FIELDS: tuple[tuple[str, ...], ...] = (
    ("first_name", "legal_first_name"),
    ("last_name", "legal_last_name"),
    ("dob",),
)

_DELIMITERS = (",", ";", "\t")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+)?")
_DMY_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?: +\d{1,2}:\d{2}(?::\d{2})?)?")
_NAMED_MONTH_DATE = re.compile(r"(\d{1,2})[ -]([A-Za-z]{3,9})[ -](\d{4}|\d{2})")
_NUMBER_ID = re.compile(r"(\d+)\.0*")
_SCIENTIFIC_ID = re.compile(r"\d+(?:\.\d+)?[eE]\+?\d+")
_EXCEL_TEXT = re.compile(r'="(.*)"')


def header_key(header: str) -> str:
    """A header reduced to letters and digits, lower case: ``"Date of Birth"`` -> ``"dateofbirth"``."""
    return re.sub(r"[^0-9a-z]", "", header.casefold())


_ALIAS_INDEX = {header_key(alias): name for name, aliases in COLUMN_ALIASES.items() for alias in aliases}


def id_key(value: str) -> str:
    """The form two Sentral IDs are compared in: all-digit IDs without leading zeros, others folded."""
    cleaned = value.strip()
    if cleaned.isdigit():
        return cleaned.lstrip("0") or "0"
    return cleaned.casefold()


@dataclass(frozen=True)
class RosterRow:
    """One student of the roster.

    :param row: where the student came from: the spreadsheet row (header is row 1) of a CSV, or the
        position in the Sentral API's list.
    :param sentral_id: the ID to write as the application's external ID (the school's chosen source).
    :param dob: date of birth.
    """

    row: int
    sentral_id: str
    first_name: str
    last_name: str
    dob: date
    preferred_name: str = ""
    middle_names: str = ""
    legal_first_name: str = ""
    legal_last_name: str = ""
    gender: str = ""
    year_level: str = ""

    @property
    def display_name(self) -> str:
        preferred = f" ({self.preferred_name})" if self.preferred_name else ""
        return f"{self.first_name}{preferred} {self.last_name}".strip()


@dataclass(frozen=True)
class RosterProblem:
    """Why a file or one of its rows cannot be used.

    :param row: the spreadsheet row, or ``None`` for a problem with the whole file.
    :param column: the column as the file spells it (or the canonical name of a missing one).
    """

    row: int | None
    column: str | None
    message: str

    @property
    def where(self) -> str:
        """``"row 7, column 'Date of Birth'"``, or ``"the file"`` for a problem with the whole file."""
        parts = []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts) or "the file"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class RosterFile:
    """What reading one roster produced: the rows, every problem found, and how the file was read."""

    source: str
    id_source: str
    rows: list[RosterRow] = field(default_factory=list)
    problems: list[RosterProblem] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe_columns(self) -> str:
        """One line an operator reads to see which headers were understood, and as what."""
        recognised = ", ".join(f"{header!r} as {name}" for header, name in self.columns.items())
        ignored = ", ".join(repr(header) for header in self.ignored_columns) or "none"
        return f"recognised {recognised or 'nothing'}; ignored {ignored}"


class RosterInvalidError(ValueError):
    """The roster failed validation; nothing may be written from it."""

    def __init__(self, roster: RosterFile) -> None:
        self.roster = roster
        # Only where the problems are: the cells themselves are personal data and belong in the report.
        shown = "; ".join(problem.where for problem in roster.problems[:10])
        more = len(roster.problems) - 10
        suffix = f" and {more} more" if more > 0 else ""
        super().__init__(
            f"roster {roster.source} failed validation, nothing was written; "
            f"problems at {shown}{suffix} (the run report says what is wrong with each)"
        )


def read_roster_csv(
    path: str | Path, *, id_source: str = "id", id_width: int | None = None, today: date | None = None
) -> RosterFile:
    """Read and validate a roster CSV.

    :param path: the file.
    :param id_source: ``"id"`` (Sentral's internal student id) or ``"student_code"``: which column is
        the Sentral ID written to EnrolHQ.
    :param id_width: when set, all-digit IDs shorter than this are given back their leading zeros.
    :param today: the day dates of birth may not be after (and the pivot for two-digit years).
    """
    return parse_roster_bytes(
        Path(path).read_bytes(), source=str(path), id_source=id_source, id_width=id_width, today=today
    )


def parse_roster_bytes(
    data: bytes,
    *,
    source: str = "roster",
    id_source: str = "id",
    id_width: int | None = None,
    today: date | None = None,
) -> RosterFile:
    """Validate a roster held in memory; see :func:`read_roster_csv` for the parameters."""
    if id_source not in ID_SOURCE_FIELDS:
        raise ValueError(f"student ID source must be one of {sorted(ID_SOURCE_FIELDS)}, not {id_source!r}")
    roster = RosterFile(source=source, id_source=id_source)
    text = _decode(data, roster)
    if text is None:
        return roster
    roster.delimiter = _sniff_delimiter(text)
    table = _read_table(text, roster)
    if table is None:
        return roster
    headers, records = table
    _recognise_columns(headers, roster)
    if roster.problems:
        return roster
    _read_rows(headers, records, roster, id_width=id_width, today=today or date.today())
    log.info(
        "roster %s read: %s rows, %s problems; %s",
        source,
        len(roster.rows),
        len(roster.problems),
        roster.describe_columns(),
    )
    return roster


def _decode(data: bytes, roster: RosterFile) -> str | None:
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    attempts = ("utf-16",) if utf16 else ("utf-8-sig", "cp1252")
    for encoding in attempts:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        roster.encoding = encoding
        return text
    roster.problems.append(
        RosterProblem(None, None, "the file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8")
    )
    return None


def _sniff_delimiter(text: str) -> str:
    header = text.lstrip("\r\n").splitlines()[0] if text.strip() else ""
    return max(_DELIMITERS, key=lambda delimiter: _count_outside_quotes(header, delimiter))


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _read_table(text: str, roster: RosterFile) -> tuple[list[str], list[tuple[int, list[str]]]] | None:
    import pandas as pd

    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=roster.delimiter,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_MINIMAL,
            engine="python" if roster.delimiter == "\t" else "c",
        )
    except pd.errors.EmptyDataError:
        roster.problems.append(RosterProblem(None, None, "the file is empty"))
        return None
    except pd.errors.ParserError as exc:
        roster.problems.append(RosterProblem(None, None, f"the file is not a well-formed CSV: {exc}"))
        return None

    headers = [str(header).strip() for header in frame.columns]
    records = []
    for position, values in enumerate(frame.itertuples(index=False, name=None)):
        cells = [str(value).strip() for value in values]
        if any(cells):
            records.append((position + 2, cells))
    return headers, records


def _recognise_columns(headers: list[str], roster: RosterFile) -> None:
    seen: dict[str, str] = {}
    for header in headers:
        name = _ALIAS_INDEX.get(header_key(header))
        if name is None:
            roster.ignored_columns.append(header)
        elif name in seen:
            roster.problems.append(
                RosterProblem(None, header, f"both {seen[name]!r} and {header!r} mean {name}; keep one")
            )
        else:
            seen[name] = header
            roster.columns[header] = name

    id_field = ID_SOURCE_FIELDS[roster.id_source]
    for choices in ((id_field,), *REQUIRED_FIELDS):
        if not any(choice in seen for choice in choices):
            accepted = ", ".join(repr(alias) for choice in choices for alias in COLUMN_ALIASES[choice])
            roster.problems.append(
                RosterProblem(
                    None,
                    choices[0],
                    f"required column missing (accepted headers: {accepted}; found: {', '.join(headers)})",
                )
            )


def _read_rows(
    headers: list[str],
    records: list[tuple[int, list[str]]],
    roster: RosterFile,
    *,
    id_width: int | None,
    today: date,
) -> None:
    header_of = {name: header for header, name in roster.columns.items()}
    id_field = ID_SOURCE_FIELDS[roster.id_source]
    first_row_of_id: dict[str, int] = {}

    for row_number, cells in records:
        values = dict(zip(headers, cells, strict=False))
        cell = {name: values.get(header, "") for name, header in header_of.items()}
        problems_before = len(roster.problems)

        def problem(name: str, message: str, row_number: int = row_number) -> None:
            roster.problems.append(RosterProblem(row_number, header_of.get(name, name), message))

        sentral_id = _clean_id(cell.get(id_field, ""), id_width, lambda message: problem(id_field, message))
        if sentral_id:
            earlier = first_row_of_id.setdefault(id_key(sentral_id), row_number)
            if earlier != row_number:
                problem(id_field, f"Sentral ID {sentral_id} is repeated (first on row {earlier})")
        first_name = cell.get("first_name") or cell.get("legal_first_name", "")
        last_name = cell.get("last_name") or cell.get("legal_last_name", "")
        if not first_name:
            problem("first_name" if "first_name" in header_of else "legal_first_name", "first name is empty")
        if not last_name:
            problem("last_name" if "last_name" in header_of else "legal_last_name", "surname is empty")
        dob = _parse_dob(cell.get("dob", ""), today, lambda message: problem("dob", message))

        if len(roster.problems) == problems_before and dob is not None:
            roster.rows.append(
                RosterRow(
                    row=row_number,
                    sentral_id=sentral_id,
                    first_name=first_name,
                    last_name=last_name,
                    dob=dob,
                    preferred_name=cell.get("preferred_name", ""),
                    middle_names=cell.get("middle_names", ""),
                    legal_first_name=cell.get("legal_first_name", ""),
                    legal_last_name=cell.get("legal_last_name", ""),
                    gender=cell.get("gender", ""),
                    year_level=cell.get("year_level", ""),
                )
            )


def _clean_id(raw: str, id_width: int | None, problem) -> str:
    value = raw.strip()
    excel_text = _EXCEL_TEXT.fullmatch(value)
    if excel_text:
        value = excel_text.group(1).strip()
    if not value:
        problem("Sentral ID is empty")
        return ""
    if _SCIENTIFIC_ID.fullmatch(value):
        problem(
            f"{value!r} is an ID a spreadsheet rounded into scientific notation; "
            "export the column as text and send the file again"
        )
        return ""
    number = _NUMBER_ID.fullmatch(value)
    if number:
        value = number.group(1)
    if id_width and value.isdigit():
        value = value.zfill(id_width)
    return value


def _parse_dob(raw: str, today: date, problem) -> date | None:
    if not raw:
        problem("date of birth is empty")
        return None
    parts = _date_parts(raw, today)
    if parts is None:
        problem(f"{raw!r} is not a date in a form this reader knows (DD/MM/YYYY, D/M/YY or YYYY-MM-DD)")
        return None
    try:
        parsed = date(*parts)
    except ValueError:
        problem(f"{raw!r} is an impossible date")
        return None
    if parsed > today:
        problem(f"{raw!r} is in the future")
        return None
    return parsed


def _date_parts(raw: str, today: date) -> tuple[int, int, int] | None:
    iso = _ISO_DATE.fullmatch(raw)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
        return year, month, day
    dmy = _DMY_DATE.fullmatch(raw)
    if dmy:
        day, month, year = (int(part) for part in dmy.groups())
        return _full_year(year, dmy.group(3), today), month, day
    named = _NAMED_MONTH_DATE.fullmatch(raw)
    if named and named.group(2).casefold() in _MONTHS:
        year = _full_year(int(named.group(3)), named.group(3), today)
        return year, _MONTHS[named.group(2).casefold()], int(named.group(1))
    return None


def _full_year(year: int, written: str, today: date) -> int:
    # A two-digit year is a student's: this century unless that would put the birth in the future.
    if len(written) == 4:
        return year
    return 2000 + year if 2000 + year <= today.year else 1900 + year


def rows_from_records(
    records: Iterable[Mapping[str, object]], *, source: str = "Sentral API", id_source: str = "id"
) -> RosterFile:
    """A roster from records already in canonical form (the Sentral API path), validated like a file.

    :param records: mappings with the canonical field names of :data:`COLUMN_ALIASES`; ``dob`` may be
        a :class:`date` or an ISO string.
    """
    roster = RosterFile(source=source, id_source=id_source, encoding="n/a", delimiter="n/a")
    id_field = ID_SOURCE_FIELDS[id_source]
    first_row_of_id: dict[str, int] = {}
    today = date.today()
    for position, record in enumerate(records, start=1):
        text = {name: str(record.get(name) or "").strip() for name in COLUMN_ALIASES}
        dob = record.get("dob")
        problems_before = len(roster.problems)

        def problem(name: str, message: str, position: int = position) -> None:
            roster.problems.append(RosterProblem(position, name, message))

        sentral_id = text[id_field]
        if not sentral_id:
            problem(id_field, "Sentral ID is empty")
        else:
            earlier = first_row_of_id.setdefault(id_key(sentral_id), position)
            if earlier != position:
                problem(id_field, f"Sentral ID {sentral_id} is repeated (first at {earlier})")
        if not isinstance(dob, date):
            dob = _parse_dob(text["dob"], today, lambda message: problem("dob", message))
        if not text["first_name"] or not text["last_name"]:
            problem("first_name", "first name or surname is empty")
        if len(roster.problems) == problems_before and dob is not None:
            roster.rows.append(
                RosterRow(
                    row=position,
                    sentral_id=sentral_id,
                    first_name=text["first_name"],
                    last_name=text["last_name"],
                    dob=dob,
                    preferred_name=text["preferred_name"],
                    middle_names=text["middle_names"],
                    legal_first_name=text["legal_first_name"],
                    legal_last_name=text["legal_last_name"],
                    gender=text["gender"],
                    year_level=text["year_level"],
                )
            )
    return roster
