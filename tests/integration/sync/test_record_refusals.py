"""One fund's refusal is that fund's outcome, in both of XPM's error forms, and the run goes on.

XPM refuses a record either as 200 + ``<Status>ERROR</Status>`` or as 400/404/409 with the same body
(reference §12); the simulator's ``error_form`` picks one, so every case runs against both.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from classxpm.sync.executor import Executor
from classxpm.sync.links import LinkRecorder
from classxpm.sync.model import Action, DesiredFund
from classxpm.sync.plan import FundPlan
from classxpm.sync.tables import fund_links
from fixtures.xpm_auth import headless_login

AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
TFN = "123456782"


@pytest.fixture
def executor(state, xpm_session, xpm_sim, error_form) -> Executor:
    api = xpm_session.api_for_tokens(headless_login(xpm_session).for_tenant(xpm_sim.tenant_id))
    return Executor(api, state, LinkRecorder("business", xpm_sim.tenant_id, "run-1"), lambda: AT)


def fund(code: str, **fields: str) -> DesiredFund:
    return DesiredFund(
        f"fund-{code}", code, {"Name": f"{code} Super Fund", "ExportCode": code, **fields}, "h"
    )


def _links(state) -> dict[str, tuple]:
    with state.connect() as conn:
        rows = conn.execute(sa.select(fund_links.c.fund_id, fund_links.c.last_status, fund_links.c.web_url))
        return {row.fund_id: (row.last_status, row.web_url) for row in rows}


def _status_note(error_form: str, status: int) -> str:
    return f" (HTTP {status})" if error_form == "status" else ""


def test_a_write_to_a_client_archived_since_the_plan_fails_that_fund_and_the_next_is_written(
    executor, xpm_sim, state, error_form
):
    archived, live = (c["uuid"] for c in xpm_sim.seed({"clients": [{"Name": "A"}, {"Name": "B"}]})["clients"])
    with xpm_sim.api_client() as api:
        api.put("client.api/archive", content=f"<Client><UUID>{archived}</UUID></Client>")
    first, second = fund("A1"), fund("B1")
    plans = [FundPlan(f.fund_id, f.scope_code, Action.LINK, c, changed_fields=("Name",)) for f, c in
             ((first, archived), (second, live))]  # fmt: skip

    outcomes = [executor.execute(plan, desired) for plan, desired in zip(plans, (first, second), strict=True)]

    assert [o.status for o in outcomes] == ["failed", "linked"]
    assert outcomes[0].detail == f"XPM refused it{_status_note(error_form, 409)}: The client is archived"
    links = _links(state)
    assert links[first.fund_id] == ("failed", None)
    assert links[second.fund_id][0] == "synced"
    assert links[second.fund_id][1].endswith(f"/Client/{live}/Detail"), "the launch link comes with the write"


def test_a_refused_business_structure_is_a_clear_per_fund_error(executor, xpm_sim, state, error_form):
    wrong = fund("S1", BusinessStructure="Superannuation Fund")
    right = fund("S2", BusinessStructure="Self Managed Superannuation Fund")

    refused = executor.execute(FundPlan(wrong.fund_id, wrong.scope_code, Action.CREATE), wrong)
    created = executor.execute(FundPlan(right.fund_id, right.scope_code, Action.CREATE), right)

    assert refused.status == "failed"
    assert refused.detail == (
        f"XPM refused it{_status_note(error_form, 400)}: "
        "The business structure is not one configured for this practice"
    )
    assert created.status == "created"
    assert [c["ExportCode"] for c in xpm_sim.state()["clients"]] == ["S2"]


def test_a_refusal_quoting_a_number_is_masked(executor, xpm_sim, state, error_form):
    xpm_sim.seed({"clients": [{"Name": "Holder", "TaxNumber": TFN}]})
    duplicate = fund("T1", TaxNumber=TFN)

    outcome = executor.execute(FundPlan(duplicate.fund_id, duplicate.scope_code, Action.CREATE), duplicate)

    assert outcome.status == "failed"
    assert "already in use" in outcome.detail
    assert TFN not in outcome.detail
    assert _links(state)[duplicate.fund_id][0] == "failed", "retried by the next run"
