"""Members rolled out of their fund, through the sync's steps on SQLite and PostgreSQL state databases:
news once even when a step is retried, and the ``detach`` policy's one write."""

from __future__ import annotations

from classxpm.sync import steps


def _roll_out(core) -> tuple[str, str]:
    """Remove one linked member from Class; returns its member id and its fund's scope code."""
    [(fund_id, member_id)] = core.world.state_rows(
        "SELECT fund_id, member_id FROM contact_links ORDER BY member_id LIMIT 1"
    )
    core.world.source("DELETE FROM members WHERE member_id = :m", m=member_id)
    [(code,)] = core.world.class_rows("SELECT scope_code FROM funds WHERE fund_id = :f", f=fund_id)
    return member_id, code


def _deletes(core) -> list[str]:
    return [r.url.path for r in core.sent if r.method == "DELETE"]


def test_a_rolled_out_member_is_news_once_even_when_the_extract_is_retried(core):
    core.run()
    member_id, code = _roll_out(core)

    ref = core.run(upto="extract")
    steps.extract(core.env, ref)  # a retried task finds its own run's mark
    for step in (steps.validate, steps.plan, steps.upsert_funds):
        step(core.env, ref)
    report = steps.finish(core.env, ref)

    [entry] = report.gone_from_class["members"]
    assert (entry["member_id"], entry["new"]) == (member_id, True)
    assert report.notices == [f"New since the last run: 1 members rolled out ({code} member {member_id})."]
    again = core.run()
    assert [m["new"] for m in again.gone_from_class["members"]] == [False]
    assert again.notices == []
    assert _deletes(core) == [], "the report policy changes nothing in XPM"


def test_the_detach_policy_removes_the_contact_from_the_client_once(core):
    core.run()
    member_id, _ = _roll_out(core)
    [(contact_uuid,)] = core.world.state_rows(
        "SELECT contact_uuid FROM contact_links WHERE member_id = :m", m=member_id
    )

    report = core.run(rolled_out_members="detach")

    [entry] = report.gone_from_class["members"]
    assert entry["done"] == "contact detached from the fund's client"
    [detached] = _deletes(core)
    assert detached.endswith(f"client.api/contact/{contact_uuid}")
    core.sent.clear()
    again = core.run(rolled_out_members="detach")
    assert again.gone_from_class["members"] == []
    assert core.writes() == []
    assert _deletes(core) == []
