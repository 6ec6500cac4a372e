"""How fast roster matching is: 20,000 roster rows against 20,000 applications, and the naive way.

Run: ``.venv/bin/python benchmarks/roster_match.py [--size 20000] [--sample 2000] [--seed 7]``

Prints one JSON object: wall and CPU seconds and peak memory of the whole match at full size, matches
found, and, on a sample, the CPU time of finding every exact pair by comparing every roster row with
every application, as a ratio to finding the same pairs through the index (both counts are printed,
and must agree). The data is generated here, deterministically from the seed: most roster
rows are applicants written the way a Sentral export writes them (other case, accents dropped,
hyphens as spaces, preferred names), the rest are students who never applied.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT / "plugins", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sandbox import names  # noqa: E402
from sentral.matching import (  # noqa: E402
    Applicant,
    ApplicantIndex,
    compare_people,
    match_roster,
    person_of_applicant,
    person_of_row,
)
from sentral.roster import RosterRow  # noqa: E402

_SYLLABLES = ["an", "bel", "cor", "dal", "en", "fer", "gar", "hol", "is", "jen", "kal", "lor", "mar", "nor"]
_SYLLABLES += ["ol", "pet", "quin", "ros", "sal", "tor", "ul", "ven", "wal", "yar", "zed", "ash", "bri"]


def _surnames(rng: random.Random, count: int) -> list[str]:
    # The sandbox pool is small, so a school-sized roster needs many more surnames to be realistic.
    made = set(names.SURNAMES)
    while len(made) < count:
        made.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize())
    return sorted(made)


def generate(size: int, seed: int) -> tuple[list[RosterRow], list[Applicant]]:
    """``size`` applications and ``size`` roster rows, 90 % of the rows being applicants."""
    rng = random.Random(seed)
    surnames = _surnames(rng, 4000)
    givens = names.GIRLS + names.BOYS
    first_day = date(2008, 1, 1)
    applicants = []
    for number in range(size):
        given = rng.choice(givens)
        applicants.append(
            Applicant(
                application_id=f"app-{number:06d}",
                first_name=given,
                last_name=rng.choice(surnames),
                dob=first_day + timedelta(days=rng.randrange(13 * 365)),
                preferred_name=names.NICKNAMES.get(given, "") if rng.random() < 0.2 else "",
                status=4,
            )
        )

    rows = []
    enrolled = rng.sample(applicants, int(size * 0.9))
    for number, applicant in enumerate(enrolled):
        rows.append(_as_exported(applicant, number, rng))
    for number in range(len(enrolled), size):
        rows.append(
            RosterRow(
                row=number + 2,
                sentral_id=str(100000 + number),
                first_name=rng.choice(givens),
                last_name=rng.choice(surnames),
                dob=first_day + timedelta(days=rng.randrange(13 * 365)),
            )
        )
    return rows, applicants


def _as_exported(applicant: Applicant, number: int, rng: random.Random) -> RosterRow:
    last_name = applicant.last_name
    style = rng.random()
    if style < 0.2:
        last_name = last_name.upper()
    elif style < 0.3:
        last_name = last_name.replace("-", " ").replace("'", "")
    first_name = applicant.first_name
    preferred = ""
    if applicant.first_name in names.NICKNAMES and rng.random() < 0.3:
        preferred = names.NICKNAMES[applicant.first_name]
    return RosterRow(
        row=number + 2,
        sentral_id=str(100000 + number),
        first_name=first_name,
        last_name=last_name,
        dob=applicant.dob,  # type: ignore[arg-type]
        preferred_name=preferred,
    )


def naive_exact_pairs(rows: list[RosterRow], applicants: list[Applicant]) -> int:
    """The reference: compare every roster row with every application."""
    row_people = [person_of_row(row) for row in rows]
    applicant_people = [person_of_applicant(applicant) for applicant in applicants]
    found = 0
    for row_person in row_people:
        for applicant_person in applicant_people:
            if (
                row_person.dob == applicant_person.dob
                and compare_people(row_person, applicant_person) == "exact"
            ):
                found += 1
    return found


def indexed_exact_pairs(rows: list[RosterRow], applicants: list[Applicant]) -> int:
    """The same count through the index, to show both ways find the same pairs."""
    index = ApplicantIndex(applicants)
    found = 0
    for row in rows:
        person = person_of_row(row)
        found += sum(
            1
            for position in index.candidates(person)
            if compare_people(person, index.people[position]) == "exact"
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rows, applicants = generate(args.size, args.seed)

    started, cpu_started = time.perf_counter(), time.process_time()
    result = match_roster(rows, applicants)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started

    tracemalloc.start()
    match_roster(rows, applicants)
    _current, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # The ratio compares like with like: finding every exact pair, through the index or through all pairs
    # (CPU time, so that other work on a shared machine does not tilt it).
    sample_rows, sample_applicants = generate(args.sample, args.seed)
    sample_result = match_roster(sample_rows, sample_applicants)
    started = time.process_time()
    indexed_pairs = indexed_exact_pairs(sample_rows, sample_applicants)
    sample_indexed = time.process_time() - started
    started = time.process_time()
    naive_pairs = naive_exact_pairs(sample_rows, sample_applicants)
    sample_naive = time.process_time() - started
    # All-pairs work grows with the square of the size, so the sample's time scales by that.
    naive_full = sample_naive * (args.size / args.sample) ** 2

    print(
        json.dumps(
            {
                "benchmark": "roster_match",
                "roster_rows": len(rows),
                "applications": len(applicants),
                "seconds": round(seconds, 3),
                # On a shared machine wall time includes waiting for a core; CPU time does not.
                "cpu_seconds": round(cpu_seconds, 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "match_traced_peak_mb": round(traced_peak / 2**20, 1),
                "matches_found": len(result.matches),
                "review": len(result.review),
                "unmatched_rows": len(result.unmatched_rows),
                "unmatched_applications": len(result.unmatched_applications),
                "sample_size": args.sample,
                "sample_indexed_cpu_seconds": round(sample_indexed, 3),
                "sample_naive_cpu_seconds": round(sample_naive, 3),
                "naive_to_indexed_ratio": round(sample_naive / sample_indexed, 1),
                "naive_full_size_estimate_cpu_seconds": round(naive_full, 1),
                "naive_to_indexed_ratio_full_size_estimate": round(naive_full / cpu_seconds, 1),
                "sample_matches_found": len(sample_result.matches),
                "sample_naive_exact_pairs": naive_pairs,
                "sample_indexed_exact_pairs": indexed_pairs,
                "python": platform.python_version(),
                "machine": platform.machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
