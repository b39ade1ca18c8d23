"""The sync's step scripts end to end against the simulator: fund_codes and the one code key."""

from __future__ import annotations

import sqlalchemy as sa


def scope_codes(core) -> list[str]:
    engine = sa.create_engine(core.world.class_url)
    with engine.connect() as conn:
        codes = conn.execute(sa.text("SELECT scope_code FROM funds ORDER BY fund_id")).scalars().all()
    engine.dispose()
    return list(codes)


def test_fund_codes_match_by_the_code_key_and_name_the_codes_that_match_nothing(core, caplog):
    first, second = scope_codes(core)[:2]
    asked = f"  {first.lower()} ,{second},NOPE-1"
    with caplog.at_level("WARNING", logger="classxpm.sync.steps"):
        report = core.run(fund_codes=asked)
    assert report.counts["created"] == 2
    assert sorted(c["ExportCode"] for c in core.world.clients()) == sorted([first, second])
    assert report.unmatched_fund_codes == ["NOPE-1"]
    assert {"scope_code": "NOPE-1", "status": "not_found"}.items() <= report.problems[-1].items()
    assert "fund_codes matching no fund: NOPE-1" in report.summary_line()
    assert "NOPE-1" in caplog.text


def test_every_fund_code_matching_leaves_the_report_without_unmatched_codes(core):
    report = core.run(fund_codes=scope_codes(core)[0])
    assert (report.counts["created"], report.unmatched_fund_codes) == (1, [])
