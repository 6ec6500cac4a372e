"""Setting up a run of the application sync: its session for one school, and which applications it syncs.

Kept apart from :mod:`sentral.sync` so the steps stay readable on their own; the DAG's tasks and the
throughput benchmark both start here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sentral.ledger import Ledger
from sentral.sync import RunSettings, SyncSession
from sentral.sync_rules import DocumentRules

log = logging.getLogger(__name__)


def open_session(school: Any, settings: RunSettings) -> SyncSession:
    """A session for one school (a :class:`sentral.school.School`) and one run.

    :param school: the school, with its configuration and lazily built clients.
    :param settings: this run's settings.
    """
    from sentral.payload import DraftRules, build_draft

    config = school.config
    rules = DraftRules(fieldmap=config.fields, lookups=config.lookups, defaults=config.defaults)
    categories = config.lookup("document_categories")
    return SyncSession(
        school=school.name,
        enrolhq=school.enrolhq,
        sentral=school.sentral,
        ledger=Ledger(school.engine, school.name),
        settings=settings,
        build_draft=lambda application, family, notes: build_draft(application, family, rules, notes),
        document_rules=DocumentRules(
            categories={entry.enrolhq_value: entry.sentral_value for entry in categories}
            if categories
            else {},
            max_bytes=int(config.settings.documents.max_size_mb * 1024 * 1024),
        ),
        offer_accepted_field=(
            config.settings.offer_accepted_field if config.settings.require_offer_accepted else None
        ),
    )


def select_applications(
    session: SyncSession, statuses: Sequence[int], requested: Sequence[str] = ()
) -> list[str]:
    """The applications this run syncs: eligible ones, narrowed to ``requested`` when it names any.

    Eligible: a status in ``statuses``, no external ID, and not already synced according to the ledger.
    Whether the offer was accepted is read from the application in detail, so ``prepare`` checks it.
    :param statuses: the EnrolHQ status ids that make an application eligible.
    :param requested: application ids named by the person who triggered the run.
    """
    finished = session.ledger.finished_application_ids()
    eligible = [
        str(summary["id"])
        for summary in session.enrolhq.iter_applications(statuses=statuses, has_external_id=False)
        if not summary.get("external_id") and str(summary["id"]) not in finished
    ]
    if requested:
        wanted = {str(application_id) for application_id in requested}
        for application_id in sorted(wanted - set(eligible)):
            log.warning(
                "application %s was requested but is not eligible or is already synced", application_id
            )
        eligible = [application_id for application_id in eligible if application_id in wanted]
    log.info("%s applications selected for the sync", len(eligible))
    return eligible
