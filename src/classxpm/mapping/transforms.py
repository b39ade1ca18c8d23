"""Text cleaning applied to every mapped value, and the closed set of transforms a mapping may name.

Cleaning removes what XML 1.0 cannot carry or XPM would show as garbage (control characters,
surrogates, U+FFFE/U+FFFF). Everything else is kept exactly: ``&``, ``<``, apostrophes, accents and
emoji pass through, because escaping is the XML layer's job.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from classxpm.identifiers import normalise

_WORD_BREAKS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]")
_LINE_BREAKS = re.compile(r"\r\n?|[\v\f\x85\u2028\u2029]")
_SPACE_RUNS = re.compile(r"[ \t]+")
_NONCHARACTERS = {"\ufffe", "\uffff"}
_MAY_NEED_CLEANING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
"""Every character ``clean`` could change (Cc, Cs, the two noncharacters, tabs and line breaks), found by one
regular-expression scan: most values hold none and go back as they are."""


class TransformProblem(ValueError):
    """A value a transform cannot turn into what the field needs; the reason never quotes the value."""


def clean(text: str, *, multiline: bool) -> tuple[str, bool]:
    r"""Remove control characters, keeping line breaks only where the field is multi-line.

    Tabs and line breaks separate words, so outside multi-line fields they become a space rather than
    vanishing; in multi-line fields every line break becomes ``\n`` and tabs become a space.

    Args:
        text: The raw value.
        multiline: Whether the XPM element keeps line breaks (addresses).

    Returns:
        The cleaned text, and whether anything other than a plain ``\n`` line break was changed.
    """
    if not _MAY_NEED_CLEANING.search(text):
        return text, False
    spaced = _LINE_BREAKS.sub("\n", text).replace("\t", " ") if multiline else _WORD_BREAKS.sub(" ", text)
    kept = "".join(char for char in spaced if char == "\n" or not _unsendable(char))
    changed = kept != (text.replace("\r\n", "\n") if multiline else text)
    return kept, changed


def _unsendable(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cs"} or char in _NONCHARACTERS


def _collapse_whitespace(text: str) -> str:
    lines = (_SPACE_RUNS.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _digits_only(text: str) -> str:
    digits = normalise(text)
    if digits and not (digits.isascii() and digits.isdigit()):
        raise TransformProblem("must hold only digits, spaces and hyphens")
    return digits


TRANSFORMS: dict[str, Callable[[str], str]] = {
    "strip": str.strip,
    "collapse_whitespace": _collapse_whitespace,
    "upper": str.upper,
    "digits_only": _digits_only,
}
