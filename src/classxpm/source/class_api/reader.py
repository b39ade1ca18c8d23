"""Read one Class business through the API into the database source's chunks of fund and member rows.

Per business: the fund list (one call; Class pages nothing and filters no date), then per fund either
the reference-data export (one call) or, where ``fund.read`` is not granted, fund-detail, member-list and
each member-detail. Funds are read a few at a time; the client keeps Class's rate window. No change feed
exists, so every run reads every fund: the planner compares each fund's mapped hash with the last run's,
and only changed funds go on to XPM.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from classxpm.identifiers import code_key
from classxpm.mapping.api_source import ApiSourceMapping, PlanMapping, column_values, pick
from classxpm.source.class_api.client import ClassApiClient
from classxpm.source.class_api.errors import ClassNotFound, ClassResponseError, ClassTokenRejected
from classxpm.source.extract import FundChunk
from classxpm.source.schema import column_names, funds, members
from classxpm.sync.progress import Progress

log = logging.getLogger(__name__)

CHUNK_SIZE = 500
EXPORT_SCOPES = frozenset({"fund.read", "fund.maintain"})
FUND_ORDER = column_names(funds)
MEMBER_ORDER = column_names(members)


@dataclass
class BusinessRead:
    """What reading a business found: its chunks (fund-id order), the codes it lacks, and the calls made."""

    chunks: list[FundChunk] = field(default_factory=list)
    unmatched_codes: list[str] = field(default_factory=list)
    plan: str = "export"


class BusinessReader:
    """Reads one business's funds with one client (one business's token)."""

    def __init__(
        self,
        client: ClassApiClient,
        mapping: ApiSourceMapping,
        *,
        scopes: frozenset[str],
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.client, self.mapping, self.chunk_size = client, mapping, chunk_size
        config = client.config
        self.plan = config.plan
        if self.plan == "export" and scopes and not scopes & EXPORT_SCOPES:
            log.warning(
                "Class granted no fund.read: reading fund-detail and member-detail instead (more calls)"
            )
            self.plan = "detail"
        self.code = client.business_code

    def fund_summaries(self) -> list[dict[str, Any]]:
        """The business's fund list, in fund-id order (either shape Class may give ``Data``).

        Raises:
            ClassResponseError: ``Data`` holds no ``FundSummaries`` list.
        """
        data = self.client.get(f"b/{self.code}/fund-data/fund-list", "fund-list")
        if isinstance(data, list):  # the spec wraps the object in an array (reference §6, §8.3)
            data = data[0] if len(data) == 1 else {}
        summaries = data.get("FundSummaries") if isinstance(data, dict) else None
        if not isinstance(summaries, list) or not all(isinstance(s, dict) for s in summaries):
            raise ClassResponseError("fund-list: Class's Data holds no FundSummaries list")
        return sorted(summaries, key=lambda s: str(pick(s, "Link.Id") or ""))

    def read(self, business_id: str, fund_codes: Sequence[str] = ()) -> BusinessRead:
        """Read the business's funds (only ``fund_codes`` when given) into chunks of database rows."""
        summaries = self.fund_summaries()
        result = BusinessRead(plan=self.plan)
        if fund_codes:
            wanted = {code_key(code) for code in fund_codes}
            found = {code_key(str(s.get("Code") or "")) for s in summaries}
            result.unmatched_codes = [code for code in fund_codes if code_key(code) not in found]
            summaries = [s for s in summaries if code_key(str(s.get("Code") or "")) in wanted]
        calls_per_fund = 1 if self.plan == "export" else 4
        progress = Progress(
            len(summaries),
            len(summaries) * calls_per_fund,
            self.client.config.minute_limit,
            step_name="extract",
            call_name="Class calls (estimated)",
        )
        with ThreadPoolExecutor(
            self.client.config.concurrency, thread_name_prefix="classxpm-class-api"
        ) as pool:
            for start in range(0, len(summaries), self.chunk_size):
                chunk = FundChunk(funds=[])
                for fund, fund_members, problems in pool.map(
                    self._fund, summaries[start : start + self.chunk_size]
                ):
                    chunk.funds.append(_ordered(fund, FUND_ORDER, business_id=business_id))
                    chunk.members[fund["fund_id"]] = [
                        _ordered(m, MEMBER_ORDER, fund_id=fund["fund_id"]) for m in fund_members
                    ]
                    if problems:
                        chunk.problems[fund["fund_id"]] = problems
                    progress.step(1)
                result.chunks.append(chunk)
        result.plan = self.plan
        return result

    def _fund(self, summary: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
        code, plan = str(summary.get("Code") or ""), self.plan
        try:
            document = self._export(code) if plan == "export" else self._detail(code)
        except ClassTokenRejected:
            if plan != "export":
                raise
            if self.plan == "export":  # funds read at the same time meet the same refusal: say it once
                log.warning(
                    "Class refused the reference-data export (scope not granted): reading the details"
                )
                self.plan = "detail"
            plan, document = "detail", self._detail(code)
        except ClassNotFound as exc:
            problem = f"class_api: fund {code}: {exc}; the fund is held back this run"
            return self._rows(plan, {"Summary": summary}, [problem])
        return self._rows(plan, {"Summary": summary, **document}, [])

    def _export(self, code: str) -> dict[str, Any]:
        data = self.client.get(f"f/{self.code}/{code}/fund-data/fund-reference-data-export", "fund export")
        if isinstance(data, dict) and data.get("UsePhysicalAsMailing") and not data.get("MailingAddress"):
            data["MailingAddress"] = data.get("PhysicalAddress")
        return {"Export": data}

    def _detail(self, code: str) -> dict[str, Any]:
        base = f"f/{self.code}/{code}"
        detail = self.client.get(f"{base}/fund-data/fund-detail", "fund-detail")
        listed = self.client.get(f"{base}/member-data/member-list", "member-list")
        entries = listed.get("MemberSummaries") if isinstance(listed, dict) else None
        found = []
        for entry in entries if isinstance(entries, list) else []:
            ident = pick(entry, "Link.Id")
            data = self.client.get(f"{base}/member-data/member-detail/{ident}", "member-detail")
            found.append({"Summary": entry, "Detail": data})
        return {"Detail": detail, "Members": found}

    def _rows(
        self, plan_name: str, document: dict[str, Any], problems: list[str]
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
        plan: PlanMapping = self.mapping.plans[plan_name]  # type: ignore[index]
        country, odd = self.mapping.default_country, []
        fund = column_values(plan.fund, document, country, odd)
        code = fund.get("scope_code") or "(no code)"
        listed = pick(document, plan.members) if len(document) > 1 else []
        member_rows = []
        for entry in listed if isinstance(listed, list) else []:
            member = column_values(plan.member, entry, country, odd)
            if member["member_id"] is None:
                problems.append(f"class_api: fund {code}: a member without an id")
                continue
            member_rows.append(member)
        problems += [f"class_api: fund {code} {column}: not text" for column in odd]
        fund["tfn"] = self._tfn(fund.get("tfn"), code, problems)
        return fund, member_rows, problems

    def _tfn(self, tfn: str | None, code: str, problems: list[str]) -> str | None:
        if tfn is None or self.client.config.tfns == "masked":
            return None
        if "*" in tfn:
            problems.append(
                f"class_api: fund {code} tfn: masked by Class; set the class_api tfns extra to masked"
            )
            return None
        return tfn


def _ordered(row: dict[str, Any], order: Sequence[str], **fixed: Any) -> dict[str, Any]:
    """The row with every column of the Class schema, in contract order (no timestamps from the API)."""
    values = {**row, **fixed}
    return {column: values.get(column) for column in order}
