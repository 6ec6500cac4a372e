"""Reading roster CSVs as schools export them: encodings, delimiters, dates, aliases, IDs, validation."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from sentral.roster import RosterInvalidError, rows_from_records
from sentral.roster_csv import parse_roster_bytes

TODAY = date(2026, 12, 1)
HEADERS = ("Student ID", "Given Name", "Preferred Name", "Surname", "Date of Birth", "Roll Class")


def roster_bytes(
    rows: list[tuple[str, ...]],
    *,
    headers: tuple[str, ...] = HEADERS,
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def read(data: bytes, **options):
    return parse_roster_bytes(data, source="test.csv", today=TODAY, **options)


ZOE = ("1001", "Zoë", "", "O'Brien-Núñez", "03/04/2015", "3A")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_each_encoding_reads_accented_names_and_the_first_header(encoding):
    roster = read(roster_bytes([ZOE], encoding=encoding, delimiter="\t" if encoding == "utf-16" else ","))

    assert roster.ok, roster.problems
    assert roster.rows[0].first_name == "Zoë"
    assert roster.rows[0].last_name == "O'Brien-Núñez"
    assert "Student ID" in roster.columns


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_each_delimiter_is_recognised_from_the_header(delimiter):
    roster = read(roster_bytes([ZOE, ("1002", "Sam", "", "Lee", "1/2/16", "")], delimiter=delimiter))

    assert roster.delimiter == delimiter
    assert [row.sentral_id for row in roster.rows] == ["1001", "1002"]


def test_a_quoted_comma_inside_a_semicolon_file_does_not_decide_the_delimiter():
    data = b'Student ID;Given Name;Surname;DOB\n1;"Lee, Jr";Smith;2015-01-01\n'

    roster = read(data)

    assert roster.delimiter == ";"
    assert roster.rows[0].first_name == "Lee, Jr"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("03/04/2015", date(2015, 4, 3)),
        ("3/4/15", date(2015, 4, 3)),
        ("2015-04-03", date(2015, 4, 3)),
        ("2015-04-03 00:00:00", date(2015, 4, 3)),
        ("03.04.2015", date(2015, 4, 3)),
        ("3-Apr-2015", date(2015, 4, 3)),
    ],
)
def test_each_date_form_reads_as_day_month_year(written, expected):
    roster = read(roster_bytes([("1", "Ann", "", "Ng", written, "")]))

    assert roster.rows[0].dob == expected


def test_a_two_digit_year_that_would_be_in_the_future_is_last_century():
    roster = read(roster_bytes([("1", "Ann", "", "Ng", "1/1/99", "")]))

    assert roster.rows[0].dob == date(1999, 1, 1)


@pytest.mark.parametrize(
    "headers",
    [
        ("ID", "First Name", "Known As", "Last Name", "DOB", "House"),
        ("student_id", "FIRSTNAME", "preferred", "FAMILY NAME", "birth date", "x"),
        ("Sentral Student ID", "given  names", "Pref Name", "lastname", "Date Of Birth", "y"),
    ],
)
def test_header_aliases_are_recognised_whatever_the_case_and_spacing(headers):
    roster = read(roster_bytes([("7", "Mia", "Mimi", "Ray", "2016-05-05", "z")], headers=headers))

    assert roster.ok, roster.problems
    assert sorted(roster.columns.values()) == sorted(
        ["student_id", "first_name", "preferred_name", "last_name", "dob"]
    )
    assert roster.rows[0].preferred_name == "Mimi"


def test_the_report_line_says_which_columns_were_recognised_and_which_ignored():
    roster = read(roster_bytes([ZOE]))

    described = roster.describe_columns()

    assert "'Date of Birth' as dob" in described
    assert "ignored 'Roll Class'" in described


@pytest.mark.parametrize(("written", "expected"), [("1234.0", "1234"), ('="00123"', "00123"), (" 42 ", "42")])
def test_ids_a_spreadsheet_turned_into_numbers_are_read_back_as_text(written, expected):
    roster = read(roster_bytes([(written, "Ann", "", "Ng", "1/1/15", "")]))

    assert roster.rows[0].sentral_id == expected


def test_a_configured_id_width_restores_leading_zeros_a_spreadsheet_stripped():
    roster = read(roster_bytes([("123", "Ann", "", "Ng", "1/1/15", "")]), id_width=6)

    assert roster.rows[0].sentral_id == "000123"


def test_an_id_rounded_into_scientific_notation_is_rejected_naming_row_and_column():
    roster = read(roster_bytes([ZOE, ("1.23457E+11", "Ann", "", "Ng", "1/1/15", "")]))

    assert not roster.ok
    assert roster.problems[0].row == 3
    assert roster.problems[0].column == "Student ID"


def test_a_missing_required_column_names_the_column_and_reads_no_rows():
    headers = ("Student ID", "Given Name", "Surname", "Roll Class")

    roster = read(roster_bytes([("1", "Ann", "Ng", "3A")], headers=headers))

    assert [problem.column for problem in roster.problems] == ["dob"]
    assert "Date of Birth" in roster.problems[0].message
    assert roster.rows == []


def test_an_impossible_date_is_rejected_naming_the_spreadsheet_row_and_column():
    roster = read(roster_bytes([ZOE, ("1002", "Sam", "", "Lee", "31/02/2016", "")]))

    assert [(p.row, p.column) for p in roster.problems] == [(3, "Date of Birth")]
    assert "impossible" in roster.problems[0].message


def test_a_date_of_birth_in_the_future_is_rejected():
    roster = read(roster_bytes([("1", "Ann", "", "Ng", "01/01/2030", "")]))

    assert "future" in roster.problems[0].message


def test_a_repeated_sentral_id_is_rejected_naming_both_rows():
    roster = read(
        roster_bytes([ZOE, ("1002", "Sam", "", "Lee", "1/2/16", ""), ("01001", "Al", "", "Bo", "1/1/15", "")])
    )

    assert [(p.row, p.column) for p in roster.problems] == [(4, "Student ID")]
    assert "first on row 2" in roster.problems[0].message


def test_blank_lines_are_skipped_and_row_numbers_stay_those_a_spreadsheet_shows():
    data = roster_bytes([ZOE]) + b"\r\n" + b"1002,Sam,,Lee,31/02/2016,\r\n"

    roster = read(data)

    assert roster.problems[0].row == 4


def test_a_school_using_the_student_code_needs_a_student_code_column():
    roster = read(roster_bytes([ZOE]), id_source="student_code")

    assert [problem.column for problem in roster.problems] == ["student_code"]


def test_the_student_code_column_is_the_id_when_the_school_says_so():
    headers = ("Student ID", "Student Code", "First Name", "Surname", "DOB")

    roster = read(
        roster_bytes([("55", "SMI0012", "Ann", "Smith", "2015-01-01")], headers=headers),
        id_source="student_code",
    )

    assert roster.rows[0].sentral_id == "SMI0012"


def test_two_headers_meaning_the_same_field_are_a_problem():
    headers = ("Student ID", "First Name", "Surname", "Last Name", "DOB")

    roster = read(roster_bytes([("1", "Ann", "Ng", "Ng", "2015-01-01")], headers=headers))

    assert roster.problems[0].column == "Last Name"


def test_the_invalid_roster_error_names_rows_and_columns_and_says_nothing_was_written():
    roster = read(roster_bytes([ZOE, ("1002", "Sam", "", "Lee", "31/02/2016", "")]))

    message = str(RosterInvalidError(roster))

    assert "nothing was written" in message
    assert "row 3, column 'Date of Birth'" in message


def test_the_invalid_roster_error_leaves_the_cells_themselves_out_of_the_log():
    roster = read(roster_bytes([ZOE, ("1002", "Sam", "", "Lee", "31/02/2016", "")]))

    assert "31/02/2016" not in str(RosterInvalidError(roster))


def test_records_from_the_api_with_a_repeated_id_are_a_problem():
    records = [
        {"student_id": "9", "first_name": "Ann", "last_name": "Ng", "dob": date(2015, 1, 1)},
        {"student_id": "9", "first_name": "Bo", "last_name": "Ng", "dob": "2015-02-01"},
    ]

    roster = rows_from_records(records)

    assert [(p.row, p.column) for p in roster.problems] == [(2, "student_id")]


@pytest.fixture(scope="module")
def generated_roster() -> list[dict]:
    from sandbox.generator import generate_school, roster_rows

    return roster_rows(generate_school(size=16, seed=2, in_sentral=12))


@pytest.mark.parametrize(
    ("encoding", "delimiter", "date_form"),
    [
        ("utf-8-sig", ",", "%d/%m/%Y"),
        ("utf-8", ";", "%Y-%m-%d"),
        ("cp1252", ";", "%d/%m/%y"),
        ("utf-16", "\t", "%d/%m/%Y"),
    ],
)
def test_a_generated_roster_reads_back_whole(generated_roster, encoding, delimiter, date_form):
    rows = [
        (
            r["id"],
            r["first_name"],
            r["preferred_name"],
            r["last_name"],
            date.fromisoformat(r["dob"]).strftime(date_form),
            "",
        )
        for r in generated_roster
    ]

    roster = read(roster_bytes(rows, encoding=encoding, delimiter=delimiter))

    assert roster.ok, roster.problems
    assert [(row.sentral_id, row.first_name, row.last_name, row.dob.isoformat()) for row in roster.rows] == [
        (r["id"], r["first_name"], r["last_name"], r["dob"]) for r in generated_roster
    ]
