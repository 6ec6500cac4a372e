"""Loading a school's mappings: settings, lookup tables, and errors that name file, line and value."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sentral.mappings import MappingError, load_lookup, load_school, mappings_root

DEMO = Path(__file__).resolve().parents[2] / "include" / "mappings" / "demo"


@pytest.fixture
def root(tmp_path):
    """A writable copy of the demo school's mappings, under ``<root>/demo``."""
    shutil.copytree(DEMO, tmp_path / "demo")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_demo_school_loads_with_every_table():
    config = load_school("demo", root=DEMO.parent)

    assert config.school == "demo"
    assert set(config.lookups) >= {
        "year_levels",
        "campuses",
        "genders",
        "relationships",
        "document_categories",
    }
    assert config.settings.eligible_statuses == [4]


def test_connection_ids_default_to_the_school_key(root):
    _edit(root / "demo" / "school.yml", "  enrolhq: enrolhq_demo\n", "")

    config = load_school("demo", root=root)

    assert config.enrolhq_conn_id == "enrolhq_demo"
    assert config.sentral_conn_id == "sentral_demo"


def test_integer_ids_in_yaml_are_read_as_sentral_id_strings(root):
    _edit(root / "demo" / "school.yml", 'academic_period_id: "2"', "academic_period_id: 2")

    assert load_school("demo", root=root).defaults["academic_period_id"] == "2"


def test_unknown_key_in_school_yml_names_the_file_the_key_and_the_line(root):
    _edit(root / "demo" / "school.yml", "  synced_by_default: true", "  synced_by_defualt: true")

    with pytest.raises(MappingError) as caught:
        load_school("demo", root=root)

    error = caught.value
    assert error.path.name == "school.yml"
    assert error.key == "sync.synced_by_defualt"
    lines = (root / "demo" / "school.yml").read_text().splitlines()
    assert "synced_by_defualt" in lines[error.line - 1]


def test_unknown_timezone_is_refused_with_its_value(root):
    _edit(root / "demo" / "school.yml", "timezone: Australia/Sydney", "timezone: Australia/Sidney")

    with pytest.raises(MappingError, match=r"school\.yml, line \d+, timezone: .*'Australia/Sidney'"):
        load_school("demo", root=root)


def test_student_id_source_outside_its_choices_is_refused(root):
    _edit(root / "demo" / "school.yml", "student_id_source: id", "student_id_source: student_code")

    with pytest.raises(MappingError, match=r"student_id_source: .*'student_code'"):
        load_school("demo", root=root)


def test_roster_source_outside_its_choices_is_refused(root):
    _edit(root / "demo" / "school.yml", "  source: api", "  source: ftp")

    with pytest.raises(MappingError, match=r"roster\.source"):
        load_school("demo", root=root)


def test_status_that_is_not_a_number_is_refused(root):
    _edit(root / "demo" / "school.yml", "eligible_statuses: [4]", "eligible_statuses: [Orientation]")

    with pytest.raises(MappingError, match=r"eligible_statuses\.0.*'Orientation'"):
        load_school("demo", root=root)


def test_missing_required_setting_is_named(root):
    _edit(root / "demo" / "school.yml", '  academic_period_id: "2"\n', "")

    with pytest.raises(MappingError, match=r"defaults\.academic_period_id: is required"):
        load_school("demo", root=root)


def test_duplicate_enrolhq_value_names_both_lines(root):
    path = root / "demo" / "year_levels.csv"
    path.write_text(path.read_text() + "Year 7,9,again\n")

    with pytest.raises(MappingError) as caught:
        load_school("demo", root=root)

    assert caught.value.path == path
    assert caught.value.line == 15
    assert "'Year 7'" in str(caught.value)
    assert "first on line 9" in str(caught.value)


def test_blank_sentral_value_names_the_line_and_the_row(root):
    path = root / "demo" / "campuses.csv"
    path.write_text("enrolhq_value,sentral_value,note\nMain Campus,1,\nNorth Campus,,\n")

    with pytest.raises(MappingError, match=r"campuses\.csv, line 3, sentral_value: .*'North Campus'"):
        load_school("demo", root=root)


def test_wrong_header_is_refused(tmp_path):
    path = tmp_path / "genders.csv"
    path.write_text("enrolhq,sentral\n1,M\n")

    with pytest.raises(MappingError, match="line 1: header must be"):
        load_lookup(path)


def test_comments_blank_lines_and_excel_byte_order_mark_are_accepted(tmp_path):
    path = tmp_path / "genders.csv"
    path.write_bytes("\ufeff# genders\nenrolhq_value,sentral_value\n\n1, M \n".encode())

    table = load_lookup(path)

    assert table.get(1) == "M"
    assert table.entries["1"].line == 4


def test_missing_lookup_file_is_named(root):
    (root / "demo" / "relationships.csv").unlink()

    with pytest.raises(MappingError, match=r"relationships\.csv: file not found"):
        load_school("demo", root=root)


def test_houses_table_is_optional_and_loaded_when_present(root):
    assert load_school("demo", root=root).lookup("houses") is None

    (root / "demo" / "houses.csv").write_text("enrolhq_value,sentral_value\nRed,1\n")

    assert load_school("demo", root=root).lookup("houses").get("Red") == "1"


def test_field_map_naming_a_table_that_does_not_exist_is_refused(root):
    _edit(root / "demo" / "fields.yml", "lookup: year_levels", "lookup: year_level")

    with pytest.raises(MappingError, match=r"fields\.yml, enrolment\.year: lookup 'year_level' has no table"):
        load_school("demo", root=root)


def test_field_map_naming_an_unknown_default_is_refused(root):
    _edit(root / "demo" / "fields.yml", "default: academic_period_id", "default: period")

    with pytest.raises(MappingError, match=r"enrolment\.academic_period_id: default 'period'"):
        load_school("demo", root=root)


def test_school_name_with_a_path_in_it_is_refused(root):
    with pytest.raises(MappingError, match="not a folder name"):
        load_school("../demo", root=root)


def test_unknown_school_names_the_folder_it_looked_for(root):
    with pytest.raises(MappingError, match="no mappings folder for school 'nowhere'"):
        load_school("nowhere", root=root)


def test_mappings_folder_comes_from_the_environment(root, monkeypatch):
    monkeypatch.setenv("SENTRAL_MAPPINGS_DIR", str(root))

    assert mappings_root() == root


def test_mappings_folder_defaults_to_include_beside_the_dags_folder(monkeypatch):
    monkeypatch.delenv("SENTRAL_MAPPINGS_DIR", raising=False)

    assert mappings_root() == DEMO.parent
