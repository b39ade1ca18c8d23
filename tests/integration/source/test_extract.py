from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from classxpm.db import make_engine
from classxpm.source.extract import (
    FundFilter,
    SourceContractError,
    check_source_contract,
    count_funds,
    iter_fund_chunks,
    unmatched_codes,
)
from classxpm.source.schema import businesses, funds, members, metadata

T0 = datetime(2026, 1, 1, 9, 0, 0)
BIZ, OTHER_BIZ = "b-1", "b-2"


def _fund(n: int, business: str = BIZ, updated: datetime = T0) -> dict:
    return {
        "fund_id": f"f-{n:03d}",
        "business_id": business,
        "scope_code": f"FUND{n:03d}",
        "scope_description": f"Fund {n} Super Fund",
        "tfn": None,
        "created_at": T0,
        "updated_at": updated,
    }


def _member(fund_n: int, m: int, updated: datetime = T0) -> dict:
    return {
        "member_id": f"m-{fund_n:03d}-{m}",
        "fund_id": f"f-{fund_n:03d}",
        "first_name": f"First{m}",
        "last_name": f"Last{fund_n}",
        "created_at": T0 + timedelta(minutes=m),
        "updated_at": updated,
    }


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(businesses),
            [{"business_id": BIZ, "name": "A"}, {"business_id": OTHER_BIZ, "name": "B"}],
        )
        conn.execute(sa.insert(funds), [_fund(n) for n in range(1, 6)] + [_fund(9, OTHER_BIZ)])
        conn.execute(sa.insert(members), [_member(n, m) for n in range(1, 6) for m in range(1, 3)])
    yield engine
    engine.dispose()


def _fund_ids(chunks) -> list[str]:
    return [f["fund_id"] for chunk in chunks for f in chunk.funds]


def test_reads_every_fund_in_bounded_chunks_with_all_its_members(engine):
    chunks = list(iter_fund_chunks(engine, FundFilter(business_id=BIZ), chunk_size=2))
    assert [len(c.funds) for c in chunks] == [2, 2, 1]
    assert _fund_ids(chunks) == [f"f-{n:03d}" for n in range(1, 6)]
    for chunk in chunks:
        assert set(chunk.members) == {f["fund_id"] for f in chunk.funds}
        assert all(len(group) == 2 for group in chunk.members.values())
    assert count_funds(engine, FundFilter(business_id=BIZ)) == 5


def test_a_member_change_counts_as_a_change_of_its_fund(engine):
    later = T0 + timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(sa.update(members).where(members.c.member_id == "m-003-2").values(updated_at=later))
        conn.execute(sa.update(funds).where(funds.c.fund_id == "f-005").values(updated_at=later))
    chunks = list(iter_fund_chunks(engine, FundFilter(business_id=BIZ, changed_since=later)))
    assert _fund_ids(chunks) == ["f-003", "f-005"]
    assert len(chunks[0].members["f-003"]) == 2, "the whole member set of a changed fund is read"
    assert chunks[0].max_updated_at == later


def test_funds_to_retry_are_read_even_when_unchanged(engine):
    flt = FundFilter(changed_since=T0 + timedelta(days=1), retry_fund_ids=("f-004",))
    assert _fund_ids(iter_fund_chunks(engine, flt)) == ["f-004"]


def test_a_retry_backlog_larger_than_any_bound_parameter_limit_is_read(engine):
    """A quota-deferred backfill can leave more funds to retry than a statement takes bound parameters."""
    backlog = (*(f"f-{n:06d}" for n in range(70_000)), "f-004", "f-009")
    flt = FundFilter(business_id=BIZ, changed_since=T0 + timedelta(days=1), retry_fund_ids=backlog)
    assert _fund_ids(iter_fund_chunks(engine, flt, chunk_size=1)) == ["f-004"]
    assert count_funds(engine, flt) == 1


def test_fund_codes_narrow_the_read(engine):
    chunks = list(iter_fund_chunks(engine, FundFilter(fund_codes=("FUND002", "FUND009"))))
    assert _fund_ids(chunks) == ["f-002", "f-009"]


def test_fund_codes_match_by_the_code_key_and_the_unmatched_are_named(engine):
    chunks = list(iter_fund_chunks(engine, FundFilter(fund_codes=(" fund002 ", "Fund009", "NOPE1"))))
    assert _fund_ids(chunks) == ["f-002", "f-009"]
    assert unmatched_codes(engine, None, (" fund002 ", "Fund009", "NOPE1")) == ["NOPE1"]
    assert unmatched_codes(engine, "another-business", ("FUND002",)) == ["FUND002"]
    assert unmatched_codes(engine, None, ()) == []


def test_nothing_changed_reads_nothing(engine):
    assert list(iter_fund_chunks(engine, FundFilter(changed_since=T0 + timedelta(seconds=1)))) == []


def test_contract_check_names_each_missing_table_and_column(db_url):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE funds (fund_id VARCHAR(36) PRIMARY KEY, scope_code VARCHAR(32))"))
    with pytest.raises(SourceContractError) as excinfo:
        check_source_contract(engine)
    message = str(excinfo.value)
    assert "class_db: table funds lacks column tfn" in message
    assert "class_db: table members is missing" in message
    engine.dispose()


def test_contract_check_passes_on_the_schema(engine):
    check_source_contract(engine)


# Which members a chunk carries. Members are read by the chunk's key range when no other fund lies in it,
# and fund by fund otherwise: either way a chunk holds exactly its own funds' members, whatever the filter.

INTERLEAVED = range(1, 13)
"""Funds f-001 to f-012: odd ones are BIZ's, even ones OTHER_BIZ's, so each business's ids interleave."""


def _fill(engine, fund_rows: list[dict], member_rows: list[dict]) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(businesses),
            [{"business_id": BIZ, "name": "A"}, {"business_id": OTHER_BIZ, "name": "B"}],
        )
        conn.execute(sa.insert(funds), fund_rows)
        if member_rows:
            conn.execute(sa.insert(members), member_rows)


def _interleaved_engine(url: str):
    """Two businesses whose funds alternate in fund-id order, two members each."""
    engine = make_engine(url)
    _fill(
        engine,
        [_fund(n, BIZ if n % 2 else OTHER_BIZ) for n in INTERLEAVED],
        [_member(n, m) for n in INTERLEAVED for m in range(1, 3)],
    )
    return engine


@pytest.fixture
def interleaved(db_url):
    engine = _interleaved_engine(db_url)
    yield engine
    engine.dispose()


def _members_by_chunk(chunks) -> list[dict[str, list[str]]]:
    return [
        {fund_id: [m["member_id"] for m in group] for fund_id, group in chunk.members.items()}
        for chunk in chunks
    ]


def _expected_members(chunks) -> list[dict[str, list[str]]]:
    return [
        {f["fund_id"]: [f"m-{f['fund_id'][2:]}-1", f"m-{f['fund_id'][2:]}-2"] for f in chunk.funds}
        for chunk in chunks
    ]


LATER = T0 + timedelta(days=1)


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 100])
@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (FundFilter(business_id=BIZ), [n for n in INTERLEAVED if n % 2]),
        (FundFilter(business_id=OTHER_BIZ), [n for n in INTERLEAVED if not n % 2]),
        (FundFilter(fund_codes=tuple(f"FUND{n:03d}" for n in INTERLEAVED if n % 3 == 0)), [3, 6, 9, 12]),
        (FundFilter(business_id=BIZ, fund_codes=("FUND001", "FUND002", "FUND005", "FUND011")), [1, 5, 11]),
        (FundFilter(changed_since=LATER), [2, 4, 5, 7, 8, 10]),
        (FundFilter(business_id=OTHER_BIZ, changed_since=LATER), [2, 4, 8, 10]),
        (FundFilter(business_id=BIZ, changed_since=LATER, retry_fund_ids=("f-001", "f-002")), [1, 5, 7]),
    ],
    ids=["biz", "other-biz", "codes", "biz-and-codes", "changed", "other-biz-changed", "biz-changed-retry"],
)
def test_a_chunk_carries_its_own_funds_members_and_no_one_elses(interleaved, flt, expected, chunk_size):
    with interleaved.begin() as conn:  # funds 2, 4 and 10 changed themselves; 5, 7 and 8 through a member
        conn.execute(
            sa.update(funds).where(funds.c.fund_id.in_(["f-002", "f-004", "f-010"])).values(updated_at=LATER)
        )
        conn.execute(
            sa.update(members)
            .where(members.c.member_id.in_(["m-005-1", "m-007-2", "m-008-2"]))
            .values(updated_at=LATER)
        )
    chunks = list(iter_fund_chunks(interleaved, flt, chunk_size=chunk_size))
    assert _fund_ids(chunks) == [f"f-{n:03d}" for n in expected]
    assert [len(c.funds) for c in chunks][:-1] == [chunk_size] * (len(chunks) - 1)
    assert _members_by_chunk(chunks) == _expected_members(chunks), "every member of each fund, nobody else's"
    assert count_funds(interleaved, flt) == len(expected)


def test_members_come_in_fund_order_then_creation_order_and_a_fund_without_members_has_no_entry(db_url):
    engine = make_engine(db_url)
    early, late = T0, T0 + timedelta(hours=1)
    _fill(
        engine,
        [_fund(n) for n in (1, 2, 3)],
        [
            {**_member(3, 1), "created_at": late},
            {**_member(3, 2), "created_at": early},
            {**_member(1, 9), "created_at": late},
            {**_member(1, 8), "created_at": late},
            {**_member(1, 7), "created_at": late + timedelta(seconds=1)},
        ],
    )
    [chunk] = iter_fund_chunks(engine, FundFilter(business_id=BIZ))
    assert _members_by_chunk([chunk]) == [
        {"f-001": ["m-001-8", "m-001-9", "m-001-7"], "f-003": ["m-003-2", "m-003-1"]}
    ]
    engine.dispose()


@pytest.mark.parametrize(
    ("chunk_size", "sizes"), [(1, [1] * 5), (2, [2, 2, 1]), (4, [4, 1]), (5, [5]), (6, [5])]
)
def test_chunks_hold_chunk_size_funds_until_the_last(engine, chunk_size, sizes):
    chunks = list(iter_fund_chunks(engine, FundFilter(business_id=BIZ), chunk_size=chunk_size))
    assert [len(c.funds) for c in chunks] == sizes
    assert _fund_ids(chunks) == [f"f-{n:03d}" for n in range(1, 6)]
    assert _members_by_chunk(chunks) == _expected_members(chunks)


def test_rows_carry_every_column_with_timestamps_as_datetimes(engine):
    [chunk] = iter_fund_chunks(engine, FundFilter(business_id=BIZ))
    fund, member = chunk.funds[0], chunk.members["f-001"][0]
    assert list(fund) == [c.name for c in funds.columns]
    assert list(member) == [c.name for c in members.columns]
    assert all(type(name) is str for name in [*fund, *member])
    assert (fund["created_at"], fund["updated_at"], fund["tfn"]) == (T0, T0, None)
    assert (member["created_at"], member["first_name"]) == (T0 + timedelta(minutes=1), "First1")
    assert all(type(row[c]) is datetime for row in (fund, member) for c in ("created_at", "updated_at"))


@pytest.mark.parametrize(
    ("removed", "added", "expected"),
    [
        ([], ["f-003b", "f-003c"], [["f-003", "f-003b"], ["f-003c", "f-004"], ["f-005"]]),
        (["f-003"], [], [["f-004", "f-005"]]),
        (
            ["f-004"],
            ["f-003b", "f-003c", "f-005b", "f-006", "f-007"],
            [["f-003", "f-003b"], ["f-003c", "f-005"], ["f-005b", "f-006"], ["f-007"]],
        ),
        (["f-003", "f-004", "f-005"], ["f-009b"], [["f-009b"]]),
    ],
    ids=["added-inside", "removed", "added-and-removed", "all-after-removed"],
)
def test_funds_added_or_removed_between_chunks_give_the_chunks_a_fresh_read_would(
    engine, removed, added, expected
):
    chunks = iter_fund_chunks(engine, FundFilter(business_id=BIZ), chunk_size=2)
    assert _fund_ids([next(chunks)]) == ["f-001", "f-002"]
    with engine.begin() as conn:
        conn.execute(sa.delete(members).where(members.c.fund_id.in_(removed)))
        conn.execute(sa.delete(funds).where(funds.c.fund_id.in_(removed)))
        for fund_id in added:
            conn.execute(sa.insert(funds), {**_fund(1), "fund_id": fund_id, "scope_code": fund_id})
            conn.execute(
                sa.insert(members), {**_member(1, 1), "member_id": f"m-{fund_id[2:]}-1", "fund_id": fund_id}
            )
            conn.execute(
                sa.insert(members), {**_member(1, 2), "member_id": f"m-{fund_id[2:]}-2", "fund_id": fund_id}
            )
    rest = list(chunks)
    assert [_fund_ids([chunk]) for chunk in rest] == expected, "each chunk the next chunk_size funds"
    assert _members_by_chunk(rest) == _expected_members(rest)


# SQLite keeps whatever it is given, whatever the column's type: such a value is named, never shown.


@pytest.fixture
def sqlite_engine(sqlite_url):
    engine = _interleaved_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("table", "record", "change", "value", "reason"),
    [
        ("funds", "f-005", "updated_at = 'yesterday'", "yesterday", "updated_at: not a date and time"),
        ("funds", "f-005", "created_at = X'736563726574'", "secret", "created_at: binary data, not text"),
        ("funds", "f-005", "physical_city = X'00ff41'", r"\xff", "physical_city: binary data, not text"),
        ("members", "m-005-2", "email = X'ff'", r"\xff", "email: binary data, not text"),
        (
            "members",
            "m-005-1",
            "created_at = '1999-13-01 09:00'",
            "1999-13",
            "created_at: not a date and time",
        ),
    ],
)
@pytest.mark.parametrize("chunk_size", [2, 100])
@pytest.mark.parametrize(
    "flt", [FundFilter(business_id=BIZ), FundFilter()], ids=["by-fund-id", "by-key-range"]
)
def test_a_value_sqlite_kept_against_its_column_type_is_named_without_its_value_and_read_as_missing(
    sqlite_engine, table, record, change, value, reason, chunk_size, flt
):
    clean = list(iter_fund_chunks(sqlite_engine, flt, chunk_size=chunk_size))
    key = "fund_id" if table == "funds" else "member_id"
    with sqlite_engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET {change} WHERE {key} = :r"), {"r": record})

    chunks = list(iter_fund_chunks(sqlite_engine, flt, chunk_size=chunk_size))

    fund_id = record if table == "funds" else "f-" + record.split("-")[1]
    problems = {fid: found for chunk in chunks for fid, found in chunk.problems.items()}
    assert problems == {fund_id: [f"class_db: {table} {record} {reason}"]}
    assert value not in repr(problems)
    assert _fund_ids(chunks) == _fund_ids(clean), "every fund is still read: the gate holds this one back"
    if table == "funds":
        rows = [f for c in chunks for f in c.funds]
    else:
        rows = [m for c in chunks for group in c.members.values() for m in group]
    (bad,) = [row for row in rows if row[key] == record]
    assert bad[reason.split(":")[0]] is None


@pytest.mark.parametrize(
    ("table", "record", "change"),
    [("funds", "f-006", "physical_city = X'00ff41'"), ("members", "m-006-1", "updated_at = 'soon'")],
)
def test_a_bad_value_of_a_fund_outside_the_filter_is_never_read(sqlite_engine, table, record, change):
    key = "fund_id" if table == "funds" else "member_id"
    with sqlite_engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET {change} WHERE {key} = :r"), {"r": record})
    chunks = list(iter_fund_chunks(sqlite_engine, FundFilter(business_id=BIZ), chunk_size=2))
    assert _fund_ids(chunks) == [f"f-{n:03d}" for n in INTERLEAVED if n % 2]
    assert _members_by_chunk(chunks) == _expected_members(chunks)


def test_timestamps_sqlite_stored_as_iso_text_are_read_as_datetimes(sqlite_engine):
    with sqlite_engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE funds SET updated_at = '2026-02-03T04:05:06.789' WHERE fund_id = 'f-001'")
        )
    first = next(iter(iter_fund_chunks(sqlite_engine, FundFilter(business_id=BIZ)))).funds[0]
    assert first["updated_at"] == datetime(2026, 2, 3, 4, 5, 6, 789000)


@pytest.fixture
def pg_engine(pg_url):
    engine = make_engine(pg_url)
    _fill(engine, [_fund(n) for n in range(1, 6)], [_member(n, m) for n in range(1, 6) for m in range(1, 3)])
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_timestamps_stored_as_text_are_read_as_datetimes_and_a_malformed_one_is_named(pg_engine):
    with pg_engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE funds ALTER COLUMN updated_at TYPE text"))
    [chunk] = iter_fund_chunks(pg_engine, FundFilter(business_id=BIZ))
    assert [f["updated_at"] for f in chunk.funds] == [T0] * 5
    with pg_engine.begin() as conn:
        conn.execute(sa.text("UPDATE funds SET updated_at = 'yesterday' WHERE fund_id = 'f-003'"))
    [chunk] = iter_fund_chunks(pg_engine, FundFilter(business_id=BIZ))
    assert chunk.problems == {"f-003": ["class_db: funds f-003 updated_at: not a date and time"]}
    assert chunk.max_updated_at == T0


@pytest.mark.postgres
def test_a_postgresql_binary_column_where_the_contract_has_text_is_named(pg_engine):
    with pg_engine.begin() as conn:
        conn.execute(
            sa.text("ALTER TABLE members ALTER COLUMN email TYPE bytea USING convert_to('x', 'UTF8')")
        )
    [chunk] = iter_fund_chunks(pg_engine, FundFilter(business_id=BIZ))
    assert chunk.problems == {
        f"f-{n:03d}": [f"class_db: members m-{n:03d}-{m} email: binary data, not text" for m in (1, 2)]
        for n in range(1, 6)
    }
