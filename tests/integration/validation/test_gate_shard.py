"""Several runs' frames checked in one Great Expectations run: each run's result as if checked alone."""

from __future__ import annotations

import json

from classxpm.validation.gate import GateInput, validate_frames, validate_shard
from classxpm.validation.outcome import ValidationGateError
from fixtures.validation_frames import fund_row, member_row

BAD_TFN = "123456789"


def _input(
    business: str, rows: list[dict], member_rows: list[dict] | None = None, drop: str = ""
) -> GateInput:
    from fixtures.validation_frames import frames

    funds, members = frames(
        [row | {"business_id": business} for row in rows],
        member_rows if member_rows is not None else [member_row(row["fund_id"], 0) for row in rows],
    )
    if drop:
        funds = funds.drop(columns=[drop])
    return GateInput(funds, members, f"run-{business}", business)


def _shard() -> list[GateInput]:
    clean = [fund_row(n, fund_id=f"a-{n}") for n in range(4)]
    # The same scope codes as the clean business: a different business, so no clash; a clash within it.
    held = [fund_row(n, fund_id=f"b-{n}") for n in range(4)]
    held[1] |= {"tfn": BAD_TFN}
    held[3] |= {"scope_code": held[2]["scope_code"]}
    warned = [fund_row(n, fund_id=f"c-{n}") for n in range(3)]
    warned_members = [member_row("c-0", 0, first_name=None, last_name=None)]
    return [
        _input("b-clean", clean),
        _input("b-held", held),
        _input("b-stopped", [fund_row(9, fund_id="d-9")], drop="scope_code"),
        _input("b-warned", warned, warned_members),
    ]


def test_each_run_of_a_shard_gets_the_result_and_report_it_would_get_alone(tmp_path):
    shard = _shard()

    results = validate_shard(shard, reports_dir=tmp_path / "shard")

    assert isinstance(results[2], ValidationGateError), "a run lacking a column stops alone"
    assert "lacks column scope_code" in str(results[2])
    for item, result in zip(shard, results, strict=True):
        if isinstance(result, ValidationGateError):
            continue
        alone = validate_frames(
            item.funds, item.members, run_id=item.run_id, business_id=item.business_id, reports_dir=tmp_path
        )
        assert (result.quarantined, result.warnings, result.counts()) == (
            alone.quarantined,
            alone.warnings,
            alone.counts(),
        ), item.business_id
        assert result.report is not None
        assert result.report.json.is_file()
    clean, held, _, warned = results
    assert clean.quarantined == {}
    assert set(held.quarantined) == {"b-1", "b-2", "b-3"}, "bad TFN, and the scope code clash within it"
    assert warned.quarantined == {}
    assert set(warned.warnings) == {"c-0"}
    assert held.report.data_docs is not None, "held-back funds: Data Docs, as a run alone has them"
    assert held.report.data_docs.is_file()
    assert clean.report.data_docs is None, "nothing held back: the report alone, no Data Docs"
    stopped = json.loads((tmp_path / "shard" / "b-stopped" / "run-b-stopped" / "validation.json").read_text())
    assert stopped["status"] == "stopped"
    written = "".join(
        path.read_text(errors="ignore") for path in (tmp_path / "shard").rglob("*") if path.is_file()
    )
    assert BAD_TFN not in written, "no TFN in any report or Data Docs page"
