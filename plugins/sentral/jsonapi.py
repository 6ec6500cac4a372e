"""Reading Sentral's JSON:API documents: resources, their relationships, and error objects.

Sentral answers with JSON:API documents (``data``, ``included``, ``links``, ``meta``, ``errors``). This
module turns them into :class:`Resource` objects with related resources already looked up in the
document's ``included`` list, so that callers never walk the raw document. It knows nothing about
HTTP; :mod:`sentral.client` calls it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str]
Linkage = Key | list[Key] | None
RelationshipIds = str | list[str] | None


class DocumentError(ValueError):
    """A document that does not have the JSON:API shape this module reads."""


@dataclass
class Resource:
    """One JSON:API resource object.

    :param type: the resource type, e.g. ``"student"`` or ``"studentEnrolmentDraft"``.
    :param id: the resource id; Sentral's ids are integers serialised as strings.
    :param attributes: the resource's attributes, as sent.
    :param relationships: relationship name → the related id (to-one), the list of ids (to-many),
        or None (an empty to-one). A relationship sent with links only and no ``data`` is left out.
    :param included: relationship name → the related :class:`Resource` (to-one), the list of related
        resources (to-many), or None (an empty to-one), for the relationships whose targets the
        document's ``included`` list carried. A to-many relationship lists the targets found there.
    """

    type: str
    id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    relationships: dict[str, RelationshipIds] = field(default_factory=dict)
    # Related resources may point back (student → person → student), so they stay out of == and repr.
    included: dict[str, Resource | list[Resource] | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    def get(self, name: str, default: Any = None) -> Any:
        """The attribute ``name``, or ``default`` when the resource does not carry it."""
        return self.attributes.get(name, default)

    def __getitem__(self, name: str) -> Any:
        try:
            return self.attributes[name]
        except KeyError:
            raise KeyError(f"{self.type} {self.id} has no attribute {name!r}") from None

    def related(self, name: str) -> Resource | list[Resource] | None:
        """The included resource(s) of relationship ``name``; None when the document did not include them."""
        return self.included.get(name)


@dataclass(frozen=True)
class _Parsed:
    """A resource together with the (type, id) keys of its relationships, used to resolve includes."""

    resource: Resource
    linkages: dict[str, Linkage]


def parse_resources(document: Mapping[str, Any]) -> list[Resource]:
    """The resources of a collection document (``data`` is a list), with their includes resolved."""
    data = _data_of(document)
    if not isinstance(data, list):
        raise DocumentError("expected a list of resources under 'data'")
    parsed = _parse_all(data, "data")
    _resolve(parsed, _included_index(document))
    return [item.resource for item in parsed]


def parse_resource(document: Mapping[str, Any]) -> Resource:
    """The resource of a single-resource document (``data`` is an object), with its includes resolved."""
    data = _data_of(document)
    if not isinstance(data, Mapping):
        raise DocumentError("expected one resource object under 'data'")
    parsed = _parse_object(data, "data")
    _resolve([parsed], _included_index(document))
    return parsed.resource


def next_link(document: Mapping[str, Any]) -> str | None:
    """The absolute URL of the next page, or None on the last page."""
    links = document.get("links")
    if not isinstance(links, Mapping):
        return None
    link = links.get("next")
    # JSON:API allows a link object ({"href": ...}) as well as a plain URL.
    if isinstance(link, Mapping):
        link = link.get("href")
    return link or None


def error_details(document: Any) -> list[str]:
    """One readable line per JSON:API error object: where (field pointer or parameter), then what.

    Returns an empty list when the document carries no ``errors`` array.
    """
    if not isinstance(document, Mapping):
        return []
    errors = document.get("errors")
    if not isinstance(errors, list):
        return []
    return [_describe_error(error) for error in errors if isinstance(error, Mapping)]


def _describe_error(error: Mapping[str, Any]) -> str:
    text = error.get("detail") or error.get("title") or error.get("code") or "no detail given"
    source = error.get("source")
    if isinstance(source, Mapping):
        if source.get("pointer"):
            return f"{source['pointer']}: {text}"
        if source.get("parameter"):
            return f"query parameter {source['parameter']}: {text}"
    return str(text)


def _data_of(document: Mapping[str, Any]) -> Any:
    if not isinstance(document, Mapping) or "data" not in document:
        raise DocumentError("the document has no 'data' member")
    return document["data"]


def _parse_all(objects: list[Any], label: str) -> list[_Parsed]:
    return [_parse_object(obj, f"{label}[{n}]") for n, obj in enumerate(objects)]


def _parse_object(obj: Any, where: str) -> _Parsed:
    if not isinstance(obj, Mapping):
        raise DocumentError(f"{where} is not a resource object")
    if not obj.get("type") or obj.get("id") is None:
        raise DocumentError(f"{where} lacks a 'type' or an 'id'")
    attributes = obj.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise DocumentError(f"{where}.attributes is not an object")
    linkages = _linkages(obj.get("relationships") or {}, where)
    resource = Resource(
        type=str(obj["type"]),
        id=str(obj["id"]),
        attributes=dict(attributes),
        relationships={name: _ids_of(keys) for name, keys in linkages.items()},
    )
    return _Parsed(resource, linkages)


def _linkages(relationships: Any, where: str) -> dict[str, Linkage]:
    if not isinstance(relationships, Mapping):
        raise DocumentError(f"{where}.relationships is not an object")
    linkages: dict[str, Linkage] = {}
    for name, rel in relationships.items():
        if not isinstance(rel, Mapping) or "data" not in rel:
            continue
        data = rel["data"]
        if data is None:
            linkages[name] = None
        elif isinstance(data, list):
            linkages[name] = [_key_of(item, where, name) for item in data]
        else:
            linkages[name] = _key_of(data, where, name)
    return linkages


def _key_of(linkage: Any, where: str, name: str) -> Key:
    if not isinstance(linkage, Mapping) or not linkage.get("type") or linkage.get("id") is None:
        raise DocumentError(f"{where}.relationships.{name} holds a linkage without 'type' and 'id'")
    return str(linkage["type"]), str(linkage["id"])


def _ids_of(keys: Linkage) -> RelationshipIds:
    if keys is None:
        return None
    if isinstance(keys, list):
        return [key[1] for key in keys]
    return keys[1]


def _included_index(document: Mapping[str, Any]) -> dict[Key, _Parsed]:
    included = document.get("included") or []
    if not isinstance(included, list):
        raise DocumentError("'included' is not a list")
    parsed = _parse_all(included, "included")
    index = {(item.resource.type, item.resource.id): item for item in parsed}
    # Included resources may relate to each other (person → primaryHousehold); they share the index.
    _resolve(parsed, index)
    return index


def _resolve(parsed: Iterable[_Parsed], index: Mapping[Key, _Parsed]) -> None:
    for item in parsed:
        for name, keys in item.linkages.items():
            if keys is None:
                item.resource.included[name] = None
            elif isinstance(keys, list):
                found = [index[key].resource for key in keys if key in index]
                if found or not keys:
                    item.resource.included[name] = found
            elif keys in index:
                item.resource.included[name] = index[keys].resource
