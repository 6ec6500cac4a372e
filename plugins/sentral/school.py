"""One school as the pipelines see it: its validated mappings, both API clients and the ledger database.

Tasks start with ``school = open_school(name)``; the clients are built on first use, so a task that
only reads the configuration never touches a connection.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sentral.mappings import SchoolConfig, load_school

if TYPE_CHECKING:
    import sqlalchemy as sa

    from enrolhq.client import EnrolHQClient
    from sentral.client import SentralClient

log = logging.getLogger(__name__)


class School:
    """A school's configuration with lazily built clients.

    :param config: the school's validated mappings.
    :param ledger_url: the ledger database URL; by default :func:`sentral.state.get_engine` decides.
    """

    def __init__(self, config: SchoolConfig, *, ledger_url: str | None = None) -> None:
        self.config = config
        self._ledger_url = ledger_url

    def __repr__(self) -> str:
        return f"School({self.config.school!r})"

    @property
    def name(self) -> str:
        """The school key (its mappings folder name)."""
        return self.config.school

    @cached_property
    def engine(self) -> sa.Engine:
        """The ledger database, shared by every school of the deployment."""
        from sentral.state import get_engine

        return get_engine(self._ledger_url)

    @cached_property
    def enrolhq(self) -> EnrolHQClient:
        """The EnrolHQ client; its access token is shared with every worker through the ledger database."""
        from enrolhq.hook import EnrolHQHook
        from enrolhq.tokens import SqlTokenStore

        conn_id = self.config.enrolhq_conn_id
        log.debug("building the EnrolHQ client of %s from connection %s", self.name, conn_id)
        return EnrolHQHook(conn_id).get_client(token_store=SqlTokenStore(self.engine))

    @cached_property
    def sentral(self) -> SentralClient:
        """The Sentral client."""
        from sentral.hook import SentralHook

        conn_id = self.config.sentral_conn_id
        log.debug("building the Sentral client of %s from connection %s", self.name, conn_id)
        return SentralHook(conn_id).get_client()


def open_school(name: str, *, root: str | Path | None = None, ledger_url: str | None = None) -> School:
    """Load a school's mappings (validated) and return it with lazily built clients.

    :param name: the school key, i.e. its folder under the mappings root.
    :param root: the mappings root; see :func:`sentral.mappings.mappings_root` for the default.
    :param ledger_url: the ledger database URL; see :mod:`sentral.state` for the default.
    :raises MappingError: when the school's mappings are missing or invalid.
    """
    return School(load_school(name, root=root), ledger_url=ledger_url)
