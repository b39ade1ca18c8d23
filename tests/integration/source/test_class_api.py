"""The Class API source against the Class simulator over loopback: the same rows as the database source,
every open point's answer, Class's limit and its single-use refresh tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from classxpm.db import make_engine
from classxpm.mapping.api_source import load_api_source_mapping
from classxpm.source.class_api.config import DETAIL_SCOPES
from classxpm.source.class_api.source import ClassApiSource
from classxpm.source.demo_data import DEMO_BUSINESS_ID, write_demo_data
from classxpm.source.extract import FundFilter, iter_fund_chunks
from classxpm.state.class_grants import ClassGrantStore
from classxpm.state.crypto import TokenCipher
from classxpm.xpm.errors import Reauthorise
from fixtures.class_api import CLASS_FUNDS, CLASS_SEED, class_api_config

BUSINESS = DEMO_BUSINESS_ID
TIMESTAMPS = ("created_at", "updated_at")


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher(Fernet.generate_key().decode())


@pytest.fixture
def database_rows(tmp_path):
    """The rows the database source extracts from the same demo data, timestamps aside."""
    url = f"sqlite:///{tmp_path / 'class.db'}"
    write_demo_data(url, CLASS_FUNDS, seed=CLASS_SEED)
    engine = make_engine(url)
    chunks = list(iter_fund_chunks(engine, FundFilter()))
    engine.dispose()
    funds = [_untimed(fund) for chunk in chunks for fund in chunk.funds]
    members = {key: [_untimed(m) for m in group] for chunk in chunks for key, group in chunk.members.items()}
    return funds, members


def _untimed(row: dict) -> dict:
    return {key: value for key, value in row.items() if key not in TIMESTAMPS}


def _source(handle, **changes) -> ClassApiSource:
    return ClassApiSource(class_api_config(handle, **changes), load_api_source_mapping())


def _login(source: ClassApiSource, state, cipher, business: str = BUSINESS):
    return ClassGrantStore(state, cipher).save(business, source.config.flow, source.identity.password_grant())


def _read(handle, state, cipher, fund_codes=(), **changes):
    source = _source(handle, **changes)
    try:
        _login(source, state, cipher)
        read = source.read(state, cipher, BUSINESS, fund_codes)
    finally:
        source.close()
    funds = [fund for chunk in read.chunks for fund in chunk.funds]
    members = {key: group for chunk in read.chunks for key, group in chunk.members.items()}
    problems = {key: p for chunk in read.chunks for key, p in chunk.problems.items()}
    return read, funds, members, problems


def test_the_export_plan_stages_exactly_the_database_rows_with_one_call_per_fund(
    class_sim, state, cipher, database_rows
):
    read, funds, members, problems = _read(class_sim, state, cipher)

    db_funds, db_members = database_rows
    assert [_untimed(f) for f in funds] == db_funds
    assert {key: [_untimed(m) for m in group] for key, group in members.items()} == db_members
    assert problems == {}
    assert read.plan == "export"
    assert class_sim.calls() == {"GET fund-list": 1, "GET fund-reference-data-export": CLASS_FUNDS}


def test_without_fund_read_the_detail_plan_reads_what_the_narrower_calls_give(
    class_sim, state, cipher, database_rows
):
    class_sim.patch_config(fund_detail_addresses=True)
    read, funds, members, _ = _read(class_sim, state, cipher, scopes=DETAIL_SCOPES)

    db_funds, db_members = database_rows
    assert read.plan == "detail"
    not_in_detail = {"fax", "acn"}
    assert [{k: v for k, v in f.items() if k not in not_in_detail} for f in map(_untimed, funds)] == [
        {k: v for k, v in f.items() if k not in not_in_detail} for f in db_funds
    ]
    assert all(f["fax"] is None and f["acn"] is None for f in funds)
    assert {key: [_untimed(m) for m in group] for key, group in members.items()} == db_members
    member_count = sum(len(group) for group in db_members.values())
    calls = class_sim.calls()
    assert calls["GET member-detail"] == member_count
    assert calls["GET fund-detail"] == calls["GET member-list"] == CLASS_FUNDS


def test_member_detail_without_email_leaves_email_unfed(class_sim, state, cipher):
    class_sim.patch_config(member_detail_email=False)
    _, _, members, _ = _read(class_sim, state, cipher, plan="detail", scopes=DETAIL_SCOPES)
    assert all(member["email"] is None for group in members.values() for member in group)


def test_an_export_refused_for_scope_falls_back_to_the_detail_calls(class_sim, state, cipher):
    class_sim.patch_config(export_scope="fund.export.only")
    read, funds, _, problems = _read(class_sim, state, cipher)
    assert read.plan == "detail"
    assert len(funds) == CLASS_FUNDS
    assert problems == {}


@pytest.mark.parametrize("shape", ["object", "array"])
def test_either_fund_list_shape_is_read(class_sim, state, cipher, shape):
    class_sim.patch_config(fund_list_shape=shape)
    _, funds, _, _ = _read(class_sim, state, cipher)
    assert len(funds) == CLASS_FUNDS


def test_masked_tfns_are_never_staged_and_a_wrong_setting_holds_funds_back_by_name(class_sim, state, cipher):
    class_sim.patch_config(mask_tfns=True)
    _, funds, _, problems = _read(class_sim, state, cipher, tfns="masked")
    assert problems == {}
    assert all(fund["tfn"] is None for fund in funds)

    _, funds, _, problems = _read(class_sim, state, cipher)
    with_tfn = [fund for fund in funds if fund["fund_id"] in problems]
    assert with_tfn
    assert all(fund["tfn"] is None for fund in funds)
    for fund in with_tfn:
        (problem,) = problems[fund["fund_id"]]
        code = fund["scope_code"]
        assert (
            problem == f"class_api: fund {code} tfn: masked by Class; set the class_api tfns extra to masked"
        )


def test_fund_codes_read_only_those_funds_and_name_the_unknown_ones(class_sim, state, cipher, database_rows):
    wanted = [database_rows[0][4]["scope_code"].lower(), "NOSUCHFUND"]
    read, funds, _, _ = _read(class_sim, state, cipher, fund_codes=wanted)
    assert [fund["scope_code"] for fund in funds] == [database_rows[0][4]["scope_code"]]
    assert read.unmatched_codes == ["NOSUCHFUND"]
    assert class_sim.calls()["GET fund-reference-data-export"] == 1


def test_class_limit_is_kept_from_its_headers_and_a_429_is_waited_out(
    class_sim, state, cipher, database_rows
):
    # Windows of 2 seconds holding 5 calls each: the fund list and 9 exports span two of them.
    codes = [fund["scope_code"] for fund in database_rows[0][:9]]
    class_sim.patch_config(minute_limit=5, time_scale=30.0)
    _, funds, _, _ = _read(class_sim, state, cipher, codes, minute_limit=5, rate_window_seconds=2.0)
    assert [_untimed(f) for f in funds] == database_rows[0][:9]
    assert class_sim.statuses() == {"200": 10}, "the client waited for the reset Class announced"

    class_sim.clear_calls()
    # A client that believes it may send more than Class allows meets 429s and waits each out.
    _, funds, _, _ = _read(class_sim, state, cipher, codes, minute_limit=500, rate_window_seconds=2.0)
    assert [_untimed(f) for f in funds] == database_rows[0][:9]
    statuses = class_sim.statuses()
    assert statuses["200"] == 10
    assert statuses["429"] > 0


def test_an_expired_token_is_renewed_once_with_the_single_use_refresh_token(class_sim, state, cipher):
    source = _source(class_sim)
    try:
        first = _login(source, state, cipher).tokens
        class_sim.expire_tokens()
        source.read(state, cipher, BUSINESS)
        renewed = ClassGrantStore(state, cipher).require(BUSINESS)
        assert renewed.tokens.access_token != first.access_token
        assert renewed.tokens.refresh_token not in {None, first.refresh_token}
        assert renewed.last_refreshed_at is not None
        with pytest.raises(Reauthorise):  # Class's refresh tokens are single-use
            source.identity.refresh(first.refresh_token)
    finally:
        source.close()


def test_a_password_grant_without_refresh_token_signs_in_again(class_sim, state, cipher):
    class_sim.patch_config(password_refresh=False)
    source = _source(class_sim)
    try:
        first = _login(source, state, cipher).tokens
        assert first.refresh_token is None
        class_sim.expire_tokens()
        read = source.read(state, cipher, BUSINESS)
        assert sum(len(chunk.funds) for chunk in read.chunks) == CLASS_FUNDS
        assert ClassGrantStore(state, cipher).require(BUSINESS).tokens.access_token != first.access_token
    finally:
        source.close()


def test_grants_are_encrypted_at_rest(class_sim, state, cipher):
    import sqlalchemy as sa

    source = _source(class_sim)
    try:
        tokens = _login(source, state, cipher).tokens
    finally:
        source.close()
    with state.connect() as conn:
        stored = " ".join(str(value) for value in conn.execute(sa.text("SELECT * FROM class_grants")).one())
    assert tokens.access_token not in stored
    assert tokens.refresh_token not in stored
    assert tokens.access_token not in repr(tokens)
