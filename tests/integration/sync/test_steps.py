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


def test_a_run_the_class_watcher_started_opens_runs_for_the_businesses_it_named_only(core):
    from dataclasses import replace

    from classxpm.sync import steps
    from classxpm.sync.run import RunRequest
    from fixtures.sync_world import authorise

    authorise(core.world.state_url, core.world.sim, "b-other")
    request = RunRequest.from_params({"mode": "incremental"})

    def opened(run: str, businesses: frozenset[str] | None) -> list[str]:
        refs = steps.start(core.env, "class_xpm_incremental", run, replace(request, businesses=businesses))
        return sorted(ref.business_id for ref in refs)

    assert opened("scheduled__1", None) == sorted([core.world.business_id, "b-other"])
    assert opened("asset_triggered__2", frozenset({"b-other"})) == ["b-other"]
    assert opened("asset_triggered__3", frozenset({"b-other", "b-never-authorised"})) == ["b-other"]
    assert opened("asset_triggered__4", frozenset({"b-never-authorised"})) == []
