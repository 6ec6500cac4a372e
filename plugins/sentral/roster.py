"""The Sentral roster as the pipelines see it: roster rows, the problems found reading them, and the
header aliases a school's export may use.

:mod:`sentral.roster_csv` reads a school's CSV export into these; :func:`rows_from_records` takes
records the Sentral API gave. Either way every problem is collected, naming the row and the column,
so that one correction round fixes the whole roster; a roster with any problem is reported and
nothing is written from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

# Which of Sentral's two identifiers a school writes to EnrolHQ as the external ID, and the roster
# field that holds it.
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


def header_key(header: str) -> str:
    """A header reduced to letters and digits, lower case: ``"Date of Birth"`` -> ``"dateofbirth"``."""
    return re.sub(r"[^0-9a-z]", "", header.casefold())


# Header key -> canonical field, for recognising a file's headers.
ALIAS_INDEX = {header_key(alias): name for name, aliases in COLUMN_ALIASES.items() for alias in aliases}


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


def parse_dob(raw: str, today: date, problem: Callable[[str], None]) -> date | None:
    """A date of birth written as DD/MM/YYYY, D/M/YY, ISO or D-Mon-YYYY, or None after calling
    ``problem`` with what is wrong (empty, unknown form, impossible, in the future).

    :param today: the day a birth may not be after, and the pivot for two-digit years.
    """
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
            dob = parse_dob(text["dob"], today, lambda message: problem("dob", message))
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
