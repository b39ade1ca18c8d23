"""The planner against the simulator, on SQLite and PostgreSQL state: what it stores, and that a dry run's
diff is exactly what the next real run writes."""

from __future__ import annotations

import json

import sqlalchemy as sa
from defusedxml import ElementTree

from classxpm.identifiers import is_valid_abn, is_valid_tfn, mask_tfn
from classxpm.sync import run_store
from classxpm.sync.planner import mapped_funds, plan_run


def first_valid(check, start: int, avoid: set[str]) -> str:
    """The first number from ``start`` up that ``check`` accepts and is not in ``avoid``."""
    return next(str(n) for n in range(start, start + 10_000) if check(str(n)) and str(n) not in avoid)


def class_fund(core, offset: int = 0) -> dict:
    engine = sa.create_engine(core.world.class_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM funds ORDER BY fund_id")).mappings().all()
    engine.dispose()
    return dict(rows[offset])


def sent_fields(request) -> dict[str, str]:
    """The element → text of a write's XML body, less the identifying elements (TFN in clear, as sent)."""
    root = ElementTree.fromstring(request.content)
    return {child.tag: child.text or "" for child in root if child.tag not in {"UUID", "Contacts", "Client"}}


def test_a_dry_runs_diff_is_field_for_field_what_the_next_real_run_writes(core):
    core.run()
    fund = class_fund(core, 2)
    tfn = first_valid(is_valid_tfn, 876_543_000, {fund["tfn"] or ""})
    abn = first_valid(is_valid_abn, 83_914_571_000, {fund["abn"] or ""})
    core.world.source(
        "UPDATE funds SET tfn = :tfn, abn = :abn, scope_description = :name, phone = :phone,"
        " updated_at = CURRENT_TIMESTAMP WHERE fund_id = :fund_id",
        tfn=tfn,
        abn=abn,
        name="Renamed Super Fund",
        phone="02 9999 0000",
        fund_id=fund["fund_id"],
    )

    dry = core.run(dry_run=True)
    [entry] = [d for d in dry.diff if d["scope_code"] == fund["scope_code"]]
    shown = {f["field"]: f["after"] for f in entry["fields"] if "contact" not in f}
    assert {"Name", "Phone", "TaxNumber", "BusinessNumber"} <= set(shown)
    assert (shown["Name"], shown["Phone"], shown["BusinessNumber"]) == (
        "Renamed Super Fund",
        "02 9999 0000",
        abn,
    )
    assert shown["TaxNumber"] == mask_tfn(tfn)
    assert tfn not in json.dumps(dry.diff), "the TFN is masked in the diff"
    assert [d["scope_code"] for d in dry.diff] == [fund["scope_code"]], "nothing else changed"

    core.sent.clear()
    real = core.run()
    [update] = [r for r in core.writes() if r.url.path.endswith("client.api/update")]
    assert len(core.writes()) == 1
    sent = sent_fields(update)
    assert set(sent) == set(shown), "the real run sends exactly the fields the dry run showed"
    assert {k: mask_tfn(v) if k == "TaxNumber" else v for k, v in sent.items()} == shown
    assert sent["TaxNumber"] == tfn
    assert real.counts["updated"] == 1


def test_a_plan_keeps_the_payload_of_each_write_and_none_of_the_rest(core):
    core.run()
    fund = class_fund(core, 0)
    core.world.source(
        "UPDATE funds SET phone = '02 8888 0000', updated_at = CURRENT_TIMESTAMP WHERE fund_id = :f",
        f=fund["fund_id"],
    )
    ref = core.run(upto="extract")
    counts = plan_run(core.env, ref)
    assert counts == {"update": 1, "unchanged": 5}
    every = {m.fund_id for m in mapped_funds(core.env, ref)}
    stored = run_store.load_payloads(core.env.state, core.env.cipher, ref.run_id, every)
    assert list(stored) == [fund["fund_id"]]
    [planned] = [p for p in run_store.load_plans(core.env.state, ref.run_id) if p.fund_id == fund["fund_id"]]
    # XPM shows the TFN masked, so a fund Class changed sends it too: it may be what changed.
    assert planned.changed_fields == ("Phone", "TaxNumber")
    assert stored[fund["fund_id"]].fields["Phone"] == "02 8888 0000"


def test_a_dry_run_of_a_create_shows_every_field_with_the_tfn_masked(core):
    report = core.run(dry_run=True)
    assert report.counts["created"] == 6
    fund = class_fund(core, 0)
    [entry] = [d for d in report.diff if d["scope_code"] == fund["scope_code"]]
    fields = {f["field"]: f for f in entry["fields"] if "contact" not in f}
    assert fields["Name"] == {"field": "Name", "before": None, "after": fund["scope_description"].strip()}
    if fund["tfn"]:
        assert fields["TaxNumber"]["after"] == mask_tfn(fund["tfn"])
    assert core.writes() == [], "a dry run writes nothing"


def test_a_contact_the_real_run_writes_is_in_the_dry_runs_diff_with_what_it_sends(core):
    core.run()
    fund = class_fund(core, 1)
    engine = sa.create_engine(core.world.class_url)
    with engine.connect() as conn:
        member = conn.execute(
            sa.text("SELECT member_id FROM members WHERE fund_id = :f ORDER BY member_id"),
            {"f": fund["fund_id"]},
        ).scalar()
    engine.dispose()
    core.world.source(
        "UPDATE members SET email = 'new.address@example.com', updated_at = CURRENT_TIMESTAMP"
        " WHERE member_id = :m",
        m=member,
    )

    dry = core.run(dry_run=True)
    [entry] = dry.diff
    contact = {f["field"]: f["after"] for f in entry["fields"] if f.get("contact") == member}
    assert contact["Email"] == "new.address@example.com"
    assert [f for f in entry["fields"] if "contact" not in f] == [], "the client itself is not written"

    core.sent.clear()
    core.run()
    [update] = core.writes()
    assert "client.api/contact/" in update.url.path
    assert sent_fields(update) == contact, "the contact update sends what the dry run showed"
