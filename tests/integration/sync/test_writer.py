"""Upsert writes what plan decided: it never maps a fund again, so a mapping that would now refuse a fund
cannot stop, or change, a write that plan stored."""

from __future__ import annotations

from dataclasses import replace

from classxpm.mapping import Mapping
from classxpm.sync import run_store, steps
from classxpm.sync.desired import map_fund
from classxpm.sync.staging import iter_staged


def refusing_every_name(mappings):
    """The mappings, but a client Name must be digits: every fund's name now fails to map."""
    data = mappings.client.model_dump(by_alias=True, exclude_none=True)
    data["fields"]["Name"] = {"from": "scope_description", "transform": ["digits_only"]}
    return replace(mappings, client=Mapping.model_validate(data))


def test_a_fund_whose_mapping_fails_at_write_time_is_written_as_planned(core):
    ref = core.run(upto="plan")
    planned = {p.fund_id: p for p in run_store.load_plans(core.env.state, ref.run_id)}
    core.env.mappings = refusing_every_name(core.env.mappings)
    chunk = next(iter_staged(core.env.state, ref.run_id, core.env.cipher))
    fund = chunk.funds[0]
    refused = map_fund(
        fund, chunk.members.get(fund["fund_id"], []), core.env.mappings, core.env.cipher.hash_key
    )
    assert refused.desired is None, "the mapping in force at write time refuses the fund"

    counts = steps.upsert_funds(core.env, ref)
    report = steps.finish(core.env, ref)

    assert counts == {"created": len(planned)}
    assert report.counts["created"] == len(planned)
    assert report.failed == 0
    names = sorted(client["Name"] for client in core.world.clients())
    assert names == sorted(p.name for p in planned.values())
