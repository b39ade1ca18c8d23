"""Item 4: hostile and broken input; each gets a clear error naming file, record and field, and no other
record is affected: mapping YAML, Class rows, duplicate scope codes, XPM and token endpoint answers."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from classxpm.validation.rules import RULES
from reliability.world import HostileProxy, clean_source

pytestmark = pytest.mark.postgres

SHIPPED = "include/mappings"

BROKEN_MAPPINGS = [
    pytest.param(
        ("  Name:", "  Colour:\n    from: phone\n  Name:"),
        "client.yaml: fields.Colour: 'Colour' is not an XPM client element",
        id="unknown-field",
    ),
    pytest.param(
        ("    sensitive: true", "    sensitive: maybe"),
        "client.yaml: fields.TaxNumber.sensitive: wrong type: expected true or false, found text",
        id="wrong-type",
    ),
    pytest.param(
        ("key: fund_id\n", ""),
        "client.yaml: key: required key is missing",
        id="missing-required-key",
    ),
    pytest.param(
        ("from: scope_description", "from: scope_descr"),
        "client.yaml: fields.Name.from: funds has no column 'scope_descr'",
        id="column-that-does-not-exist",
    ),
]


@pytest.mark.parametrize(("change", "message"), BROKEN_MAPPINGS)
def test_a_malformed_mapping_stops_the_run_before_anything_is_sent(
    change, message, world_factory, tmp_path, monkeypatch
):
    from airflow.sdk.exceptions import AirflowFailException

    from classxpm.airflow.sync_tasks import run_step
    from fixtures.sync_world import connection_env

    world = world_factory(5)
    folder = tmp_path / "mappings"
    shutil.copytree(SHIPPED, folder)
    client = folder / "client.yaml"
    text = client.read_text()
    assert change[0] in text
    client.write_text(text.replace(change[0], change[1], 1))
    monkeypatch.setenv("CLASSXPM_MAPPINGS_DIR", str(folder))
    for name, value in connection_env(world.class_url, world.state_url, world.sim).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(AirflowFailException) as failed:
        run_step(lambda env: pytest.fail("the step ran with a broken mapping"))
    print(f"mapping {change[1]!r}: {failed.value}")
    assert str(client) in str(failed.value)
    assert message in str(failed.value)
    assert world.clients() == []


def fund_ids(world) -> list[str]:
    return [r[0] for r in world.query("SELECT fund_id FROM funds ORDER BY fund_id", url=world.class_url)]


def test_hostile_class_rows_are_held_back_one_by_one_and_the_rest_are_sent(world_factory):
    world = world_factory(14)
    clean_source(world)
    ids = fund_ids(world)
    codes = dict(world.query("SELECT fund_id, scope_code FROM funds", url=world.class_url))
    set_fund = "UPDATE funds SET {} WHERE fund_id = :f"
    world.source(set_fund.format("scope_description = :v"), v="N" * 10_000, f=ids[0])
    world.source(set_fund.format("scope_description = :v"), v="Bell\x07 \x1b Fund\x00 ☃ 🦘", f=ids[1])
    world.source(set_fund.format("physical_postcode = 2000, phone = 291234567, tfn = 123456782"), f=ids[2])
    world.source(set_fund.format("scope_code = :v"), v=f" {codes[ids[4]].lower()}", f=ids[3])
    world.source("UPDATE members SET first_name = :v WHERE fund_id = :f", v="E\u200bmma 👩‍👩‍👧\x0b", f=ids[5])
    report = world.sync()
    problems = {p["scope_code"]: p for p in report.problems}
    clients = {c["ExportCode"]: c for c in world.clients()}
    print(f"hostile rows: {len(ids)} funds, outcomes { {k: n for k, n in report.counts.items() if n} }")
    for p in report.problems:
        print(f"  {p['scope_code']}: {p['status']}: {p['detail']}")
    assert problems[codes[ids[0]]]["detail"] == (
        f"funds {ids[0]} Name: is 10000 characters; XPM Name takes at most 255"
    )
    duplicated = codes[ids[4]]
    fix = next(rule.fix for rule in RULES if rule.name == "scope_code_unique")
    assert problems[duplicated]["detail"] == f'scope code "{duplicated}" is used by another fund: {fix}'
    assert problems[f" {duplicated.lower()}"]["detail"] == (
        f'scope code "{duplicated.lower()}" is used by another fund: {fix}'
    )
    assert not {duplicated, duplicated.lower()} & set(clients), "neither fund with the shared code is sent"
    assert clients[codes[ids[1]]]["Name"] == "Bell  Fund ☃ 🦘", "control characters dropped, emoji kept"
    assert (clients[codes[ids[2]]]["PostCode"], clients[codes[ids[2]]]["TaxNumber"]) == ("2000", "123456782")
    assert report.counts["created"] == len(ids) - 3
    assert report.failed == 0


def test_a_class_database_missing_a_column_is_named_and_nothing_is_staged(world_factory):
    from classxpm.source.extract import SourceContractError

    world = world_factory(5)
    world.source("ALTER TABLE funds DROP COLUMN phone")
    with pytest.raises(SourceContractError, match="class_db: table funds lacks column phone"):
        world.sync()
    assert world.query("SELECT count(*) FROM staged_chunks")[0][0] == 0
    assert world.clients() == []


@pytest.mark.parametrize(
    ("table", "change", "value", "reason"),
    [
        ("funds", "updated_at = 'yesterday'", "yesterday", "updated_at: not a date and time"),
        ("funds", "physical_city = X'00ff41'", r"\xff", "physical_city: binary data, not text"),
        ("members", "email = X'ff'", r"\xff", "email: binary data, not text"),
    ],
)
def test_a_value_sqlite_kept_against_its_column_type_holds_back_its_fund_and_the_rest_are_sent(
    table, change, value, reason, world_factory
):
    world = world_factory(5)
    key = "fund_id" if table == "funds" else "member_id"
    record, fund_id = world.query(f"SELECT {key}, fund_id FROM {table} ORDER BY {key}", url=world.class_url)[
        2
    ]
    world.source(f"UPDATE {table} SET {change} WHERE {key} = :r", r=record)
    (scope_code,) = world.query(
        "SELECT scope_code FROM funds WHERE fund_id = :f", url=world.class_url, f=fund_id
    )[0]

    report = world.sync()

    problems = {p["scope_code"]: p for p in report.problems}
    print(f"Class {table} {change}: {problems[scope_code]}")
    assert problems[scope_code]["status"] == "quarantined"
    assert f"class_db: {table} {record} {reason}" in problems[scope_code]["detail"]
    assert scope_code not in {client.get("ExportCode") for client in world.clients()}
    assert report.counts["created"] == 5 - report.counts["quarantined"] > 0
    written = Path(report.report_path).parent
    texts = [path.read_text("utf-8") for path in written.rglob("*") if path.suffix in (".html", ".json")]
    assert not [text for text in texts if value in text], "the value itself is never shown"
    assert any(f"class_db: {table} {record} {reason}" in text for text in texts), "the report names it"


def test_a_new_fund_reusing_a_synced_scope_code_is_not_sent_by_an_incremental_run(world_factory):
    world = world_factory(6)
    clean_source(world)
    world.sync("class_xpm_incremental", mode="incremental")
    taken = world.query("SELECT scope_code FROM funds ORDER BY fund_id", url=world.class_url)[0][0]
    world.source(
        "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, created_at, updated_at) "
        "VALUES ('copy-fund', :b, :c, 'Copied Code Super Fund', '2027-02-01', '2027-02-01')",
        b=world.business_id,
        c=taken.lower(),
    )
    report = world.sync("class_xpm_incremental", mode="incremental")
    codes = [c["ExportCode"].casefold() for c in world.clients()]
    print(f"scope code reused by a new fund: {report.problems}")
    assert codes.count(taken.casefold()) == 1
    assert report.counts["needs_review"] == 1
    assert "another fund" in report.problems[0]["detail"]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<Response><Status>OK</Status><Client><UUID>&lol9;</UUID></Client></Response>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Response><Status>OK</Status><Client><Name>&x;</Name></Client></Response>"""
HOSTILE_ANSWERS = {
    "an XML bomb": (BOMB, "text/xml", "refused an XPM response that declares"),
    "an external entity": (XXE, "text/xml", "refused an XPM response that declares"),
    "truncated XML": (b"<Response><Status>OK</Status><Client><UUID>12", "text/xml", "malformed XML"),
    "an HTML page": (b"<html><body>Bad gateway</body></html>", "text/html", "no <Response><Status>"),
}


def test_hostile_xpm_answers_are_refused_for_their_fund_only(world_factory):
    world = world_factory(10)
    clean_source(world)
    forged = {
        ("POST client.api/add", 2 * n + 2): httpx.Response(200, content=body, headers={"Content-Type": kind})
        for n, (body, kind, _) in enumerate(HOSTILE_ANSWERS.values())
    }
    started = time.monotonic()
    report = world.sync(transport=HostileProxy(forged))
    took = time.monotonic() - started
    failed = [p["detail"] for p in report.problems if p["status"] == "failed"]
    print(f"hostile XPM answers: {len(failed)} funds failed in {took:.1f} s, the rest created:")
    for detail in failed:
        print(f"  {detail}")
    assert len(failed) == len(HOSTILE_ANSWERS)
    for (_, _, reason), detail in zip(HOSTILE_ANSWERS.values(), failed, strict=True):
        assert detail.startswith("XPM's answer could not be read: ")
        assert reason in detail
    assert "root:" not in str(report.problems)
    assert report.counts["created"] == 10 - len(HOSTILE_ANSWERS)
    again = world.sync()
    assert again.counts["created"] == len(HOSTILE_ANSWERS)
    assert sorted(c["ExportCode"] for c in world.clients()) == sorted(
        r[0] for r in world.query("SELECT scope_code FROM funds", url=world.class_url)
    )


GARBAGE = {
    "HTML": (b"<html>maintenance</html>", "text/html"),
    "a JSON list": (b"[]", "application/json"),
    "a number for a token": (
        b'{"access_token": 1, "refresh_token": "r", "expires_in": 1800}',
        "application/json",
    ),
    "words for expires_in": (
        b'{"access_token": "a", "refresh_token": "r", "expires_in": "soon"}',
        "application/json",
    ),
    "no refresh token": (b'{"access_token": "a", "expires_in": 1800}', "application/json"),
}


@pytest.mark.parametrize("garbage", GARBAGE)
def test_a_token_endpoint_answering_garbage_leaves_the_grant_as_it_was(garbage, world_factory):
    from classxpm.db import make_engine
    from classxpm.state.crypto import load_cipher
    from classxpm.state.tokens import TokenStore
    from classxpm.xpm.errors import ResponseFormatError
    from classxpm.xpm.session import XpmSession
    from fixtures.xpm_auth import sim_config

    world = world_factory(1)
    body, kind = GARBAGE[garbage]
    answer = httpx.Response(200, content=body, headers={"Content-Type": kind})
    engine = make_engine(world.state_url)
    store = TokenStore(engine, load_cipher())
    before = store.require(world.business_id).tokens
    proxy = HostileProxy({("POST /connect/token", 1): answer})
    with XpmSession(sim_config(world.sim), http=httpx.Client(transport=proxy)) as session:
        with pytest.raises(ResponseFormatError) as refused:
            store.refresh(world.business_id, session.identity)
        print(f"token endpoint answering {garbage}: {refused.value}")
        assert store.require(world.business_id).tokens == before
        store.refresh(world.business_id, session.identity)
    assert store.require(world.business_id).tokens.refresh_token != before.refresh_token
    engine.dispose()
