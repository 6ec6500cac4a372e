"""The sync's rules about one application's content: which documents go, whether the offer is accepted.

Pure functions of EnrolHQ records and school settings, used by :mod:`sentral.sync` when it prepares an
application and by its dry run to show what would be sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sentral.fieldmap import value_at
from sentral.ledger import DocumentPlan


@dataclass(frozen=True)
class DocumentRules:
    """Which EnrolHQ documents go to Sentral, and where.

    :param categories: EnrolHQ document kind (``group_kind``) → Sentral document category id.
    :param max_bytes: the largest file sent; larger ones are reported and skipped.
    """

    categories: Mapping[str, str]
    max_bytes: int


def offer_accepted(application: Mapping[str, Any], path: str | None) -> bool:
    """Whether the application's offer was accepted: the value at ``path`` is set (None: always)."""
    if path is None:
        return True
    return bool(value_at(application, path.split(".")))


def plan_documents(documents: Sequence[Mapping[str, Any]], rules: DocumentRules) -> list[DocumentPlan]:
    """The verified documents of an application, each either to send (with its category) or skipped.

    Unverified documents are left out altogether: they are not ready to be anyone's record.
    :param documents: the application's EnrolHQ documents.
    :param rules: the school's document categories and size limit.
    """
    plans = []
    for document in documents:
        if not document.get("is_verified"):
            continue
        kind = document.get("group_kind")
        size = document.get("size")
        category = rules.categories.get(kind) if kind else None
        reason = None
        if category is None:
            reason = f"no Sentral category is mapped for document kind {kind or '(none)'}"
        elif size is not None and int(size) > rules.max_bytes:
            reason = f"{int(size)} bytes is over the {rules.max_bytes} byte limit"
        plans.append(
            DocumentPlan(
                document_id=str(document["id"]),
                file_name=str(document.get("filename") or f"document-{document['id']}"),
                size=int(size) if size is not None else None,
                kind=kind,
                category_id=None if reason else str(category),
                skip_reason=reason,
            )
        )
    return plans


def flatten(value: Any, prefix: str = "") -> list[list[Any]]:
    """A draft as ``[field path, value]`` pairs, e.g. ``["households[0].contacts[1].email", "..."]``."""
    if isinstance(value, Mapping):
        pairs: list[list[Any]] = []
        for key in value:
            pairs.extend(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    if isinstance(value, list) and value:
        pairs = []
        for n, item in enumerate(value):
            pairs.extend(flatten(item, f"{prefix}[{n}]"))
        return pairs
    return [[prefix, value]]
