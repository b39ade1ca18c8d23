"""Every validation rule of the gate, in one table a data engineer can read and extend.

A rule has a name, a message in plain words that shows the value at fault (never a secret one: the TFN),
what to change in Class to fix it, a severity (a blocking rule quarantines the fund, a warning
only reports it), the frame it checks (funds or members; member rules are attributed to their fund) and
the Great Expectations expectation that implements it. Built-in GX expectations are used where they fit;
the check digits are the named custom expectations of ``classxpm.validation.expectations``.

GX never sees the source frames themselves, only a *view* holding the columns the rules name: blank
text counts as missing, and a few derived columns (``DERIVED``) turn row-wise logic into plain columns.

To add a rule: append a ``Rule`` to ``RULES``; if it needs a computed column, add it to ``DERIVED``.
This module imports neither pandas nor GX, so it is cheap to import anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from classxpm.identifiers import code_key

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.expectations.expectation import ColumnMapExpectation


class Severity(StrEnum):
    """What a broken rule does to the fund."""

    BLOCKING = "blocking"
    WARNING = "warning"


class Frame(StrEnum):
    """Which source frame a rule checks."""

    FUNDS = "funds"
    MEMBERS = "members"


STATE_CODES = ("NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT", "JBT")
POSTCODE = r"^\d{4}$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# 0X XXXX XXXX, (0X) XXXX XXXX, 04XX XXX XXX, +61 X XXXX XXXX, 1300/1800 XXX XXX, 13 XX XX.
PHONE = (
    r"^(?:(?:0[2-578]|\(0[2-578]\))(?:[ -]?\d){8}"
    r"|\+61[ -]?(?:\(0\)[ -]?)?[2-578](?:[ -]?\d){8}"
    r"|1[38]00(?:[ -]?\d){6}"
    r"|13(?:[ -]?\d){4})$"
)
_STATES = " ".join(STATE_CODES)
PHONE_EXAMPLE = "e.g. 02 9876 5432, 0412 345 678 or +61 2 9876 5432"

# Australia Post ranges. Some postcodes cross a border, which is why a mismatch is only a warning.
POSTCODE_RANGES: Mapping[str, tuple[tuple[int, int], ...]] = {
    "NSW": ((1000, 2599), (2619, 2899), (2921, 2999)),
    "ACT": ((200, 299), (2600, 2618), (2900, 2920)),
    "VIC": ((3000, 3999), (8000, 8999)),
    "QLD": ((4000, 4999), (9000, 9999)),
    "SA": ((5000, 5999),),
    "WA": ((6000, 6999),),
    "TAS": ((7000, 7999),),
    "NT": ((800, 999),),
    "JBT": ((2540, 2540),),
}

SECRET_COLUMNS = frozenset({"tfn"})
"""Source columns whose values no message, report or log may show."""

MEMBER = "member"
"""The placeholder that names a member in a message (``member_label``), never by their id."""

FUNDS_INDEX = ("fund_id", "scope_code")
MEMBERS_INDEX = ("fund_id", "member_id")


@dataclass(frozen=True)
class Rule:
    """One validation rule.

    Attributes:
        name: A stable identifier, used in validation.json and as the expectation's ``meta.rule``.
        message: What is wrong, in plain words; ``{column}`` shows that source column's value at fault
            (never one of ``SECRET_COLUMNS``) and ``{member}`` names the member (``member_label``).
        severity: BLOCKING quarantines the fund; WARNING only reports it.
        frame: The frame the rule checks.
        expectation: The expectation class name, from ``great_expectations.expectations`` or
            ``classxpm.validation.expectations``.
        column: The view column the expectation checks (a source column or a ``DERIVED`` one).
        options: Further keyword arguments for the expectation (``value_set``, ``regex``...).
        fix: What to change in Class, in plain words.
    """

    name: str
    message: str
    severity: Severity
    frame: Frame
    expectation: str
    column: str
    options: Mapping[str, Any] = field(default_factory=dict)
    fix: str = ""

    def __post_init__(self) -> None:
        secret = SECRET_COLUMNS & set(self.shown)
        if secret:
            raise ValueError(f"rule {self.name} would show {', '.join(sorted(secret))}: never shown")

    @property
    def shown(self) -> tuple[str, ...]:
        """The source columns whose values the message shows (``member`` aside)."""
        return tuple(name for name in re.findall(r"\{(\w+)\}", self.message) if name != MEMBER)

    @property
    def blocking(self) -> bool:
        """True when breaking the rule quarantines the fund."""
        return self.severity is Severity.BLOCKING

    @property
    def summary(self) -> str:
        """The message with any placeholder shown as an ellipsis, e.g. ``member … has no name``."""
        return re.sub(r"\{\w+\}", "…", self.message)

    def describe(self, row: Mapping[str, Any]) -> str:
        """The message for one failing source row, with the values at fault and what to change in Class.

        Args:
            row: The failing row's source columns (a member row for member rules).
        """
        values = {name: shown_value(row.get(name)) for name in self.shown}
        if self.frame is Frame.MEMBERS:
            values[MEMBER] = member_label(row)
        problem = self.message.format_map(values)
        return f"{problem}: {self.fix}" if self.fix else problem

    def build(self) -> ColumnMapExpectation:
        """Create the GX expectation for this rule (imports GX: call it inside tasks only)."""
        import great_expectations as gx

        from classxpm.validation import expectations as custom

        factory = getattr(custom, self.expectation, None) or getattr(gx.expectations, self.expectation)
        severity = "critical" if self.blocking else "warning"
        return factory(column=self.column, meta={"rule": self.name}, severity=severity, **self.options)


BLOCKING, WARNING = Severity.BLOCKING, Severity.WARNING
FUNDS, MEMBERS = Frame.FUNDS, Frame.MEMBERS

RULES: tuple[Rule, ...] = (
    # Blocking: the fund is quarantined, not sent, and picked up again once it is fixed in Class.
    Rule("tfn_check_digit", "TFN fails its check digit", BLOCKING, FUNDS,
         "ExpectColumnValuesToBeValidAuTfnOrEmpty", "tfn",
         fix="correct the fund's TFN in Class, or clear it if it has none"),
    Rule("abn_check_digit", "ABN {abn} fails its check digit", BLOCKING, FUNDS,
         "ExpectColumnValuesToBeValidAbnOrEmpty", "abn",
         fix="correct the fund's ABN in Class (11 digits, as on the ABN Lookup), or clear it"),
    Rule("acn_check_digit", "ACN {acn} fails its check digit", BLOCKING, FUNDS,
         "ExpectColumnValuesToBeValidAcnOrEmpty", "acn",
         fix="correct the fund's ACN in Class (9 digits, as ASIC has it), or clear it"),
    Rule("fund_name_present", "fund name is missing", BLOCKING, FUNDS,
         "ExpectColumnValuesToNotBeNull", "scope_description", fix="enter the Fund Name in Class"),
    Rule("scope_code_present", "scope code is missing", BLOCKING, FUNDS,
         "ExpectColumnValuesToNotBeNull", "scope_code", fix="enter the Fund Scope Code in Class"),
    Rule("scope_code_unique", "scope code {scope_code} is used by another fund", BLOCKING, FUNDS,
         "ExpectColumnValuesToBeUnique", "scope_code_key",
         fix="give each fund its own Fund Scope Code in Class (XPM ignores case and spaces around it)"),
    # Warnings: reported; the fund is still sent.
    Rule("member_named", "member {member} has no name", WARNING, MEMBERS,
         "ExpectColumnValuesToNotBeNull", "member_name",
         fix="enter the member's first or last name in Class; until then the member alone is not sent"),
    Rule("physical_state_code", "physical address state {physical_state} is not a state code", WARNING,
         FUNDS, "ExpectColumnValuesToBeInSet", "physical_state", {"value_set": STATE_CODES},
         fix=f"set the fund's physical address state in Class to one of {_STATES}"),
    Rule("postal_state_code", "postal address state {postal_state} is not a state code", WARNING,
         FUNDS, "ExpectColumnValuesToBeInSet", "postal_state", {"value_set": STATE_CODES},
         fix=f"set the fund's postal address state in Class to one of {_STATES}"),
    Rule("physical_postcode_format", "physical address postcode {physical_postcode} is not 4 digits",
         WARNING, FUNDS, "ExpectColumnValuesToMatchRegex", "physical_postcode", {"regex": POSTCODE},
         fix="correct the fund's physical address postcode in Class"),
    Rule("postal_postcode_format", "postal address postcode {postal_postcode} is not 4 digits",
         WARNING, FUNDS, "ExpectColumnValuesToMatchRegex", "postal_postcode", {"regex": POSTCODE},
         fix="correct the fund's postal address postcode in Class"),
    Rule("physical_state_postcode",
         "physical address postcode {physical_postcode} is not in {physical_state}", WARNING, FUNDS,
         "ExpectColumnValuesToBeInSet", "physical_postcode_in_state", {"value_set": (True,)},
         fix="correct the postcode or the state of the fund's physical address in Class"),
    Rule("postal_state_postcode",
         "postal address postcode {postal_postcode} is not in {postal_state}", WARNING, FUNDS,
         "ExpectColumnValuesToBeInSet", "postal_postcode_in_state", {"value_set": (True,)},
         fix="correct the postcode or the state of the fund's postal address in Class"),
    Rule("fund_phone_format", "fund phone {phone} is not an Australian phone number", WARNING, FUNDS,
         "ExpectColumnValuesToMatchRegex", "phone", {"regex": PHONE},
         fix=f"correct the fund's phone in Class ({PHONE_EXAMPLE})"),
    Rule("fund_fax_format", "fund fax {fax} is not an Australian phone number", WARNING, FUNDS,
         "ExpectColumnValuesToMatchRegex", "fax", {"regex": PHONE},
         fix=f"correct the fund's fax in Class ({PHONE_EXAMPLE}), or clear it"),
    Rule("member_email_format", "email {email} of member {member} is not an email address", WARNING,
         MEMBERS, "ExpectColumnValuesToMatchRegex", "email", {"regex": EMAIL},
         fix="correct the member's email in Class (name@example.com.au)"),
    Rule("member_mobile_format", "mobile {mobile} of member {member} is not an Australian phone number",
         WARNING, MEMBERS, "ExpectColumnValuesToMatchRegex", "mobile", {"regex": PHONE},
         fix=f"correct the member's mobile in Class ({PHONE_EXAMPLE})"),
    Rule("member_phone_format",
         "direct phone {direct_phone} of member {member} is not an Australian phone number", WARNING,
         MEMBERS, "ExpectColumnValuesToMatchRegex", "direct_phone", {"regex": PHONE},
         fix=f"correct the member's direct phone in Class ({PHONE_EXAMPLE})"),
)  # fmt: skip


class Withheld:
    """A value never shown: not secret by its column, yet it holds a TFN's digits (a TFN typed as an ABN)."""

    def __str__(self) -> str:
        return "(withheld: it holds a TFN's digits)"


def shown_value(value: object) -> str:
    """A source value (None when missing) as a message shows it: quoted as Class holds it, or ``(blank)``."""
    if isinstance(value, Withheld):
        return str(value)
    if value is None or not str(value).strip():
        return "(blank)"
    return f'"{str(value).strip()}"'


def member_label(row: Mapping[str, Any]) -> str:
    """Name a member for people, never by id: their name, else preferred name, email or phone."""
    name = " ".join(_text(row.get(part)) for part in ("first_name", "last_name") if _text(row.get(part)))
    if name:
        return name
    for column, words in (
        ("preferred_name", "known as"),
        ("email", "with email"),
        ("mobile", "with mobile"),
        ("direct_phone", "with phone"),
    ):
        if _text(row.get(column)):
            return f"{words} {_text(row.get(column))}"
    return "with no name, email or phone"


def _text(value: object) -> str:
    return str(value).strip() if isinstance(value, str) else ""


@cache
def states_of_postcode(postcode: str) -> frozenset[str]:
    """Return the state codes whose Australia Post ranges hold ``postcode`` (a 4-digit string)."""
    number = int(postcode)
    return frozenset(
        state for state, ranges in POSTCODE_RANGES.items() if any(lo <= number <= hi for lo, hi in ranges)
    )


def postcode_in_state(state: object, postcode: object) -> bool | None:
    """True or False when both parts are well formed; None when either is missing or malformed.

    A malformed state or postcode is already a warning of its own, so it is not counted twice.
    """
    if state not in STATE_CODES or not isinstance(postcode, str) or not re.fullmatch(POSTCODE, postcode):
        return None
    return state in states_of_postcode(postcode)


def _postcode_in_state(kind: str) -> Callable[[pd.DataFrame], list[bool | None]]:
    def derive(frame: pd.DataFrame) -> list[bool | None]:
        pairs = zip(frame[f"{kind}_state"], frame[f"{kind}_postcode"], strict=True)
        return [postcode_in_state(state, postcode) for state, postcode in pairs]

    return derive


def _member_name(frame: pd.DataFrame) -> pd.Series:
    joined = frame["first_name"].fillna("").astype("string").str.cat(frame["last_name"].fillna(""), sep=" ")
    return blank_as_missing(joined.str.strip())


def _scope_code_key(frame: pd.DataFrame) -> pd.Series:
    """Each scope code's match key (``code_key``): ``FUND1`` and `` fund1`` are the same code."""
    import pandas as pd

    codes = frame["scope_code"]
    keys = [None if pd.isna(code) else code_key(code) for code in codes.to_numpy(dtype=object)]
    return blank_as_missing(pd.Series(keys, index=codes.index, dtype="string"))


@dataclass(frozen=True)
class Derived:
    """A view column computed from source columns (already blank-as-missing)."""

    sources: tuple[str, ...]
    compute: Callable[[pd.DataFrame], Any]


DERIVED: Mapping[str, Derived] = {
    "scope_code_key": Derived(("scope_code",), _scope_code_key),
    "member_name": Derived(("first_name", "last_name"), _member_name),
    "physical_postcode_in_state": Derived(
        ("physical_state", "physical_postcode"), _postcode_in_state("physical")
    ),
    "postal_postcode_in_state": Derived(("postal_state", "postal_postcode"), _postcode_in_state("postal")),
}


def rules_for(frame: Frame, rules: Iterable[Rule] = RULES) -> tuple[Rule, ...]:
    """Return the rules that check ``frame``, in table order."""
    return tuple(rule for rule in rules if rule.frame is frame)


def index_columns(frame: Frame) -> tuple[str, ...]:
    """The columns that identify a failing row of ``frame`` (never the value that failed)."""
    return FUNDS_INDEX if frame is Frame.FUNDS else MEMBERS_INDEX


def source_columns(rule: Rule) -> tuple[str, ...]:
    """The source columns a rule reads, through its derived column if it has one."""
    derived = DERIVED.get(rule.column)
    return derived.sources if derived else (rule.column,)


def required_columns(frame: Frame, rules: Iterable[Rule] = RULES) -> dict[str, list[Rule]]:
    """Map each source column ``frame`` must have to the rules that need it (index columns: none)."""
    needed: dict[str, list[Rule]] = {name: [] for name in index_columns(frame)}
    for rule in rules_for(frame, rules):
        for name in source_columns(rule):
            needed.setdefault(name, []).append(rule)
    return needed


def blank_as_missing(column: pd.Series) -> pd.Series:
    """Return the column with empty and whitespace-only text turned into missing values."""
    # A plain loop: pandas' string methods on python-backed strings cost several times more here.
    blank = [isinstance(value, str) and not value.strip() for value in column.to_numpy(dtype=object)]
    return column.mask(blank) if any(blank) else column


def build_view(source: pd.DataFrame, frame: Frame, rules: Iterable[Rule] = RULES) -> pd.DataFrame:
    """Return the frame GX validates: only the columns the rules need, blanks missing, derived added.

    Args:
        source: The funds or members frame with the Class source columns.
        frame: Which of the two it is.
        rules: The rules to serve (default: all).

    Returns:
        A new frame with a fresh 0..n-1 index; ``source`` is not modified.
    """
    rules = rules_for(frame, rules)
    view = source[list(required_columns(frame, rules))].reset_index(drop=True)
    view = view.apply(blank_as_missing)
    for rule in rules:
        derived = DERIVED.get(rule.column)
        if derived is not None:
            view[rule.column] = derived.compute(view)
    return view
