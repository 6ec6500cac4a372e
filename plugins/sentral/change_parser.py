"""Reading EnrolHQ's audit change sentences into field, old value and new value.

EnrolHQ's audit log describes each change as an English sentence, not as structured data. The forms
read here are the ones in docs/api-surface.md; the real service's wording is a **Guess**, so every
sentence that fits none of them comes back as an unrecognised change holding the sentence verbatim,
and callers report it as it is rather than drop it.

Quoted values may carry quotes of their own (a name such as ``=HYPERLINK("x")``). A value written
with backslash escapes (``\\"``) is read exactly; a value with bare inner quotes is still read, by
taking the last ``" to "`` as the separator, which is the one ambiguity the unescaped form allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What a sentence says happened to a field."""

    CHANGED = "changed"
    SET = "set"
    CLEARED = "cleared"
    ADDED = "added"
    REMOVED = "removed"
    UNRECOGNISED = "unrecognised"


# The kinds of person EnrolHQ reports as added or removed, and the field label each is reported under.
PERSON_KINDS = {
    "guardian": "Guardian",
    "emergency contact": "Emergency contact",
    "parent": "Parent",
}


@dataclass(frozen=True)
class ParsedChange:
    """One change sentence, read.

    :param action: what happened; ``UNRECOGNISED`` when the sentence fits no known form.
    :param field: the field label as EnrolHQ wrote it (``"Mobile phone"``), or None when unrecognised.
    :param old: the value before, "" when the field was empty, None when unrecognised.
    :param new: the value after, "" when the field was cleared, None when unrecognised.
    :param sentence: the sentence exactly as the audit log gave it.
    """

    action: Action
    field: str | None
    old: str | None
    new: str | None
    sentence: str

    @property
    def recognised(self) -> bool:
        return self.action is not Action.UNRECOGNISED


_ESCAPED = r'"((?:[^"\\]|\\.)*)"'
_BARE = r'"(.*)"'
# A label never holds a quote, which keeps a quoted value from being read as part of the label.
_LABEL = r'(?P<field>[^"]+?)'
_KINDS = "|".join(re.escape(kind) for kind in sorted(PERSON_KINDS, key=len, reverse=True))


def _forms(value: str) -> list[tuple[Action, re.Pattern[str]]]:
    return [
        (Action.CHANGED, re.compile(rf"Changed {_LABEL} from {value} to {value}", re.DOTALL)),
        (Action.SET, re.compile(rf"Set {_LABEL} to {value}", re.DOTALL)),
        (Action.CLEARED, re.compile(rf"Cleared {_LABEL} \(was {value}\)", re.DOTALL)),
        (Action.ADDED, re.compile(rf"Added (?P<field>{_KINDS}) {value}", re.DOTALL | re.IGNORECASE)),
        (Action.REMOVED, re.compile(rf"Removed (?P<field>{_KINDS}) {value}", re.DOTALL | re.IGNORECASE)),
    ]


# Escaped values first: they are unambiguous, and a value without quotes or backslashes reads the
# same either way.
_ESCAPED_FORMS = _forms(_ESCAPED)
_BARE_FORMS = _forms(_BARE)
_ESCAPE = re.compile(r"\\([\"\\])")


def parse_change(sentence: str) -> ParsedChange:
    """Read one change sentence.

    :param sentence: one element of an audit entry's ``changes`` list.
    """
    text = sentence.strip()
    for forms, unescape in ((_ESCAPED_FORMS, True), (_BARE_FORMS, False)):
        for action, pattern in forms:
            match = pattern.fullmatch(text)
            if match:
                return _read(action, match, sentence, unescape=unescape)
    return ParsedChange(Action.UNRECOGNISED, None, None, None, sentence)


def parse_changes(sentences: list[str] | None) -> list[ParsedChange]:
    """Read every sentence of one audit entry, in order; an entry with no sentences gives none.

    :param sentences: the entry's ``changes`` list.
    """
    return [parse_change(sentence) for sentence in sentences or []]


def _read(action: Action, match: re.Match[str], sentence: str, *, unescape: bool) -> ParsedChange:
    values = [_ESCAPE.sub(r"\1", v) if unescape else v for v in match.groups()[1:]]
    field = match.group("field").strip()
    if action is Action.CHANGED:
        old, new = values
    elif action is Action.SET:
        old, new = "", values[0]
    elif action is Action.CLEARED:
        old, new = values[0], ""
    elif action is Action.ADDED:
        field, old, new = PERSON_KINDS[field.lower()], "", values[0]
    else:
        field, old, new = PERSON_KINDS[field.lower()], values[0], ""
    return ParsedChange(action, field, old, new, sentence)
