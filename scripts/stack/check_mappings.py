"""Loads and validates every school's mapping files, so a broken file stops the stack at init.

Usage: ``python scripts/stack/check_mappings.py [MAPPINGS_FOLDER]``. The folder defaults to the one
``sentral.mappings`` would use (``$SENTRAL_MAPPINGS_DIR``, then ``include/mappings``). Each school
folder is checked offline: settings, lookup tables and the draft field map. What the tenant knows
(year levels, campuses, ...) is checked later, with both connections, by the ``sentral_preflight`` DAG.

Exits 1 and names the file and the fault when any school's mappings do not load.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger("check_mappings")


def check_all(root: Path) -> list[str]:
    """Every problem found under ``root``, one line per school; empty when all load."""
    from sentral.mappings import MappingError, load_school

    schools = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not schools:
        return [f"{root}: no school folders"]
    problems = []
    for school in schools:
        try:
            load_school(school, root)
        except MappingError as exc:
            problems.append(f"{school}: {exc}")
        else:
            log.info("mappings of %s load and validate", school)
    return problems


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from sentral.mappings import mappings_root

    root = mappings_root(argv[0] if argv else None)
    problems = check_all(root)
    for problem in problems:
        log.error("%s", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
