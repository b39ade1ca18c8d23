"""The trigger form's business, typed by name or id, resolved by ``start`` from Class when the run begins."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from classxpm.source.demo_data import DEMO_BUSINESS_NAME

pytestmark = pytest.mark.postgres


def _runs(world) -> list[tuple[str, str]]:
    engine = sa.create_engine(world.state_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT business_id, status FROM sync_runs ORDER BY started_at")).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_a_business_named_in_any_case_is_synced_and_an_unknown_name_fails_the_run(sync_world):
    state, report = sync_world.run(dry_run=True, business_id=f"  {DEMO_BUSINESS_NAME.upper()} ")

    assert state == "success"
    assert report["business_id"] == sync_world.business_id
    assert _runs(sync_world) == [(sync_world.business_id, "success")]

    state, report = sync_world.run(dry_run=True, business_id="Nobody & Co")

    assert state == "failed"
    assert report is None
    assert _runs(sync_world) == [(sync_world.business_id, "success")], "no run is opened for no business"
