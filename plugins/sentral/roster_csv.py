"""Reading a school's Sentral roster export: the CSV as schools really produce it, into roster rows.

No public layout exists for Sentral's student export, so headers are recognised through
:data:`sentral.roster.COLUMN_ALIASES` (case, spaces and punctuation ignored). Files arrive as UTF-8
with or without a byte-order mark, UTF-16 (a spreadsheet's "Unicode text"), or Windows-1252;
separated by commas, semicolons or tabs; with dates as DD/MM/YYYY, D/M/YY, ISO or D-Mon-YYYY; and
with IDs that a spreadsheet turned into numbers (``1234.0``) or stripped of their leading zeros.

Rows are numbered as a spreadsheet shows them (the header is row 1) and columns named as the file
spells them.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import date
from pathlib import Path

from sentral.roster import (
    ALIAS_INDEX,
    COLUMN_ALIASES,
    ID_SOURCE_FIELDS,
    REQUIRED_FIELDS,
    RosterFile,
    RosterProblem,
    RosterRow,
    header_key,
    id_key,
    parse_dob,
)

log = logging.getLogger(__name__)

_DELIMITERS = (",", ";", "\t")
_NUMBER_ID = re.compile(r"(\d+)\.0*")
_SCIENTIFIC_ID = re.compile(r"\d+(?:\.\d+)?[eE]\+?\d+")
_EXCEL_TEXT = re.compile(r'="(.*)"')


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
        name = ALIAS_INDEX.get(header_key(header))
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
        dob = parse_dob(cell.get("dob", ""), today, lambda message: problem("dob", message))

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
