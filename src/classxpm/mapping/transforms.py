"""Text cleaning applied to every mapped value, and the closed set of transforms a mapping may name.

Cleaning removes what XML 1.0 cannot carry or XPM would show as garbage (control characters,
surrogates, U+FFFE/U+FFFF). Everything else is kept exactly: ``&``, ``<``, apostrophes, accents and
emoji pass through, because escaping is the XML layer's job.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from classxpm.errors import RecordRefused
from classxpm.identifiers import normalise

_WORD_BREAKS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]")
_LINE_BREAKS = re.compile(r"\r\n?|[\v\f\x85\u2028\u2029]")
_SPACE_RUNS = re.compile(r"[ \t]+")
_MAY_NEED_CLEANING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
"""Every character ``clean`` could change (Cc, Cs, the two noncharacters, tabs and line breaks), found by one
regular-expression scan: most values hold none and go back as they are."""
_MAY_NEED_CLEANING_MULTILINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]"
)
"""The same less ``\\n``, which multi-line fields keep: an address with plain line breaks goes back as is."""
_UNSENDABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
"""Unicode's Cc (U+0000-U+001F, U+007F-U+009F) and Cs (U+D800-U+DFFF), fixed ranges, and U+FFFE/U+FFFF."""
_UNSENDABLE_BUT_LINE_BREAK = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class TransformProblem(RecordRefused, ValueError):
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
    if multiline:
        if not _MAY_NEED_CLEANING_MULTILINE.search(text):
            return text, False
        kept = _UNSENDABLE_BUT_LINE_BREAK.sub("", _LINE_BREAKS.sub("\n", text).replace("\t", " "))
        return kept, kept != text.replace("\r\n", "\n")
    if not _MAY_NEED_CLEANING.search(text):
        return text, False
    kept = _UNSENDABLE.sub("", _WORD_BREAKS.sub(" ", text))
    return kept, kept != text


def _collapse_whitespace(text: str) -> str:
    if "\n" not in text:
        # One line: the same as the general case below, without building the generators.
        return (_SPACE_RUNS.sub(" ", text) if "\t" in text or "  " in text else text).strip()
    lines = (_SPACE_RUNS.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _digits_only(text: str) -> str:
    if text.isascii() and text.isdigit():
        return text
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
