"""Australian identifiers: TFN, ABN and ACN normalisation, check digits and masking.

The algorithms and test vectors are in ``shared/reference/domain.md``. Eight-digit TFNs use the
ATO's own weights (10, 7, 8, 4, 6, 3, 5, 1), chosen over python-stdnum's reuse of the 9-digit weights:
the ATO form is what older TFNs were issued under.
"""

from __future__ import annotations

import re

TFN9_WEIGHTS = (1, 4, 3, 7, 5, 8, 6, 9, 10)
TFN8_WEIGHTS = (10, 7, 8, 4, 6, 3, 5, 1)
ABN_WEIGHTS = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)
ACN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 1)

_SEPARATORS = re.compile(r"[\s\-]")
_DIGIT_RUN = re.compile(r"\d(?:[\s-]?\d){7,}")


def normalise(value: object) -> str:
    """Strip spaces and hyphens, which are formatting, not content.

    Args:
        value: The identifier as entered; None becomes the empty string.

    Returns:
        The identifier with every space and hyphen removed.
    """
    if value is None:
        return ""
    return _SEPARATORS.sub("", str(value))


def _weighted_sum(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True))


def _plausible(digits: str, length: int) -> bool:
    """Right length, digits only, and not one repeated digit (those pass the sums by accident)."""
    return len(digits) == length and digits.isascii() and digits.isdigit() and len(set(digits)) > 1


def is_valid_tfn(value: object) -> bool:
    """Return True when ``value`` is a well-formed Tax File Number (8 or 9 digits, mod-11)."""
    digits = normalise(value)
    if _plausible(digits, 9):
        return _weighted_sum(digits, TFN9_WEIGHTS) % 11 == 0
    if _plausible(digits, 8):
        return _weighted_sum(digits, TFN8_WEIGHTS) % 11 == 0
    return False


def is_valid_abn(value: object) -> bool:
    """Return True when ``value`` is a well-formed Australian Business Number (11 digits, mod-89)."""
    digits = normalise(value)
    if not _plausible(digits, 11):
        return False
    adjusted = str(int(digits[0]) - 1) + digits[1:] if digits[0] != "0" else None
    return adjusted is not None and _weighted_sum(adjusted, ABN_WEIGHTS) % 89 == 0


def is_valid_acn(value: object) -> bool:
    """Return True when ``value`` is a well-formed Australian Company Number (9 digits, mod-10)."""
    digits = normalise(value)
    if not _plausible(digits, 9):
        return False
    check = (10 - _weighted_sum(digits[:8], ACN_WEIGHTS) % 10) % 10
    return check == int(digits[8])


def code_key(code: object) -> str:
    """The one match key of a fund's code: trimmed and case-folded, so `` fund1`` and ``FUND1`` are one.

    Serves every place that finds a fund by its code: the ``fund_codes`` filter, the validation gate's
    uniqueness rule, matching XPM clients by ExportCode and finding a create whose answer was lost.
    """
    return str(code or "").strip().casefold()


def mask_tfn(value: object) -> str:
    """Mask a TFN the way XPM does on read: every digit but the last three becomes ``*``.

    Args:
        value: A TFN in any format; None or blank gives the empty string.

    Returns:
        For example ``******782`` for ``123 456 782``. Values shorter than four characters are fully
        masked, so a short fragment never shows in clear.
    """
    digits = normalise(value.reveal() if isinstance(value, Tfn) else value)
    if not digits:
        return ""
    if len(digits) < 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 3) + digits[-3:]


class Tfn:
    """A tax file number (or any value a mapping marks sensitive) whose text form is always masked.

    ``str``, ``repr``, ``format`` and f-strings show it as XPM does (``******782``), so a log line, an
    exception message or a report cannot print it in clear by accident; json and MessagePack refuse it.
    :meth:`reveal` is the one way to the clear value, for building the XML sent to XPM, hashing with the
    keyed HMAC and encrypting at rest.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.reveal() if isinstance(value, Tfn) else value

    def reveal(self) -> str:
        """Return the value in clear: only where it leaves for XPM, is hashed, or is encrypted."""
        return self._value

    @property
    def masked(self) -> str:
        """The value as XPM shows it on read."""
        return mask_tfn(self._value)

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"Tfn({self.masked!r})"

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Tfn):
            return self._value == other._value
        return isinstance(other, str) and self._value == other

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __copy__(self) -> Tfn:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Tfn:
        return self

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Tfn is never pickled: encrypt its revealed value instead")


def reveal(value: object) -> object:
    """Return ``value`` with a :class:`Tfn` unwrapped to its clear text; anything else as it is."""
    return value.reveal() if isinstance(value, Tfn) else value


def mask_digit_runs(text: str) -> str:
    """Hide every run of eight or more digits (spaces and hyphens allowed between them) in free text.

    For messages that may quote a value, such as an error text from XPM: a TFN in them is never shown.
    """
    return _DIGIT_RUN.sub("########", text)
