"""The change report: rows by family then student, both steps of a same-day overwrite, flags, files."""

from __future__ import annotations

import csv
import json
import socketserver
import threading
from collections import Counter
from datetime import date, timedelta
from email import message_from_bytes

import pytest
import sqlalchemy as sa

from sentral.change_parser import parse_change
from sentral.change_report import email_report, record_run, report_rows, report_runs, write_change_report
from sentral.changes import Change, ChangeSettings, Collection, Student, Subject, local_day
from sentral.reports import ReportFiles

SYDNEY = "Australia/Sydney"
DAY = local_day(date(2026, 12, 2), SYDNEY)


def student(name: str, sentral_id: str, family: str, *, status: int = 4) -> Student:
    return Student(f"app-{sentral_id}", name, sentral_id, status, f"fam-{family}", family)


def student_subject(who: Student) -> Subject:
    return Subject("student", who.application_id, "Student", (who,))


def change(subject: Subject, hours: float, sentence: str, *, by: str = "Jo Lee", entry: str = "1") -> Change:
    return Change(subject, entry, DAY.start + timedelta(hours=hours), by, parse_change(sentence), 0)


def rows_of(*changes: Change, settings: ChangeSettings | None = None) -> list[dict[str, str]]:
    return report_rows(Collection(list(changes), Counter()), settings or ChangeSettings(), DAY)


def test_rows_are_ordered_by_family_then_student_then_time():
    ava = student_subject(student("Ava Lee", "S1", "Lee"))
    max_ = student_subject(student("Max Abe", "S2", "Abe"))
    ben = student_subject(student("Ben Lee", "S3", "Lee"))

    rows = rows_of(
        change(ava, 10, 'Set Suburb to "B"'),
        change(max_, 9, 'Set Suburb to "C"'),
        change(ava, 8, 'Set Suburb to "A"'),
        change(ben, 7, 'Set Suburb to "D"'),
    )

    assert [(r["family"], r["sentral_id"], r["new"]) for r in rows] == [
        ("Abe", "S2", "C"),
        ("Lee", "S1", "A"),
        ("Lee", "S1", "B"),
        ("Lee", "S3", "D"),
    ]


def test_times_are_shown_in_the_school_timezone():
    ava = student_subject(student("Ava Lee", "S1", "Lee"))

    [row] = rows_of(change(ava, 9.5, 'Set Suburb to "A"'))

    assert row["changed_at"] == "2026-12-02 09:30"


def test_field_changed_twice_the_same_day_shows_both_steps_and_marks_the_first():
    ava = student_subject(student("Ava Lee", "S1", "Lee"))

    rows = rows_of(
        change(ava, 9, 'Changed Suburb from "Bondi" to "Newtown"', entry="1"),
        change(ava, 14, 'Changed Suburb from "Newtown" to "Penrith"', entry="2"),
    )

    assert [(r["old"], r["new"], r["later"]) for r in rows] == [
        ("Bondi", "Newtown", 'changed again at 14:00, to "Penrith"'),
        ("Newtown", "Penrith", ""),
    ]


def test_value_cleared_later_the_same_day_says_so():
    ava = student_subject(student("Ava Lee", "S1", "Lee"))

    rows = rows_of(
        change(ava, 9, 'Set Allergies to "Eggs"', entry="1"),
        change(ava, 10, 'Cleared Allergies (was "Eggs")', entry="2"),
    )

    assert [r["later"] for r in rows] == ["cleared at 10:00", ""]


def test_adding_one_person_and_removing_another_is_not_an_overwrite():
    ava = student_subject(student("Ava Lee", "S1", "Lee"))

    rows = rows_of(
        change(ava, 9, 'Added guardian "Nan Lee"', entry="1"),
        change(ava, 10, 'Removed guardian "Pop Lee"', entry="2"),
    )

    assert [r["later"] for r in rows] == ["", ""]


def test_adding_then_removing_the_same_person_shows_both_steps():
    ava = student_subject(student("Ava Lee", "S1", "Lee"))

    rows = rows_of(
        change(ava, 9, 'Added emergency contact "Nan Lee"', entry="1"),
        change(ava, 10, 'Removed emergency contact "Nan Lee"', entry="2"),
    )

    assert [(r["old"], r["new"], r["later"]) for r in rows] == [
        ("", "Nan Lee", "removed again at 10:00"),
        ("Nan Lee", "", ""),
    ]


def test_student_record_rows_come_before_parent_rows_of_the_same_student():
    ava = student("Ava Lee", "S1", "Lee")
    mum = Subject("parent", "p1", "Parent 1 Jo Lee", (ava,))

    rows = rows_of(
        change(mum, 8, 'Set Email to "a@x.org"'), change(student_subject(ava), 9, 'Set Suburb to "A"')
    )

    assert [r["record"] for r in rows] == ["Student", "Parent 1 Jo Lee"]


def test_same_field_of_two_different_records_is_not_an_overwrite():
    ava = student_subject(student("Ava Lee", "S1", "Lee"))
    ben = student_subject(student("Ben Lee", "S2", "Lee"))

    rows = rows_of(change(ava, 9, 'Set Suburb to "A"'), change(ben, 10, 'Set Suburb to "B"'))

    assert [r["later"] for r in rows] == ["", ""]


def test_change_to_student_in_a_locked_status_is_flagged_with_the_status_label():
    locked = student_subject(student("Ava Lee", "S1", "Lee", status=5))
    settings = ChangeSettings(locked_statuses=frozenset({5}), status_labels={5: "Community"})

    [row] = rows_of(change(locked, 9, 'Set Suburb to "A"'), settings=settings)

    assert row["flag"] == "Ava Lee is in Community, where parents should no longer be able to edit"


def test_change_to_student_in_an_open_status_is_not_flagged():
    ava = student_subject(student("Ava Lee", "S1", "Lee", status=4))

    [row] = rows_of(change(ava, 9, 'Set Suburb to "A"'))

    assert row["flag"] == ""


def test_parent_change_is_one_row_naming_every_sibling():
    ava, ben = student("Ava Lee", "S1", "Lee"), student("Ben Lee", "S2", "Lee")
    mum = Subject("parent", "p1", "Parent 1 Jo Lee", (ava, ben))

    [row] = rows_of(change(mum, 9, 'Changed Email from "a@x.org" to "b@x.org"'))

    assert (row["student"], row["sentral_id"], row["record"]) == (
        "Ava Lee (S1); Ben Lee (S2)",
        "S1; S2",
        "Parent 1 Jo Lee",
    )


def test_unrecognised_sentence_is_reported_verbatim_and_flagged():
    ava = student_subject(student("Ava Lee", "S1", "Lee"))

    [row] = rows_of(change(ava, 9, "Uploaded a new photo"))

    assert (row["field"], row["logged_as"], row["flag"]) == (
        "",
        "Uploaded a new photo",
        "not understood: read the logged text",
    )


def test_recognised_change_to_a_known_field_has_no_logged_text():
    ava = student_subject(student("Ava Lee", "S1", "Lee"))

    [row] = rows_of(change(ava, 9, 'Set Suburb to "A"'))

    assert row["logged_as"] == ""


def test_names_with_html_and_formulas_are_text_in_both_files(tmp_path):
    ava = student_subject(student("<b>Ava</b>", "S1", '=HYPERLINK("http://x","y")'))
    collection = Collection([change(ava, 9, 'Set Preferred name to "<script>x</script>"')], Counter())

    files, _rows = write_change_report("demo", collection, ChangeSettings(), DAY, out_dir=tmp_path)

    page = files.html.read_text()
    assert "<b>Ava</b>" not in page
    assert "&lt;b&gt;Ava&lt;/b&gt;" in page
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    [row] = list(csv.DictReader(files.csv.read_text(encoding="utf-8-sig").splitlines()))
    assert row["Family"] == '\'=HYPERLINK("http://x","y")'


def test_empty_interval_writes_a_report_that_says_so(tmp_path):
    files, rows = write_change_report(
        "demo", Collection([], Counter()), ChangeSettings(), DAY, out_dir=tmp_path
    )

    assert rows == 0
    assert "No parent changed anything" in files.html.read_text()
    assert files.csv.read_text(encoding="utf-8-sig").strip().splitlines()[0].startswith("Family,")


def test_files_are_named_after_the_interval_so_a_rerun_replaces_them(tmp_path):
    first, _ = write_change_report("demo", Collection([], Counter()), ChangeSettings(), DAY, out_dir=tmp_path)
    second, _ = write_change_report(
        "demo", Collection([], Counter()), ChangeSettings(), DAY, out_dir=tmp_path
    )

    assert first == second
    assert first.html.name == "2026-12-02.html"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-12-02.csv", "2026-12-02.html"]


def test_run_record_of_a_rerun_replaces_the_earlier_one(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    report_runs.create(engine)
    files = ReportFiles(tmp_path / "a.html", tmp_path / "a.csv")

    record_run(engine, "demo", DAY, files, 3, "run-1")
    record_run(engine, "demo", DAY, files, 3, "run-2")

    with engine.connect() as conn:
        runs = conn.execute(sa.select(report_runs.c.run_id, report_runs.c.rows)).all()
    assert runs == [("run-2", 3)]


class _SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept one message and keep its bytes."""

    def handle(self) -> None:
        self.wfile.write(b"220 sink\r\n")
        while line := self.rfile.readline():
            verb = line.strip().upper()
            if verb.startswith((b"EHLO", b"HELO")):
                self.wfile.write(b"250 sink\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                self.server.messages.append(self._read_data())
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")

    def _read_data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) != b".\r\n":
            lines.append(line)
        return b"".join(lines)


@pytest.fixture
def smtp_sink(monkeypatch):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpSink)
    server.messages = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": server.server_address[1],
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "reports@school.example"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_CHANGES_TEST", json.dumps(connection))
    yield server
    server.shutdown()
    server.server_close()


def test_report_is_emailed_with_both_files_attached(tmp_path, smtp_sink):
    files, rows = write_change_report(
        "demo", Collection([], Counter()), ChangeSettings(), DAY, out_dir=tmp_path
    )

    email_report(
        files,
        school="demo",
        interval=DAY,
        rows=rows,
        to=["office@school.example"],
        smtp_conn_id="smtp_changes_test",
    )

    [raw] = smtp_sink.messages
    message = message_from_bytes(raw)
    attached = sorted(part.get_filename() for part in message.walk() if part.get_filename())
    assert "2026-12-02" in message["Subject"]
    assert message["To"] == "office@school.example"
    assert attached == ["2026-12-02.csv", "2026-12-02.html"]
