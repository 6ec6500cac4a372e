"""Creates the ledger's tables before the stack's workers start.

``sentral.state.get_engine()`` creates missing tables on first use, which is right for one machine.
On a cluster, several task processes reach that first use at the same moment, and two concurrent
``CREATE TABLE`` statements on PostgreSQL make one of them fail. Running this once from the init
step leaves every worker with tables that already exist.

The ledger database is chosen as everywhere else: the ``sentral_ledger`` connection, then
``SENTRAL_LEDGER_URL``, then SQLite under ``AIRFLOW_HOME``.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

log = logging.getLogger("prepare_ledger")

# Packages whose modules declare tables; each is imported so that every declaration is seen.
PACKAGES = ("sentral", "enrolhq")


def import_table_declarations() -> list[str]:
    """Imports every module of :data:`PACKAGES` and returns their names."""
    imported = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__, prefix=f"{package_name}."):
            importlib.import_module(module.name)
            imported.append(module.name)
    return imported


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import_table_declarations()

    from enrolhq.tokens import SqlTokenStore
    from sentral.state import get_engine, metadata

    engine = get_engine()
    # The token store keeps its table on its own metadata and creates it on construction.
    token_store = SqlTokenStore(engine)
    tables = sorted([*metadata.tables, token_store.table.name])
    log.info("ledger tables present: %s", ", ".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
