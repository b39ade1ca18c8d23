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


def test_fund_codes_narrow_the_read(engine):
    chunks = list(iter_fund_chunks(engine, FundFilter(fund_codes=("FUND002", "FUND009"))))
    assert _fund_ids(chunks) == ["f-002", "f-009"]


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
