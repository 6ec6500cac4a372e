"""Matching roster rows to applications: normalised names, the review list, unmatched on each side."""

from __future__ import annotations

from datetime import date
from itertools import count

from sentral.matching import (
    HOLDS_OTHER_ID,
    ID_HELD_ELSEWHERE,
    NEAR_MISS,
    REPEATED_ID,
    SEVERAL_APPLICATIONS,
    SEVERAL_ROWS,
    TWINS,
    Applicant,
    match_roster,
)
from sentral.matching_names import fold
from sentral.roster import RosterRow

DOB = date(2015, 4, 3)
_ids = count(1)


def row(first, last, *, dob=DOB, sentral_id=None, preferred="", legal_last="", legal_first=""):
    number = next(_ids)
    return RosterRow(
        row=number + 1,
        sentral_id=sentral_id or str(5000 + number),
        first_name=first,
        last_name=last,
        dob=dob,
        preferred_name=preferred,
        legal_last_name=legal_last,
        legal_first_name=legal_first,
    )


def applicant(first, last, *, dob=DOB, preferred="", external_id="", status=4):
    return Applicant(
        application_id=f"app-{next(_ids)}",
        first_name=first,
        last_name=last,
        dob=dob,
        preferred_name=preferred,
        external_id=external_id,
        status=status,
    )


def matched_pairs(result):
    return [(m.row.sentral_id, m.applicant.application_id) for m in result.matches]


def test_one_exact_candidate_is_a_match():
    roster_row, app = row("Ava", "Smith"), applicant("Ava", "Smith")

    result = match_roster([roster_row], [app, applicant("Ava", "Smith", dob=date(2015, 4, 4))])

    assert matched_pairs(result) == [(roster_row.sentral_id, app.application_id)]


def test_names_are_folded_for_accents_case_apostrophes_and_spaces():
    assert fold("  Zoë  O’Brien-NÚÑEZ ") == "zoe obrien nunez"


def test_accented_and_apostrophe_names_match_their_plain_spelling():
    result = match_roster([row("Zoë", "O'Brien")], [applicant("ZOE", "OBrien")])

    assert len(result.matches) == 1


def test_a_hyphenated_surname_matches_the_same_surname_with_a_space():
    result = match_roster([row("Liam", "Smith-Jones")], [applicant("Liam", "Smith Jones")])

    assert len(result.matches) == 1


def test_a_compound_surname_matches_one_of_its_parts():
    result = match_roster([row("Lucia", "García López")], [applicant("Lucia", "Garcia")])

    assert len(result.matches) == 1


def test_a_surname_particle_alone_does_not_match():
    result = match_roster([row("Eva", "van der Berg")], [applicant("Eva", "van Dyke")])

    assert result.matches == []


def test_a_preferred_name_on_the_roster_matches_the_applications_first_name():
    result = match_roster([row("William", "Tran", preferred="Bill")], [applicant("Bill", "Tran")])

    assert len(result.matches) == 1


def test_the_applications_preferred_name_matches_the_rosters_first_name():
    result = match_roster([row("Bill", "Tran")], [applicant("William", "Tran", preferred="Bill")])

    assert len(result.matches) == 1


def test_a_legal_surname_on_the_roster_matches_the_applications_surname():
    result = match_roster([row("Kim", "Nguyen", legal_last="Pham")], [applicant("Kim", "Pham")])

    assert len(result.matches) == 1


def test_the_same_name_with_another_date_of_birth_is_not_a_match():
    result = match_roster([row("Ava", "Smith")], [applicant("Ava", "Smith", dob=date(2016, 4, 3))])

    assert result.matches == []
    assert len(result.unmatched_rows) == 1


def test_twins_go_to_review_with_both_applications_as_candidates():
    olivia, oscar = applicant("Olivia", "Park"), applicant("Oscar", "Park")

    result = match_roster([row("Olivia", "Park"), row("Oscar", "Park")], [olivia, oscar])

    assert result.matches == []
    assert [review.reasons for review in result.review] == [[TWINS], [TWINS]]
    assert {a.application_id for a in result.review[0].candidates} == {
        olivia.application_id,
        oscar.application_id,
    }


def test_a_twin_on_the_roster_side_alone_still_sends_the_match_to_review():
    result = match_roster([row("Olivia", "Park"), row("Oscar", "Park")], [applicant("Olivia", "Park")])

    assert result.matches == []
    assert result.review[0].reasons == [TWINS]


def test_a_twin_already_holding_the_same_id_counts_as_already_set():
    twin = row("Olivia", "Park", sentral_id="777")

    result = match_roster(
        [twin, row("Oscar", "Park")],
        [applicant("Olivia", "Park", external_id="777"), applicant("Oscar", "Park")],
    )

    assert [m.row.sentral_id for m in result.already_set] == ["777"]


def test_two_applications_for_the_same_child_go_to_review():
    result = match_roster([row("Ava", "Smith")], [applicant("Ava", "Smith"), applicant("Ava", "Smith")])

    assert result.matches == []
    assert result.review[0].reasons == [SEVERAL_APPLICATIONS]
    assert len(result.review[0].candidates) == 2


def test_a_similar_first_name_is_a_near_miss_for_review():
    result = match_roster([row("Jon", "Baker")], [applicant("John", "Baker")])

    assert result.matches == []
    assert result.review[0].reasons == [NEAR_MISS]


def test_a_misspelt_surname_is_a_near_miss_for_review():
    result = match_roster([row("Isla", "Macdonald")], [applicant("Isla", "McDonald")])

    assert result.review[0].reasons == [NEAR_MISS]


def test_an_application_holding_a_different_external_id_goes_to_review_not_written():
    result = match_roster(
        [row("Ava", "Smith", sentral_id="100")], [applicant("Ava", "Smith", external_id="200")]
    )

    assert result.matches == []
    assert result.review[0].reasons == [f"{HOLDS_OTHER_ID} (200)"]


def test_an_application_holding_the_same_id_without_leading_zeros_is_already_set():
    result = match_roster(
        [row("Ava", "Smith", sentral_id="000100")], [applicant("Ava", "Smith", external_id="100")]
    )

    assert len(result.already_set) == 1
    assert result.matches == []


def test_a_sentral_id_another_application_holds_goes_to_review():
    other = applicant("Noah", "Jones", external_id="300")

    result = match_roster([row("Ava", "Smith", sentral_id="300")], [applicant("Ava", "Smith"), other])

    assert result.review[0].reasons == [f"{ID_HELD_ELSEWHERE} ({other.application_id})"]


def test_a_repeated_sentral_id_sends_every_row_carrying_it_to_review():
    rows = [row("Ava", "Smith", sentral_id="400"), row("Noah", "Jones", sentral_id="400")]

    result = match_roster(rows, [applicant("Ava", "Smith"), applicant("Noah", "Jones")])

    assert result.matches == []
    assert [review.reasons for review in result.review] == [[REPEATED_ID], [REPEATED_ID]]


def test_two_roster_rows_matching_one_application_go_to_review():
    rows = [row("Ava", "Smith"), row("Ava", "Smith", preferred="Avery")]

    result = match_roster(rows, [applicant("Ava", "Smith")])

    assert result.matches == []
    assert all(SEVERAL_ROWS in review.reasons for review in result.review)


def test_unmatched_rows_and_unmatched_eligible_applications_are_listed():
    lone_row, lone_app = row("Ruby", "Hall"), applicant("Mason", "Ford")

    result = match_roster([lone_row], [lone_app, applicant("Leo", "West", status=9)], eligible_statuses=[4])

    assert result.unmatched_rows == [lone_row]
    assert result.unmatched_applications == [lone_app]


def test_an_application_outside_the_eligible_statuses_is_never_matched():
    result = match_roster([row("Ava", "Smith")], [applicant("Ava", "Smith", status=9)], eligible_statuses=[4])

    assert result.matches == []
    assert len(result.unmatched_rows) == 1


def test_an_ineligible_application_holding_the_id_still_blocks_the_write():
    holder = applicant("Ava", "Smith", external_id="500", status=9)

    result = match_roster(
        [row("Ava", "Smith", sentral_id="500")], [applicant("Ava", "Smith"), holder], eligible_statuses=[4]
    )

    assert result.review[0].reasons == [f"{ID_HELD_ELSEWHERE} ({holder.application_id})"]


def test_an_application_from_the_summary_record_reads_its_date_and_external_id():
    summary = {
        "id": "9f2c",
        "first_name": "Ava",
        "last_name": "Smith",
        "dob": "2015-04-03",
        "external_id": " 12 ",
    }

    app = Applicant.from_summary(summary)

    assert (app.dob, app.external_id) == (DOB, "12")


def test_a_known_nickname_on_the_roster_matches_the_full_given_name():
    result = match_roster([row("Lottie", "Kelly")], [applicant("Charlotte", "Kelly")])

    assert len(result.matches) == 1


def test_the_first_letters_of_a_given_name_match_it_as_a_short_form():
    result = match_roster([row("Alex", "Kelly")], [applicant("Alexander", "Kelly")])

    assert len(result.matches) == 1


def test_two_letters_are_too_few_to_be_a_short_form():
    result = match_roster([row("Al", "Kelly")], [applicant("Alexander", "Kelly")])

    assert result.matches == []


def test_a_surname_whose_special_letter_an_export_dropped_still_matches():
    result = match_roster([row("Anais", "Jrgensen")], [applicant("Anaïs", "Jørgensen")])

    assert len(result.matches) == 1
