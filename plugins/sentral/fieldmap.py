"""The declarative draft field map: which EnrolHQ value fills which field of a Sentral enrolment draft.

Sentral publishes no schema for the draft's ``data``, so its shape is kept in one file per school,
``include/mappings/<school>/fields.yml``, that a school can correct against its own tenant. Each
section of the draft (``reference``, ``student``, ``enrolment``, ``contact`` for each parent or
guardian, ``address``, ``note``) maps a target field to a rule::

    student:
      first_name: {from: first_name, required: true}
      pref_name: preferred_name                # shorthand for {from: preferred_name}
      gender: {from: gender, lookup: genders, required: true}
    enrolment:
      campus_id: {from: campus, lookup: campuses, default: campus_id, required: true}
      is_boarding: {const: false}

Rule keys: ``from`` a dotted path into the source record; ``lookup`` a table of the school's
mappings (``year_levels`` for ``year_levels.csv``) that turns the EnrolHQ value into the Sentral one;
``default`` a key of ``defaults`` in ``school.yml``, used when the source value is empty; ``const`` a
literal; ``required`` (default false) fails the record when no value results; ``format`` one of
``str``, ``date`` (``YYYY-MM-DD``) or ``bool``. Fields with no value and not required are left out of
the draft.

This module renders one section at a time; the sync's payload builder composes the sections into the
whole draft (households, contacts, notes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from apicore.errors import FatalApiError

SECTIONS = ("reference", "student", "enrolment", "contact", "address", "note")
FORMATS = ("str", "date", "bool")
RULE_KEYS = ("from", "lookup", "default", "const", "required", "format")

_NO_CONST = object()
_TRUE_WORDS = {"true", "yes", "y", "1"}
_FALSE_WORDS = {"false", "no", "n", "0"}


class MappingError(ValueError):
    """A mapping file that cannot be used as it is; the message names the file, where, and the value.

    :param path: the file at fault.
    :param message: what is wrong, in words a data engineer can act on.
    :param line: the line of the file (1-based), when known.
    :param key: the key or column at fault, when there is one.
    """

    def __init__(self, path: str | Path, message: str, *, line: int | None = None, key: str | None = None):
        self.path = Path(path)
        self.line = line
        self.key = key
        self.message = message
        where = str(self.path)
        if line is not None:
            where += f", line {line}"
        if key:
            where += f", {key}"
        super().__init__(f"{where}: {message}")


class PayloadError(FatalApiError):
    """An application that cannot become a draft: a required value is missing, or a value is unmapped.

    Fatal: retrying cannot help until the application or the mappings change. The message names the
    application and the draft field, never the applicant's personal data.

    :param record_id: the EnrolHQ application id.
    :param field: the draft field, e.g. ``student.dob``.
    :param reason: what is wrong, e.g. ``is missing``.
    """

    def __init__(self, record_id: str, field: str, reason: str) -> None:
        super().__init__("EnrolHQ", f"application {record_id}: {field} {reason}")
        self.record_id = record_id
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class FieldRule:
    """How one target field of a draft section gets its value."""

    target: str
    source: tuple[str, ...] = ()
    lookup: str | None = None
    default: str | None = None
    const: Any = _NO_CONST
    required: bool = False
    format: str | None = None

    @property
    def has_const(self) -> bool:
        return self.const is not _NO_CONST

    @property
    def source_path(self) -> str:
        """The dotted source path as written in fields.yml."""
        return ".".join(self.source)


@dataclass(frozen=True)
class FieldMap:
    """A validated field map: per section, target field → :class:`FieldRule`, in file order."""

    path: Path
    sections: Mapping[str, tuple[FieldRule, ...]]

    @classmethod
    def load(cls, path: str | Path) -> FieldMap:
        """Read and validate a fields.yml; a :class:`MappingError` names the file and the key."""
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MappingError(path, "file not found") from None
        except yaml.YAMLError as exc:
            line = exc.problem_mark.line + 1 if getattr(exc, "problem_mark", None) else None
            raise MappingError(path, f"not valid YAML ({getattr(exc, 'problem', exc)})", line=line) from None
        return cls.from_dict(raw, path=path)

    @classmethod
    def from_dict(cls, raw: object, *, path: str | Path) -> FieldMap:
        """Validate an already-parsed field map; ``path`` names the file in errors."""
        path = Path(path)
        if not isinstance(raw, dict):
            raise MappingError(path, "expected a mapping of sections (reference, student, ...)")
        unknown = [name for name in raw if name not in SECTIONS]
        if unknown:
            raise MappingError(
                path, f"unknown section (expected one of {', '.join(SECTIONS)})", key=unknown[0]
            )
        missing = [name for name in SECTIONS if name not in raw]
        if missing:
            raise MappingError(path, "section is missing (write `{}` for an empty one)", key=missing[0])
        sections = {name: _parse_section(path, name, raw[name]) for name in SECTIONS}
        return cls(path=path, sections=sections)

    def rules(self, section: str) -> tuple[FieldRule, ...]:
        """The rules of one section, in file order."""
        try:
            return self.sections[section]
        except KeyError:
            raise KeyError(f"{section!r} is not a field map section ({', '.join(SECTIONS)})") from None

    def lookup_rules(self) -> list[tuple[str, FieldRule]]:
        """Every ``(section, rule)`` whose value goes through a lookup table."""
        return [(name, rule) for name, rules in self.sections.items() for rule in rules if rule.lookup]

    def lookups_used(self) -> set[str]:
        """Names of the lookup tables the map refers to."""
        return {rule.lookup for _section, rule in self.lookup_rules() if rule.lookup}

    def defaults_used(self) -> set[str]:
        """Keys of the school's ``defaults`` the map refers to."""
        return {rule.default for rules in self.sections.values() for rule in rules if rule.default}

    def render(
        self,
        section: str,
        source: Mapping[str, Any],
        *,
        lookups: Mapping[str, Any],
        defaults: Mapping[str, Any],
        record_id: str,
        label: str | None = None,
    ) -> dict[str, Any]:
        """One section of a draft, built from ``source``.

        :param section: which section of the map to apply, e.g. ``"student"``.
        :param source: the record the ``from`` paths read (an application, a parent, an address).
        :param lookups: table name → table with ``get(enrolhq_value)`` returning the Sentral value or None.
        :param defaults: the school's ``defaults`` (Sentral values, used as they are).
        :param record_id: the application id named in errors.
        :param label: how errors name the section, e.g. ``"contact (Parent 2)"``; defaults to ``section``.
        :raises PayloadError: a required value is missing or an EnrolHQ value has no mapping.
        """
        prefix = label or section
        rendered: dict[str, Any] = {}
        for rule in self.rules(section):
            value = _resolve(rule, source, lookups, defaults, record_id, f"{prefix}.{rule.target}")
            if value is not None:
                rendered[rule.target] = value
        return rendered


def _parse_section(path: Path, section: str, raw: object) -> tuple[FieldRule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise MappingError(path, "expected a mapping of target field → rule", key=section)
    return tuple(_parse_rule(path, f"{section}.{target}", str(target), spec) for target, spec in raw.items())


def _parse_rule(path: Path, key: str, target: str, spec: object) -> FieldRule:
    if isinstance(spec, str):
        spec = {"from": spec}
    if not isinstance(spec, dict):
        raise MappingError(path, f"expected a rule such as {{from: first_name}}, got {spec!r}", key=key)
    unknown = [name for name in spec if name not in RULE_KEYS]
    if unknown:
        raise MappingError(
            path, f"unknown rule key {unknown[0]!r} (allowed: {', '.join(RULE_KEYS)})", key=key
        )

    has_const = "const" in spec
    if has_const and any(name in spec for name in ("from", "lookup", "default")):
        raise MappingError(path, "`const` cannot be combined with from, lookup or default", key=key)
    if not has_const and "from" not in spec and "default" not in spec:
        raise MappingError(path, "a rule needs `from`, `default` or `const`", key=key)
    if "lookup" in spec and "from" not in spec:
        raise MappingError(path, "`lookup` needs `from` (the EnrolHQ value to look up)", key=key)

    for name in ("from", "lookup", "default"):
        if name in spec and (not isinstance(spec[name], str) or not spec[name].strip()):
            raise MappingError(path, f"`{name}` must be a non-empty name, got {spec[name]!r}", key=key)
    if not isinstance(spec.get("required", False), bool):
        raise MappingError(path, f"`required` must be true or false, got {spec['required']!r}", key=key)
    fmt = spec.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise MappingError(path, f"`format` must be one of {', '.join(FORMATS)}, got {fmt!r}", key=key)

    return FieldRule(
        target=target,
        source=tuple(spec["from"].strip().split(".")) if "from" in spec else (),
        lookup=spec.get("lookup"),
        default=spec.get("default"),
        const=spec["const"] if has_const else _NO_CONST,
        required=spec.get("required", False),
        format=fmt,
    )


def _resolve(
    rule: FieldRule,
    source: Mapping[str, Any],
    lookups: Mapping[str, Any],
    defaults: Mapping[str, Any],
    record_id: str,
    field: str,
) -> Any:
    if rule.has_const:
        value = rule.const
    else:
        value = value_at(source, rule.source) if rule.source else None
        if not _is_empty(value) and rule.lookup:
            value = _look_up(rule, value, lookups, record_id, field)
        if _is_empty(value) and rule.default:
            value = defaults.get(rule.default)

    if _is_empty(value):
        if rule.required:
            raise PayloadError(record_id, field, "is missing")
        return None
    return _format(rule.format, value, record_id, field)


def _look_up(rule: FieldRule, value: Any, lookups: Mapping[str, Any], record_id: str, field: str) -> Any:
    table = lookups.get(rule.lookup)
    if table is None:
        raise PayloadError(record_id, field, f"needs lookup table {rule.lookup}.csv, which is not loaded")
    key = _lookup_key(value)
    mapped = table.get(key)
    if mapped is None:
        # Lookup values are codes (year level, campus, relationship), not personal data.
        raise PayloadError(
            record_id, field, f"has EnrolHQ value {key!r}, which has no mapping in {rule.lookup}.csv"
        )
    return mapped


def _lookup_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def value_at(source: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at a dotted path of an EnrolHQ record, split into its parts; None where it stops."""
    value: Any = source
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | dict) and not value


def _format(fmt: str | None, value: Any, record_id: str, field: str) -> Any:
    if fmt is None:
        return value.strip() if isinstance(value, str) else value
    if fmt == "str":
        return str(value).strip()
    if fmt == "date":
        return _as_date(value, record_id, field)
    return _as_bool(value, record_id, field)


def _as_date(value: Any, record_id: str, field: str) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        # The value itself may be a date of birth: it stays out of the message.
        raise PayloadError(record_id, field, "is not a date (expected YYYY-MM-DD)") from None


def _as_bool(value: Any, record_id: str, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise PayloadError(record_id, field, "is not true or false")
