"""Preflight logic against in-memory EnrolHQ and Sentral built from the sandbox generator."""

from __future__ import annotations

import csv
import io
import shutil
import stat
from pathlib import Path

import pytest

from apicore.errors import AuthenticationError, NotFoundError, RetriableApiError
from sandbox.generator import generate_school
from sentral.jsonapi import Resource
from sentral.mappings import load_school
from sentral.preflight import PreflightFailed, conclude, find_gaps, read_enrolhq, read_sentral

DEMO = Path(__file__).resolve().parents[2] / "include" / "mappings" / "demo"
SENTRAL_KINDS = ("year_levels", "campuses", "houses", "document_categories", "academic_periods", "note_types")


class FakeSentral:
    """Answers ``check`` and ``lookup`` from a generated school's Sentral tables."""

    def __init__(self, document: dict, *, refuse: AuthenticationError | None = None) -> None:
        self.tables = {kind: document["sentral"][kind] for kind in SENTRAL_KINDS}
        self.refuse = refuse

    def check(self) -> None:
        if self.refuse:
            raise self.refuse

    def lookup(self, kind: str) -> list[Resource]:
        return [Resource(type=kind, id=row["id"], attributes=dict(row)) for row in self.tables[kind]]


class FakeEnrolHQ:
    """Answers the application and document reads preflight makes from a generated school."""

    def __init__(self, document: dict, *, refuse: AuthenticationError | None = None) -> None:
        self.applications = {app["id"]: app for app in document["enrolhq"]["applications"]}
        self.documents = document["enrolhq"]["documents"]
        self.refuse = refuse

    def check(self) -> int:
        if self.refuse:
            raise self.refuse
        return len(self.applications)

    def iter_applications(self, *, statuses, has_external_id):
        for app in self.applications.values():
            if app["application_status"] in statuses and bool(app["external_id"]) == has_external_id:
                yield app

    def get_application(self, application_id: str) -> dict:
        return self.applications[application_id]

    def list_documents(self, application_id: str) -> list[dict]:
        return [doc for doc in self.documents if doc["student_profile"] == application_id]


@pytest.fixture(scope="module")
def document():
    return generate_school(size=20, seed=5)


@pytest.fixture
def root(tmp_path):
    shutil.copytree(DEMO, tmp_path / "demo")
    return tmp_path


def _config(root):
    return load_school("demo", root=root)


def _replace_line(path: Path, startswith: str, new: str | None) -> None:
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(startswith))
    if new is None:
        del lines[index]
    else:
        lines[index] = new
    path.write_text("\n".join(lines) + "\n")


def _gaps(config, document, **fakes):
    sentral = read_sentral(fakes.get("sentral") or FakeSentral(document), config.sentral_conn_id)
    enrolhq = read_enrolhq(fakes.get("enrolhq") or FakeEnrolHQ(document), config)
    return find_gaps(config, sentral, enrolhq)


def _eligible(document):
    return [
        app
        for app in document["enrolhq"]["applications"]
        if app["application_status"] == 4
        and not app["external_id"]
        and app["progress"]["enrolment_offer"]["accepted_at"]
    ]


def _eligible_grades(document):
    return {app["entry_grade"] for app in _eligible(document)}


def test_demo_mappings_have_no_gaps_against_a_generated_school(document):
    assert _gaps(load_school("demo", root=DEMO.parent), document) == []


def test_year_level_used_by_an_eligible_application_without_mapping_is_a_gap(root, document):
    grade = sorted(_eligible_grades(document))[0]
    _replace_line(root / "demo" / "year_levels.csv", f"{grade},", None)

    gaps = _gaps(_config(root), document)

    assert [(gap.check, gap.problem, gap.value) for gap in gaps] == [("Year levels", "no mapping", grade)]
    assert "entry_grade" in gaps[0].where


def test_year_level_no_application_uses_may_stay_unmapped(root, document):
    unused = next(g for g in ("Year 12", "Year 11", "Year 10") if g not in _eligible_grades(document))
    _replace_line(root / "demo" / "year_levels.csv", f"{unused},", None)

    assert _gaps(_config(root), document) == []


def test_mapping_to_an_inactive_campus_is_a_gap_naming_the_line(root, document):
    _replace_line(root / "demo" / "campuses.csv", "Junior Campus,", "Junior Campus,3,")

    gaps = _gaps(_config(root), document)

    assert [(gap.check, gap.problem) for gap in gaps] == [("Campuses", "inactive in Sentral")]
    assert gaps[0].value == "3 (Old Campus)"
    assert gaps[0].where == "campuses.csv, line 3 (Junior Campus)"


def test_mapping_to_a_year_level_sentral_lacks_is_a_gap(root, document):
    _replace_line(root / "demo" / "year_levels.csv", "Year 12,", "Year 12,99,")

    gaps = _gaps(_config(root), document)

    assert [(gap.check, gap.problem, gap.value) for gap in gaps] == [
        ("Year levels", "missing in Sentral", "99")
    ]


def test_default_academic_period_sentral_lacks_is_a_gap(root, document):
    path = root / "demo" / "school.yml"
    path.write_text(path.read_text().replace('academic_period_id: "2"', 'academic_period_id: "77"'))

    gaps = _gaps(_config(root), document)

    assert [(gap.check, gap.where) for gap in gaps] == [
        ("Academic periods", "school.yml, defaults.academic_period_id")
    ]


def test_relationship_code_outside_the_schools_code_list_is_a_gap(root, document):
    _replace_line(root / "demo" / "relationships.csv", "Aunt,", "Aunt,AUNTIE,")

    gaps = _gaps(_config(root), document)

    assert [(gap.check, gap.problem, gap.value) for gap in gaps] == [
        ("Relationships", "not a code the tenant knows", "AUNTIE")
    ]


def test_unverified_document_kinds_need_no_category(root, document):
    enrolhq = FakeEnrolHQ(document)
    eligible = _eligible(document)[0]["id"]
    unverified = {
        "id": 1,
        "student_profile": eligible,
        "group_kind": "NOT_MAPPED",
        "is_verified": False,
    }
    enrolhq.documents = [*enrolhq.documents, unverified]

    assert _gaps(_config(root), document, enrolhq=enrolhq) == []


def test_verified_document_kind_without_category_is_a_gap(root, document):
    _replace_line(root / "demo" / "document_categories.csv", "BIRTH_CERT,", None)

    gaps = _gaps(_config(root), document)

    assert [(gap.check, gap.value) for gap in gaps] == [("Document categories", "BIRTH_CERT")]


def test_refused_sentral_key_is_a_gap_that_says_which_system_and_what_to_fix(root, document):
    refused = AuthenticationError(
        "Sentral", "the API key or the tenant code is wrong; check the connection", status=401
    )

    gaps = _gaps(_config(root), document, sentral=FakeSentral(document, refuse=refused))

    assert [(gap.check, gap.value, gap.where) for gap in gaps] == [
        ("Connection", "Sentral", "connection sentral_demo")
    ]
    assert "tenant code is wrong" in gaps[0].action


def test_refused_enrolhq_token_is_a_gap_naming_enrolhq(root, document):
    refused = AuthenticationError("EnrolHQ", "the API token was refused at sign-in", status=401)

    gaps = _gaps(_config(root), document, enrolhq=FakeEnrolHQ(document, refuse=refused))

    assert [(gap.value, gap.where) for gap in gaps] == [("EnrolHQ", "connection enrolhq_demo")]


def test_outage_is_raised_for_airflow_to_retry(root, document):
    class Down(FakeSentral):
        def check(self):
            raise RetriableApiError("Sentral", "GET year-level failed on the server", status=503)

    with pytest.raises(RetriableApiError):
        read_sentral(Down(document), "sentral_demo")


def test_step_that_never_finished_is_reported_as_a_gap(root, document):
    config = _config(root)
    enrolhq = read_enrolhq(FakeEnrolHQ(document), config)

    gaps = find_gaps(config, None, enrolhq)

    assert [(gap.check, gap.problem) for gap in gaps] == [("Connection", "Sentral could not be read")]


def test_gaps_fail_the_run_after_the_report_is_written(root, document, tmp_path):
    _replace_line(root / "demo" / "campuses.csv", "Junior Campus,", "Junior Campus,3,")
    config = _config(root)
    sentral = read_sentral(FakeSentral(document), config.sentral_conn_id)
    enrolhq = read_enrolhq(FakeEnrolHQ(document), config)

    with pytest.raises(PreflightFailed) as caught:
        conclude(config, sentral, enrolhq, stamp="run-1", out_dir=tmp_path / "out")

    report = caught.value.report
    rows = list(csv.DictReader(io.StringIO(report.csv.read_text(encoding="utf-8-sig"))))
    assert [row["Problem"] for row in rows] == ["inactive in Sentral"]
    assert stat.S_IMODE(report.html.stat().st_mode) == 0o600


def test_ready_school_gets_a_report_that_says_so(document, tmp_path):
    config = load_school("demo", root=DEMO.parent)
    sentral = read_sentral(FakeSentral(document), config.sentral_conn_id)
    enrolhq = read_enrolhq(FakeEnrolHQ(document), config)

    files = conclude(config, sentral, enrolhq, stamp="run-2", out_dir=tmp_path / "out")

    page = files.html.read_text(encoding="utf-8")
    assert "<dd>ready</dd>" in page
    assert "sentral_codes" in page


def test_report_holds_application_ids_not_names(root, document, tmp_path):
    grade = sorted(_eligible_grades(document))[0]
    _replace_line(root / "demo" / "year_levels.csv", f"{grade},", None)
    config = _config(root)
    sentral = read_sentral(FakeSentral(document), config.sentral_conn_id)
    enrolhq = read_enrolhq(FakeEnrolHQ(document), config)

    with pytest.raises(PreflightFailed) as caught:
        conclude(config, sentral, enrolhq, stamp="run-3", out_dir=tmp_path / "out")

    text = caught.value.report.csv.read_text(encoding="utf-8-sig")
    users = [app for app in document["enrolhq"]["applications"] if app["entry_grade"] == grade]
    assert any(app["id"] in text for app in users)
    assert not any(app["last_name"] in text for app in users)


def test_lookup_the_key_may_not_read_is_a_gap_and_the_others_are_still_read(root, document):
    class NoCampuses(FakeSentral):
        def lookup(self, kind):
            if kind == "campuses":
                raise AuthenticationError("Sentral", "lacks permission for the Enrolments module", status=403)
            return super().lookup(kind)

    result = read_sentral(NoCampuses(document), "sentral_demo")

    assert "campuses" not in result["lookups"]
    assert "year_levels" in result["lookups"]
    assert [error["during"] for error in result["errors"]] == ["reading campuses"]


def test_application_deleted_while_being_read_is_skipped(root, document):
    class Vanishing(FakeEnrolHQ):
        def get_application(self, application_id):
            if application_id == gone:
                raise NotFoundError("EnrolHQ", "GET applications/{id}/ found nothing", status=404)
            return super().get_application(application_id)

    gone = _eligible(document)[0]["id"]
    config = _config(root)

    result = read_enrolhq(Vanishing(document), config)

    assert result["errors"] == []
    assert result["applications"] == len(_eligible(document)) - 1


def test_applications_the_token_may_not_read_are_a_gap_saying_so(root, document):
    class NoDetail(FakeEnrolHQ):
        def get_application(self, application_id):
            raise AuthenticationError(
                "EnrolHQ", "not allowed for the EnrolHQ user who owns the API token", status=403
            )

    gaps = _gaps(_config(root), document, enrolhq=NoDetail(document))

    assert [gap.problem for gap in gaps] == ["EnrolHQ refused the request while reading applications"]
