"""Names in comparable form, for matching students across Sentral and EnrolHQ.

A name is folded (accents, case, apostrophes and hyphens removed) and expanded into every key it may
be written as: the whole surname and each part of a compound one, the whole given name and its first
word, and both spellings of a letter without a plain ASCII form. A given name also equals its short
forms: a known nickname (:data:`NICKNAMES`) or its first three or more letters ("Sam" for "Samuel").
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from difflib import SequenceMatcher
from functools import lru_cache

# Names at least this similar (difflib ratio) with the rest exact make a near miss for review.
NEAR_MISS_RATIO = 0.75

# Given names and the short forms families use for them. A roster often carries the short form as the
# first name while the application carries the full one. Extend it with a school's own usage.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "alexander": ("alex", "xander", "sasha"),
    "alexandra": ("alex", "lexi", "sasha"),
    "amelia": ("millie", "amy", "mia"),
    "anthony": ("tony",),
    "benjamin": ("ben", "benji"),
    "catherine": ("cate", "cathy", "kate", "katie"),
    "charles": ("charlie", "chas"),
    "charlotte": ("lottie", "charlie"),
    "christopher": ("chris", "kit"),
    "daniel": ("dan", "danny"),
    "edward": ("ed", "eddie", "ted", "ned"),
    "eleanor": ("ellie", "nell", "nora"),
    "elizabeth": ("liz", "lizzie", "beth", "eliza", "libby"),
    "frances": ("fran", "frankie"),
    "francesca": ("fran", "frankie", "chessie"),
    "francis": ("frank", "frankie"),
    "frederick": ("fred", "freddie"),
    "harrison": ("harry",),
    "henry": ("harry", "hal"),
    "isabella": ("izzy", "bella", "isa"),
    "isabelle": ("izzy", "belle"),
    "james": ("jim", "jimmy", "jamie"),
    "jessica": ("jess", "jessie"),
    "jonathan": ("jon", "jonny"),
    "joseph": ("joe", "joey"),
    "joshua": ("josh",),
    "katherine": ("kate", "katie", "kat"),
    "lachlan": ("lachie", "lochie"),
    "lucia": ("lucy",),
    "mackenzie": ("kenzie",),
    "margaret": ("maggie", "meg", "peggy"),
    "matilda": ("tilly", "tillie"),
    "matthew": ("matt",),
    "maximilian": ("max",),
    "michael": ("mike", "mikey", "mick"),
    "nicholas": ("nick", "nico"),
    "oliver": ("ollie", "olly"),
    "olivia": ("liv", "livvy", "ollie"),
    "patrick": ("paddy", "pat"),
    "penelope": ("penny", "pip"),
    "rafael": ("rafa",),
    "robert": ("rob", "bob", "bobby", "robbie"),
    "samantha": ("sam", "sammy"),
    "samuel": ("sam", "sammy"),
    "theodore": ("theo", "teddy"),
    "thomas": ("tom", "tommy"),
    "victoria": ("tori", "vicky"),
    "william": ("will", "bill", "billy", "liam"),
    "zachary": ("zac", "zach"),
}

# A given name this long or longer that begins another is its short form ("Sam" for "Samuel").
SHORT_FORM_MIN = 3

# Surname particles that are never a surname on their own when a compound surname is split.
_PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "da", "di", "du", "la", "le", "el"})
_LETTERS_NFKD_KEEPS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i"})
_DROPPED = re.compile(r"['’‘`ʼ.]")
_SEPARATORS = re.compile(r"[-‐‑‒–—_,/]")


def fold(text: str | None, *, drop_non_ascii: bool = False) -> str:
    """A name in comparable form: no accents, lower case, apostrophes dropped, hyphens as spaces.

    :param drop_non_ascii: drop letters that have no plain ASCII form (``ø``, ``ł``) instead of
        spelling them out, as exports that cannot encode them do ("Jørgensen" as "Jrgensen").
    """
    if not text:
        return ""
    return _fold(text, drop_non_ascii)


# Rosters repeat the same given names and surnames thousands of times; folding each once is enough.
@lru_cache(maxsize=65536)
def _fold(text: str, drop_non_ascii: bool) -> str:
    plain = text.casefold()
    if not plain.isascii():
        if not drop_non_ascii:
            plain = plain.translate(_LETTERS_NFKD_KEEPS)
        decomposed = unicodedata.normalize("NFKD", plain)
        plain = "".join(char for char in decomposed if not unicodedata.combining(char))
        if drop_non_ascii:
            plain = plain.encode("ascii", "ignore").decode("ascii")
    return " ".join(_SEPARATORS.sub(" ", _DROPPED.sub("", plain)).split())


def _spellings(text: str | None) -> set[str]:
    # Both spellings are kept: letters spelled out, and letters dropped; for most names they agree.
    return {folded for folded in (fold(text), fold(text, drop_non_ascii=True)) if folded}


def name_key(text: str | None) -> str:
    """A name folded and without spaces: ``"Van-der Berg"`` and ``"vanderberg"`` are the same key."""
    return fold(text).replace(" ", "")


@lru_cache(maxsize=65536)
def surname_variants(*surnames: str | None) -> frozenset[str]:
    """Every key a surname may be written as: the whole surname and each part of a compound one."""
    variants = set()
    for surname in surnames:
        for folded in _spellings(surname):
            variants.add(folded.replace(" ", ""))
            variants.update(part for part in folded.split() if len(part) > 1 and part not in _PARTICLES)
    return frozenset(variants)


@lru_cache(maxsize=65536)
def given_variants(*names: str | None) -> frozenset[str]:
    """Every key a given name may be written as: the whole name and its first word."""
    variants = set()
    for name in names:
        for folded in _spellings(name):
            variants.add(folded.replace(" ", ""))
            variants.add(folded.split()[0])
    return frozenset(variants)


def _short_forms_of() -> dict[str, frozenset[str]]:
    related: dict[str, set[str]] = defaultdict(set)
    for full, short_forms in NICKNAMES.items():
        for short in short_forms:
            related[full].add(short)
            related[short].add(full)
    return {name: frozenset(others) for name, others in related.items()}


_RELATED_NAMES = _short_forms_of()


def same_given_name(left: frozenset[str], right: frozenset[str]) -> bool:
    """Whether two sets of given-name keys share a name, a known short form, or a prefix short form."""
    if left & right:
        return True
    for one in left:
        related = _RELATED_NAMES.get(one, frozenset())
        for other in right:
            if other in related:
                return True
            shorter, longer = sorted((one, other), key=len)
            if len(shorter) >= SHORT_FORM_MIN and longer.startswith(shorter):
                return True
    return False


def similar(left: frozenset[str], right: frozenset[str]) -> bool:
    """Whether any key of one set is close (difflib ratio :data:`NEAR_MISS_RATIO`) to one of the other."""
    for one in left:
        for other in right:
            if SequenceMatcher(None, one, other).ratio() >= NEAR_MISS_RATIO:
                return True
    return False
