"""Run reports: where they are written, escaping, formula-safe CSV, owner-only permissions."""

from __future__ import annotations

import csv
import io
import stat
from datetime import UTC, datetime

import pytest

from sentral.reports import safe_stem, write_report

COLUMNS = [("family", "Family"), ("student", "Student"), ("status", "Status"), ("detail", "Detail")]


def _write(tmp_path, rows, **kwargs):
    options = {
        "kind": "sync",
        "school": "demo",
        "title": "Application sync",
        "columns": COLUMNS,
        "rows": rows,
        "summary": {"sent": len(rows)},
        "out_dir": tmp_path / "out",
        "stamp": "manual__2026-12-03T10:00:00+00:00",
    }
    options.update(kwargs)
    return write_report(**options)


def _csv_rows(path):
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_names_with_markup_are_escaped_in_html(tmp_path):
    files = _write(tmp_path, [{"student": "<b>Ava</b> <script>x()</script>", "status": "sent"}])

    page = files.html.read_text(encoding="utf-8")

    assert "<b>Ava</b>" not in page
    assert "<script>x()</script>" not in page
    assert "&lt;b&gt;Ava&lt;/b&gt;" in page


def test_title_and_notes_are_escaped_in_html(tmp_path):
    files = _write(tmp_path, [], title="Sync <i>now</i>", notes=['say "<hi>"'])

    page = files.html.read_text(encoding="utf-8")

    assert "<i>now</i>" not in page
    assert "&lt;hi&gt;" in page


@pytest.mark.parametrize("dangerous", ["=HYPERLINK(1)", "+61 400", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_a_spreadsheet_would_execute_are_neutralised(tmp_path, dangerous):
    files = _write(tmp_path, [{"student": dangerous}])

    cell = _csv_rows(files.csv)[1][1]

    assert cell == "'" + dangerous


def test_csv_numbers_are_left_as_numbers(tmp_path):
    files = _write(tmp_path, [{"student": "Ava", "detail": -3}])

    assert _csv_rows(files.csv)[1][3] == "-3"


def test_csv_starts_with_a_byte_order_mark_for_excel(tmp_path):
    files = _write(tmp_path, [{"student": "Zoë"}])

    raw = files.csv.read_bytes()

    assert raw.startswith(b"\xef\xbb\xbf")
    assert "Zoë" in raw.decode("utf-8-sig")


def test_csv_has_headings_then_one_line_per_row_in_column_order(tmp_path):
    rows = [
        {"family": "Nguyen", "student": "Ava", "status": "sent", "detail": None},
        {"family": "Nguyen", "student": "Leo", "status": True, "detail": ["a", "b"]},
    ]
    files = _write(tmp_path, rows)

    assert _csv_rows(files.csv) == [
        ["Family", "Student", "Status", "Detail"],
        ["Nguyen", "Ava", "sent", ""],
        ["Nguyen", "Leo", "yes", "a; b"],
    ]


def test_files_are_owner_only_and_directory_is_owner_only(tmp_path):
    files = _write(tmp_path, [{"student": "Ava"}])

    assert _mode(files.html) == 0o600
    assert _mode(files.csv) == 0o600
    assert _mode(files.html.parent) == 0o700


def test_rewriting_a_report_keeps_it_owner_only(tmp_path):
    first = _write(tmp_path, [{"student": "Ava"}])
    first.csv.chmod(0o644)

    second = _write(tmp_path, [{"student": "Leo"}])

    assert second.csv == first.csv
    assert _mode(second.csv) == 0o600
    assert "Leo" in second.csv.read_text(encoding="utf-8-sig")


def test_default_location_is_reports_dir_then_school_then_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTRAL_REPORTS_DIR", str(tmp_path / "reports"))

    files = _write(tmp_path, [], out_dir=None, school="st_marys", kind="preflight")

    assert files.html.parent == tmp_path / "reports" / "st_marys" / "preflight"
    assert _mode(tmp_path / "reports" / "st_marys") == 0o700


def test_without_reports_dir_reports_go_under_airflow_home(tmp_path, monkeypatch):
    monkeypatch.delenv("SENTRAL_REPORTS_DIR", raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))

    files = _write(tmp_path, [], out_dir=None)

    assert files.csv.parent == tmp_path / "home" / "reports" / "demo" / "sync"


def test_school_name_that_would_leave_the_reports_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTRAL_REPORTS_DIR", str(tmp_path / "reports"))

    with pytest.raises(ValueError, match="school"):
        _write(tmp_path, [], out_dir=None, school="../elsewhere")


def test_run_id_stamp_becomes_a_safe_file_name(tmp_path):
    files = _write(tmp_path, [], stamp="scheduled__2026-12-03T00:00:00+00:00/../x")

    assert files.html.name == "scheduled__2026-12-03T00_00_00_00_00_.._x.html"
    assert files.html.parent == tmp_path / "out"


def test_safe_stem_never_returns_an_empty_name():
    assert safe_stem("///") == "report"


def test_groups_start_a_new_section_per_family_and_student(tmp_path):
    rows = [
        {"family": "Nguyen", "student": "Ava", "status": "email changed"},
        {"family": "Nguyen", "student": "Ava", "status": "mobile changed"},
        {"family": "Nguyen", "student": "Leo", "status": "email changed"},
        {"family": "Smith", "student": "Mia", "status": "address changed"},
    ]
    files = _write(tmp_path, rows, group_by=("family", "student"))

    page = files.html.read_text(encoding="utf-8")

    assert page.count("<h2>Family: Nguyen</h2>") == 1
    assert page.count("<h2>Family: Smith</h2>") == 1
    assert page.count("<h3>") == 3
    assert page.count("<table>") == 3


def test_summary_and_generated_time_are_shown(tmp_path):
    when = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    files = _write(tmp_path, [], summary={"gaps": 2, "checked": "year levels"}, generated_at=when)

    page = files.html.read_text(encoding="utf-8")

    assert "<dt>gaps</dt><dd>2</dd>" in page
    assert "2026-12-03T09:30:00+00:00" in page
    assert "Nothing to report." in page


def test_no_temporary_files_are_left_beside_the_report(tmp_path):
    files = _write(tmp_path, [{"student": "Ava"}])

    assert sorted(p.name for p in files.html.parent.iterdir()) == sorted([files.html.name, files.csv.name])
