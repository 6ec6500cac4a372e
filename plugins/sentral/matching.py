"""Matching roster rows (students in Sentral) to EnrolHQ applications.

Names are compared through :mod:`sentral.matching_names`: every name a person goes by (first and
preferred names, family and legal surnames, each part of a compound surname, known short forms).
Applications are indexed by date of birth plus each surname variant and each given-name variant, so a
roster row meets only the handful of applications that share its date of birth and a name; 20,000
rows against 20,000 applications stays close to linear.

Only a single, unambiguous candidate is matched. Everything else goes to review with the candidates
and the reason, and is never written:
- twins (another applicant or roster student shares the surname and date of birth), because a swap
  between twins is the costliest mistake this pipeline can make;
- several applications matching one roster row, or several roster rows matching one application;
- a near miss: same date of birth and one name exact, the other only similar;
- an application that already holds a different external ID, or a Sentral ID that another
  application already holds, or that appears on more than one roster row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from sentral.matching_names import given_variants, name_key, same_given_name, similar, surname_variants
from sentral.roster import RosterRow, id_key

log = logging.getLogger(__name__)

TWINS = "twins: another student has the same surname and date of birth"
SEVERAL_APPLICATIONS = "several applications match this roster row"
SEVERAL_ROWS = "several roster rows match this application"
NEAR_MISS = "near miss: same date of birth, similar but not identical name"
HOLDS_OTHER_ID = "the application already holds a different external ID"
ID_HELD_ELSEWHERE = "another application already holds this Sentral ID"
REPEATED_ID = "this Sentral ID appears on more than one roster row"


@dataclass(frozen=True)
class Applicant:
    """What matching needs of an EnrolHQ application.

    :param external_id: the Sentral ID the application already holds, or ``""``.
    :param status: the application status (EnrolHQ's integer), for the unmatched list.
    """

    application_id: str
    first_name: str
    last_name: str
    dob: date | None
    preferred_name: str = ""
    external_id: str = ""
    status: int | None = None

    @classmethod
    def from_summary(cls, summary: Mapping[str, object]) -> Applicant:
        """An applicant from an EnrolHQ application summary or detail record."""
        raw_dob = summary.get("dob")
        try:
            dob = date.fromisoformat(str(raw_dob)) if raw_dob else None
        except ValueError:
            dob = None
        return cls(
            application_id=str(summary["id"]),
            first_name=str(summary.get("first_name") or ""),
            last_name=str(summary.get("last_name") or ""),
            dob=dob,
            preferred_name=str(summary.get("preferred_name") or ""),
            external_id=str(summary.get("external_id") or "").strip(),
            status=summary.get("application_status"),  # type: ignore[arg-type]
        )

    @property
    def display_name(self) -> str:
        preferred = f" ({self.preferred_name})" if self.preferred_name else ""
        return f"{self.first_name}{preferred} {self.last_name}".strip()


@dataclass(frozen=True)
class Match:
    """A roster row paired with exactly one application."""

    row: RosterRow
    applicant: Applicant


@dataclass
class Review:
    """A roster row (or an application) that a person must decide about; nothing is written for it.

    :param row: the roster row, or ``None`` when the question is about an application alone.
    :param candidates: the applications that might be this student.
    :param reasons: why it could not be matched automatically, in words a registrar reads.
    """

    row: RosterRow | None
    candidates: list[Applicant]
    reasons: list[str] = field(default_factory=list)


@dataclass
class MatchResult:
    """The outcome of matching one roster against the applications."""

    matches: list[Match] = field(default_factory=list)
    already_set: list[Match] = field(default_factory=list)
    review: list[Review] = field(default_factory=list)
    unmatched_rows: list[RosterRow] = field(default_factory=list)
    unmatched_applications: list[Applicant] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "matched": len(self.matches),
            "already_set": len(self.already_set),
            "review": len(self.review),
            "unmatched_rows": len(self.unmatched_rows),
            "unmatched_applications": len(self.unmatched_applications),
        }


@dataclass(frozen=True)
class Person:
    """A roster row or an application reduced to what matching compares."""

    dob: date | None
    surnames: frozenset[str]
    givens: frozenset[str]
    family_key: str


def person_of_row(row: RosterRow) -> Person:
    """The comparable form of a roster row."""
    return Person(
        dob=row.dob,
        surnames=surname_variants(row.last_name, row.legal_last_name),
        givens=given_variants(row.first_name, row.preferred_name, row.legal_first_name),
        family_key=name_key(row.legal_last_name or row.last_name),
    )


def person_of_applicant(applicant: Applicant) -> Person:
    """The comparable form of an application."""
    return Person(
        dob=applicant.dob,
        surnames=surname_variants(applicant.last_name),
        givens=given_variants(applicant.first_name, applicant.preferred_name),
        family_key=name_key(applicant.last_name),
    )


class ApplicantIndex:
    """Applications keyed by date of birth plus each surname and each given-name variant."""

    def __init__(self, applicants: Iterable[Applicant]) -> None:
        self.applicants = list(applicants)
        self.people = [person_of_applicant(applicant) for applicant in self.applicants]
        self._by_surname: dict[tuple[date, str], list[int]] = defaultdict(list)
        self._by_given: dict[tuple[date, str], list[int]] = defaultdict(list)
        self.families: dict[tuple[date, str], list[int]] = defaultdict(list)
        for position, person in enumerate(self.people):
            if person.dob is None:
                continue
            for variant in person.surnames:
                self._by_surname[(person.dob, variant)].append(position)
            for variant in person.givens:
                self._by_given[(person.dob, variant)].append(position)
            self.families[(person.dob, person.family_key)].append(position)

    def candidates(self, person: Person) -> set[int]:
        """Positions of applications sharing the date of birth and at least one name variant."""
        found: set[int] = set()
        for variant in person.surnames:
            found.update(self._by_surname.get((person.dob, variant), ()))  # type: ignore[arg-type]
        for variant in person.givens:
            found.update(self._by_given.get((person.dob, variant), ()))  # type: ignore[arg-type]
        return found


def compare_people(row_person: Person, applicant_person: Person) -> str | None:
    """``"exact"``, ``"near"`` or ``None`` for one roster row against one application."""
    surname_exact = bool(row_person.surnames & applicant_person.surnames)
    given_exact = same_given_name(row_person.givens, applicant_person.givens)
    if surname_exact and given_exact:
        return "exact"
    if surname_exact and similar(row_person.givens, applicant_person.givens):
        return "near"
    if given_exact and similar(row_person.surnames, applicant_person.surnames):
        return "near"
    return None


def match_roster(
    rows: Iterable[RosterRow],
    applicants: Iterable[Applicant],
    *,
    eligible_statuses: Iterable[int] | None = None,
) -> MatchResult:
    """Match every roster row to at most one application, and list what needs a person.

    :param rows: the validated roster.
    :param applicants: every application known, including those outside ``eligible_statuses`` (they
        still count when checking whether a Sentral ID is already held elsewhere).
    :param eligible_statuses: application statuses a roster row may be matched to, and whose
        unmatched applications are listed; ``None`` means every status.
    """
    rows = list(rows)
    everyone = list(applicants)
    statuses = None if eligible_statuses is None else set(eligible_statuses)
    eligible = [a for a in everyone if statuses is None or a.status in statuses]
    index = ApplicantIndex(eligible)
    holders = _holders_of_ids(everyone)
    rows_of_id = _rows_of_ids(rows)
    row_people = [person_of_row(row) for row in rows]
    row_families: dict[tuple[date, str], int] = defaultdict(int)
    for person in row_people:
        row_families[(person.dob, person.family_key)] += 1  # type: ignore[index]

    exact_of_row, near_of_row = _find_candidates(row_people, index)
    rows_claiming: dict[int, list[int]] = defaultdict(list)
    for row_position, exact in enumerate(exact_of_row):
        if len(exact) == 1:
            rows_claiming[exact[0]].append(row_position)

    result = MatchResult()
    touched: set[int] = set()
    for row_position, row in enumerate(rows):
        exact, near = exact_of_row[row_position], near_of_row[row_position]
        touched.update(exact)
        touched.update(near)
        if not exact and not near:
            result.unmatched_rows.append(row)
            continue
        if len(exact) != 1:
            candidates = exact or near
            reason = SEVERAL_APPLICATIONS if len(exact) > 1 else NEAR_MISS
            result.review.append(Review(row, [index.applicants[p] for p in candidates], [reason]))
            continue
        position = exact[0]
        applicant = index.applicants[position]
        if applicant.external_id and id_key(applicant.external_id) == id_key(row.sentral_id):
            # The application already agrees with Sentral: nothing to write, whatever else is true.
            result.already_set.append(Match(row, applicant))
            continue
        family = index.families[(row.dob, index.people[position].family_key)]
        reasons = _reasons_against(
            row,
            applicant,
            twins=len(family) > 1 or row_families[(row.dob, row_people[row_position].family_key)] > 1,
            contested=len(rows_claiming[position]) > 1,
            repeated=len(rows_of_id[id_key(row.sentral_id)]) > 1,
            holders=holders.get(id_key(row.sentral_id), set()),
        )
        if reasons:
            shown = [position, *(other for other in family if other != position)]
            result.review.append(Review(row, [index.applicants[p] for p in shown], reasons))
        else:
            result.matches.append(Match(row, applicant))

    result.unmatched_applications = [
        applicant
        for position, applicant in enumerate(index.applicants)
        if position not in touched and not applicant.external_id
    ]
    log.info("roster matching: %s", result.counts())
    return result


def _find_candidates(
    row_people: list[Person], index: ApplicantIndex
) -> tuple[list[list[int]], list[list[int]]]:
    exact_of_row: list[list[int]] = []
    near_of_row: list[list[int]] = []
    for person in row_people:
        exact, near = [], []
        for position in sorted(index.candidates(person)):
            verdict = compare_people(person, index.people[position])
            if verdict == "exact":
                exact.append(position)
            elif verdict == "near":
                near.append(position)
        exact_of_row.append(exact)
        near_of_row.append(near)
    return exact_of_row, near_of_row


def _reasons_against(
    row: RosterRow, applicant: Applicant, *, twins: bool, contested: bool, repeated: bool, holders: set[str]
) -> list[str]:
    reasons = []
    if twins:
        reasons.append(TWINS)
    if contested:
        reasons.append(SEVERAL_ROWS)
    if repeated:
        reasons.append(REPEATED_ID)
    if applicant.external_id and id_key(applicant.external_id) != id_key(row.sentral_id):
        reasons.append(f"{HOLDS_OTHER_ID} ({applicant.external_id})")
    if holders - {applicant.application_id}:
        reasons.append(f"{ID_HELD_ELSEWHERE} ({', '.join(sorted(holders - {applicant.application_id}))})")
    return reasons


def _holders_of_ids(applicants: list[Applicant]) -> dict[str, set[str]]:
    holders: dict[str, set[str]] = defaultdict(set)
    for applicant in applicants:
        if applicant.external_id:
            holders[id_key(applicant.external_id)].add(applicant.application_id)
    return holders


def _rows_of_ids(rows: list[RosterRow]) -> dict[str, list[int]]:
    rows_of_id: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        rows_of_id[id_key(row.sentral_id)].append(row.row)
    return rows_of_id
