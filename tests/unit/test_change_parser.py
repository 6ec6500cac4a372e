"""The change parser: every sentence form of docs/api-surface.md, and text it does not know."""

from __future__ import annotations

import pytest

from sandbox.generator import generate_school
from sentral.change_parser import Action, parse_change, parse_changes


@pytest.fixture(scope="module")
def generated_edits() -> list[dict]:
    """Every edit a small generated school's audit logs hold, with the sentence written for it."""
    return generate_school(size=16, seed=3, audit_days=3)["truth"]["audit_edits"]


def _expected(edit: dict) -> tuple[str, str, str, str]:
    return (edit["action"], edit["field"].lower(), edit["old"] or "", edit["new"] or "")


def _read(sentence: str) -> tuple[str, str, str | None, str | None]:
    change = parse_change(sentence)
    return (change.action.value, (change.field or "").lower(), change.old, change.new)


@pytest.mark.parametrize("action", ["changed", "set", "cleared", "added", "removed"])
def test_every_generated_sentence_of_a_form_reads_back_as_its_edit(generated_edits, action):
    edits = [edit for edit in generated_edits if edit["action"] == action]

    assert edits, f"the generated school has no {action} sentence to read"
    assert [_read(edit["sentence"]) for edit in edits] == [_expected(edit) for edit in edits]


def test_every_generated_field_label_reads_back(generated_edits):
    labels = {edit["field"].lower() for edit in generated_edits}

    assert {(parse_change(e["sentence"]).field or "").lower() for e in generated_edits} == labels


def test_changed_sentence_gives_field_old_and_new():
    change = parse_change('Changed Mobile phone from "0400 111 222" to "0400 333 444"')

    assert (change.action, change.field, change.old, change.new) == (
        Action.CHANGED,
        "Mobile phone",
        "0400 111 222",
        "0400 333 444",
    )


def test_set_sentence_has_an_empty_old_value():
    change = parse_change('Set Business phone to "02 9999 0000"')

    assert (change.action, change.field, change.old, change.new) == (
        Action.SET,
        "Business phone",
        "",
        "02 9999 0000",
    )


def test_cleared_sentence_has_an_empty_new_value():
    change = parse_change('Cleared Custody details (was "Court orders on file")')

    assert (change.action, change.field, change.old, change.new) == (
        Action.CLEARED,
        "Custody details",
        "Court orders on file",
        "",
    )


@pytest.mark.parametrize(
    ("kind", "field"),
    [("guardian", "Guardian"), ("emergency contact", "Emergency contact"), ("parent", "Parent")],
)
def test_added_person_is_a_new_value_under_the_kind(kind, field):
    change = parse_change(f'Added {kind} "Mia Nguyen"')

    assert (change.action, change.field, change.old, change.new) == (Action.ADDED, field, "", "Mia Nguyen")


@pytest.mark.parametrize(
    ("kind", "field"),
    [("guardian", "Guardian"), ("emergency contact", "Emergency contact"), ("parent", "Parent")],
)
def test_removed_person_is_an_old_value_under_the_kind(kind, field):
    change = parse_change(f'Removed {kind} "Mia Nguyen"')

    assert (change.action, change.field, change.old, change.new) == (Action.REMOVED, field, "Mia Nguyen", "")


def test_change_from_empty_to_empty_quotes_keeps_both_empty():
    change = parse_change('Changed Allergies from "" to "Peanuts"')

    assert (change.old, change.new) == ("", "Peanuts")


def test_value_with_backslash_escaped_quotes_is_unescaped():
    change = parse_change(r'Changed Last name from "=HYPERLINK(\"http://x\")" to "O\\Brien"')

    assert (change.old, change.new) == ('=HYPERLINK("http://x")', "O\\Brien")


def test_value_with_bare_inner_quotes_is_kept_whole():
    change = parse_change('Changed First name from "Sam "the man"" to "Sam"')

    assert (change.field, change.old, change.new) == ("First name", 'Sam "the man"', "Sam")


def test_value_holding_html_is_returned_as_written():
    change = parse_change('Set Preferred name to "<script>alert(1)</script>"')

    assert change.new == "<script>alert(1)</script>"


def test_multi_line_value_is_read_whole():
    change = parse_change('Changed Residential address from "1 Main St\nUnit 2" to "3 High St"')

    assert (change.old, change.new) == ("1 Main St\nUnit 2", "3 High St")


def test_unknown_field_label_in_a_known_form_is_still_read():
    change = parse_change('Changed Shoe size from "3" to "4"')

    assert (change.action, change.field, change.old, change.new) == (Action.CHANGED, "Shoe size", "3", "4")


@pytest.mark.parametrize(
    "sentence",
    [
        "Profile merged with another application",
        'Changed Mobile phone to "0400 000 000"',
        'Added sibling "Tom Nguyen"',
        "",
        'Set Email "a@example.org"',
    ],
)
def test_sentence_in_no_known_form_is_kept_verbatim(sentence):
    change = parse_change(sentence)

    assert (change.action, change.recognised, change.field, change.sentence) == (
        Action.UNRECOGNISED,
        False,
        None,
        sentence,
    )


def test_entry_sentences_are_read_in_order_and_none_is_dropped():
    sentences = ['Set Email to "a@example.org"', "Something new happened", 'Cleared Title (was "Dr")']

    changes = parse_changes(sentences)

    assert [c.sentence for c in changes] == sentences
    assert [c.action for c in changes] == [Action.SET, Action.UNRECOGNISED, Action.CLEARED]


def test_entry_without_sentences_gives_no_changes():
    assert parse_changes(None) == []
