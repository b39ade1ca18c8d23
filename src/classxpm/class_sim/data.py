"""What the simulated Class holds, seeded from the demo data, and how each endpoint renders it.

The records are the demo generator's own rows (the ones ``classxpm demo-data`` writes to a Class database),
so a fund the API serves is the fund the database holds: same ids, codes, names, addresses and members.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from classxpm.source.demo_data import DEFAULT_SEED, DEMO_BUSINESS_NAME, generate

Row = dict[str, Any]
_ADDRESS_LINES = 4


@dataclass
class Fund:
    """One fund: its database-shaped row and its members' rows, in the database's order."""

    row: Row
    members: list[Row] = field(default_factory=list)

    @property
    def code(self) -> str:
        """The fund's code (the database's scope code), unique in its business."""
        return self.row["scope_code"]


@dataclass
class Business:
    """One Class business: its code, name and funds by code."""

    code: str
    name: str
    funds: dict[str, Fund] = field(default_factory=dict)


class ClassData:
    """Every business the simulated Class holds; safe to read and change from several request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.businesses: dict[str, Business] = {}

    def seed_demo(self, business_code: str, funds: int, seed: int = DEFAULT_SEED) -> Business:
        """Replace ``business_code``'s funds with ``funds`` demo funds (the same rows as ``demo-data``)."""
        business = Business(business_code, DEMO_BUSINESS_NAME)
        for chunk in generate(funds, seed):
            by_id = {row["fund_id"]: Fund(row) for row in chunk.funds}
            # Members in the order Class lists them: as they joined (the database source's order too).
            for member in sorted(chunk.members, key=lambda m: (m["created_at"], m["member_id"])):
                by_id[member["fund_id"]].members.append(member)
            business.funds.update((fund.code, fund) for fund in by_id.values())
        with self._lock:
            self.businesses[business_code] = business
        return business

    def business(self, code: str) -> Business | None:
        """The business with ``code`` (codes compare case-insensitively, as Class's URLs do)."""
        return next((b for key, b in self.businesses.items() if key.casefold() == code.casefold()), None)

    def update_fund(self, business_code: str, fund_code: str, fund: Row, members: Iterable[Row]) -> Fund:
        """Change a fund's values and its members' values (by member id); returns the fund.

        Raises:
            KeyError: No such business, fund or member.
        """
        with self._lock:
            business = self.business(business_code)
            if business is None or fund_code not in business.funds:
                raise KeyError(fund_code)
            target = business.funds[fund_code]
            target.row.update(fund)
            by_id = {member["member_id"]: member for member in target.members}
            for change in members:
                by_id[change["member_id"]].update(change)
            return target


def _masked(tfn: str | None, mask: bool) -> str | None:
    if tfn is None or not mask:
        return tfn
    return "*" * (len(tfn) - 3) + tfn[-3:]


def _address(row: Row, prefix: str) -> Row | None:
    street = row.get(f"{prefix}_address")
    if street is None and row.get(f"{prefix}_city") is None:
        return None
    lines = (street or "").split("\n")[:_ADDRESS_LINES]
    lines += [None] * (_ADDRESS_LINES - len(lines))
    return {
        "Addressee": None,
        **{f"Line{n}": line for n, line in enumerate(lines, start=1)},
        "Suburb": row.get(f"{prefix}_city"),
        "State": row.get(f"{prefix}_state"),
        "Postcode": row.get(f"{prefix}_postcode"),
    }


def _link(base: str, path: str, ident: str) -> Row:
    return {"Id": ident, "Url": f"{base}{path}"}


def fund_summary(business: Business, fund: Fund, base: str) -> Row:
    """A fund-list ``FundSummaries`` entry."""
    row = fund.row
    return {
        "Link": _link(base, f"/api/1.0/f/{business.code}/{fund.code}/fund-data/fund-detail", row["fund_id"]),
        "Status": "Active",
        "Code": fund.code,
        "Name": row["scope_description"],
        "Tags": [],
        "LegalEntityType": "SMSF",
        "BrandName": None,
        "ABN": row["abn"],
        "LastPeriodUpdateEndDate": None,
        "ProcessedToDate": None,
    }


def fund_export(fund: Fund, mask_tfns: bool) -> Row:
    """A fund-reference-data-export ``Data``: the fund, its addresses, trustee company and members."""
    row = fund.row
    physical, mailing = _address(row, "physical"), _address(row, "postal")
    acn = row.get("acn")
    return {
        "Code": fund.code,
        "Name": row["scope_description"],
        "LegalType": "SMSF",
        "ABN": row["abn"],
        "TFN": _masked(row["tfn"], mask_tfns),
        "Phone": row["phone"],
        "Fax": row["fax"],
        "Email": None,
        "URL": None,
        "PhysicalAddress": physical,
        "MailingAddress": mailing,
        "UsePhysicalAsMailing": physical is not None and physical == mailing,
        "TrusteeCompanyDetails": None
        if acn is None
        else {"Name": None, "ABN": None, "ACN": acn, "TFN": None},
        "MemberDetails": [_export_member(member) for member in fund.members],
    }


def _export_member(member: Row) -> Row:
    return {
        "Code": member["member_id"],
        "GivenName": member["first_name"],
        "FamilyName": member["last_name"],
        "Salutation": member["salutation"],
        "PreferredGreeting": member["preferred_name"],
        "PreferredSalutation": None,
        "Mobile": member["mobile"],
        "DirectPhone": member["direct_phone"],
        "Email": member["email"],
        "TFN": None,
    }


def fund_detail(business: Business, fund: Fund, base: str, *, mask_tfns: bool, addresses: bool) -> Row:
    """A fund-detail ``Data``; addresses only when the simulator is told fund-detail has them."""
    row = fund.row
    data: Row = {
        "Link": fund_summary(business, fund, base)["Link"],
        "Status": "Active",
        "FundDetails": {
            "Code": fund.code,
            "Name": row["scope_description"],
            "PreviousName": None,
            "Brand": None,
            "Tags": [],
            "LegalType": "SMSF",
            "Abn": row["abn"],
            "Tfn": _masked(row["tfn"], mask_tfns),
            "Sfn": None,
            "Asn": None,
            "OnSystemDate": row["created_at"].date().isoformat(),
        },
        "ContactDetails": {"Phone": row["phone"], "Url": None},
    }
    if addresses:
        data["PhysicalAddress"] = _address(row, "physical")
        data["MailingAddress"] = _address(row, "postal")
    return data


def member_summaries(business: Business, fund: Fund, base: str) -> Row:
    """A member-list ``Data``."""
    path = f"/api/1.0/f/{business.code}/{fund.code}/member-data/member-detail/"
    return {
        "MemberSummaries": [
            {
                "Link": _link(base, path + member["member_id"], member["member_id"]),
                "Status": "Active",
                "DefaulDisplayName": f"{member['first_name']} {member['last_name']}",
                "MemberNumber": str(number),
            }
            for number, member in enumerate(fund.members, start=1)
        ]
    }


def member_detail(member: Row, number: int, *, email: bool) -> Row:
    """A member-detail ``Data``; the email only when the simulator is told member-detail has it."""
    invitation = {"PersistedEmailAddress": member["email"]} if email else {}
    return {
        "PersonalDetails": {
            "Title": member["salutation"],
            "FirstName": member["first_name"],
            "MiddleNames": None,
            "LastName": member["last_name"],
            "Gender": None,
            "DateOfBirth": None,
            "PreferredSalutation": None,
            "PreferredName": member["preferred_name"],
        },
        "MembersDetails": {"Number": str(number), "JoinFundDate": None, "LeaveFundDate": None},
        "ContactDetails": {
            "HomePhone": None,
            "WorkPhone": None,
            "Mobile": member["mobile"],
            "Direct": member["direct_phone"],
            "InvitationDetails": invitation,
        },
    }
