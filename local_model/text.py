"""Small, deterministic text utilities the policy uses to read a user's request."""

from __future__ import annotations

import re

CLAUSE_SPLIT = re.compile(r"\s+and\s+|\s+then\s+|[,;?]|\.(?=\s|$)", re.IGNORECASE)
WORD = re.compile(r"[a-z0-9]+")
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")
EXPRESSION = re.compile(r"[\d\s+\-*/().^%]+")
OPERATOR = re.compile(r"\d\s*[+\-*/^%]\s*[\d(]|\)\s*[+\-*/^%]")

_STOP_WORDS_TEXT = """
    a about above after again all also am an any are as at be been before being below between
    both but by can could did do does doing down during each few for from further get gets got
    had has have having he her here hers him his how i if in into is it its itself just let me
    more most my no nor not now of off on once only or other our out over own please same she
    should so some such tell than that the their them then there these they this those through
    to too under until up use using very want was we were what whats when where which while who
    whom why will with would you your yours s t d ll m re ve
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

SUFFIXES = (
    *("ations", "ation", "ators", "ator", "ating", "ated", "ates", "ate", "ings", "ing"),
    *("ions", "ion", "ers", "ors", "ies", "ed", "es", "er", "or", "s"),
)

ARITHMETIC_WORDS = frozenset({"calculate", "compute", "evaluate", "math", "arithmetic", "expr"})
"""Words a clause holding an arithmetic expression implicitly contains."""


def clauses(text: str) -> list[str]:
    """The request split into the parts that may each need their own tool call."""
    return [part.strip() for part in CLAUSE_SPLIT.split(text) if part and part.strip()]


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words, in order."""
    return WORD.findall(text.lower())


def stem(word: str) -> str:
    """A crude stem, so `calculate`, `calculator` and `calculation` compare equal."""
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def meaningful_stems(text: str) -> set[str]:
    """Stems of the words in `text` that carry meaning (no stop words, no bare numbers)."""
    return {stem(word) for word in words(text) if word not in STOP_WORDS and not word.isdigit()}


def numbers(text: str) -> list[float]:
    """Every number in the text, in order."""
    return [float(found) for found in NUMBER.findall(text)]


def expressions(text: str) -> list[str]:
    """Arithmetic substrings (digits and operators), longest first."""
    found = [part.strip() for part in EXPRESSION.findall(text)]
    candidates = [part for part in found if any(ch.isdigit() for ch in part)]
    return sorted(candidates, key=len, reverse=True)


def has_arithmetic(text: str) -> bool:
    """True when the text holds something like `2 + 3`."""
    return any(OPERATOR.search(candidate) for candidate in expressions(text))


def strip_words(text: str, drop_stems: set[str]) -> str:
    """The text without stop words and words whose stem is in `drop_stems`."""
    kept: list[str] = []
    for token in text.split():
        bare = token.strip(".,;:!?\"'()[]{}")
        lowered = bare.lower()
        if not bare or lowered in STOP_WORDS or lowered.replace("'", "") in STOP_WORDS:
            continue
        if all(stem(word) in drop_stems for word in words(lowered)):
            continue
        kept.append(bare)
    return " ".join(kept)


def shorten(text: str, limit: int) -> str:
    """The text cut to `limit` characters with an ellipsis when it was longer."""
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."
