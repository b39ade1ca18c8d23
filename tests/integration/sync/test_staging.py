"""Run-scoped staging: what extract stages comes back exactly and is encrypted at rest, on both databases."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from classxpm.db import make_engine
from classxpm.source.demo_data import write_demo_data
from classxpm.source.extract import FundChunk, FundFilter, iter_fund_chunks
from classxpm.state.crypto import TokenCipher
from classxpm.sync.staging import StagingError, clear_staging, iter_staged, stage_chunk, stage_extract
from classxpm.sync.tables import staged_chunks
from classxpm.xpm.errors import ConfigurationError

RUN = "class_xpm_sync/manual__1/business"


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher(Fernet.generate_key().decode())


@pytest.fixture
def source(tmp_path):
    url = f"sqlite:///{tmp_path / 'class.db'}"
    write_demo_data(url, 23, seed=7)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def read_back(state, cipher, fund_ids=None) -> FundChunk:
    chunks = list(iter_staged(state, RUN, cipher, fund_ids))
    members = {}
    for chunk in chunks:
        members.update(chunk.members)
    return FundChunk([fund for chunk in chunks for fund in chunk.funds], members)


def test_staged_rows_come_back_as_they_were_extracted(source, state, cipher):
    extracted = list(iter_fund_chunks(source, FundFilter(), chunk_size=5))
    result = stage_extract(source, state, RUN, FundFilter(), cipher, chunk_size=5)

    staged = read_back(state, cipher)
    assert staged.funds == [fund for chunk in extracted for fund in chunk.funds]
    expected_members = {fund_id: group for chunk in extracted for fund_id, group in chunk.members.items()}
    assert staged.members == expected_members
    assert list(staged.members) == list(expected_members), "members keep the extract's order"
    assert all(isinstance(fund["updated_at"], datetime) for fund in staged.funds)
    assert result.funds == 23
    assert result.members == sum(len(group) for group in expected_members.values())
    stamps = [f["updated_at"] for f in staged.funds]
    stamps += [m["updated_at"] for group in staged.members.values() for m in group]
    assert result.max_updated_at == max(stamps)
    with state.connect() as conn:
        rows = conn.execute(sa.select(staged_chunks).order_by(staged_chunks.c.chunk_no)).all()
    assert [row.funds for row in rows] == [5, 5, 5, 5, 3]
    assert [(row.first_fund_id, row.last_fund_id) for row in rows] == [
        (chunk.funds[0]["fund_id"], chunk.funds[-1]["fund_id"]) for chunk in extracted
    ]


def test_nothing_staged_is_readable_without_the_key(source, state, cipher):
    stage_extract(source, state, RUN, FundFilter(), cipher)
    clear = read_back(state, cipher)
    secrets = {fund["tfn"] for fund in clear.funds if fund["tfn"]}
    secrets |= {m["email"] for group in clear.members.values() for m in group if m["email"]}
    assert secrets, "the demo data has TFNs and e-mail addresses to look for"
    with state.connect() as conn:
        blobs = [bytes(blob) for blob in conn.execute(sa.select(staged_chunks.c.payload)).scalars()]
    raw = b"".join(blobs)
    assert not [secret for secret in secrets if secret.encode() in raw]

    with pytest.raises(ConfigurationError, match="Fernet key"):
        read_back(state, TokenCipher(Fernet.generate_key().decode()))


def test_asking_for_some_funds_reads_only_the_chunks_that_hold_them(source, state, cipher):
    stage_extract(source, state, RUN, FundFilter(), cipher, chunk_size=5)
    every = read_back(state, cipher).funds
    wanted = {every[6]["fund_id"], every[21]["fund_id"]}

    chunks = list(iter_staged(state, RUN, cipher, wanted))

    assert [len(chunk.funds) for chunk in chunks] == [5, 3]
    assert wanted <= {fund["fund_id"] for chunk in chunks for fund in chunk.funds}
    assert list(iter_staged(state, RUN, cipher, set())) == []
    assert list(iter_staged(state, RUN, cipher, {"not-a-fund"})) == []


def test_a_repeated_extract_replaces_the_first_and_clearing_leaves_nothing(source, state, cipher):
    stage_extract(source, state, RUN, FundFilter(), cipher, chunk_size=5)
    stage_extract(source, state, RUN, FundFilter(), cipher, chunk_size=10)
    assert len(read_back(state, cipher).funds) == 23
    assert len(list(iter_staged(state, RUN, cipher))) == 3

    clear_staging(state, RUN)
    assert list(iter_staged(state, RUN, cipher)) == []


def test_a_damaged_chunk_is_refused_by_name_not_read_as_something_else(state, cipher):
    fund = {"fund_id": "f1", "scope_code": "A", "tfn": None, "updated_at": datetime(2026, 1, 1)}
    stage_chunk(state, RUN, 0, FundChunk([fund], {}), cipher)
    with state.begin() as conn:
        conn.execute(sa.update(staged_chunks).values(payload=cipher.encrypt_bytes(b"not a chunk")))
    with pytest.raises(StagingError, match="re-run the extract"):
        read_back(state, cipher)


def test_a_write_that_fails_in_the_writer_thread_fails_the_extract(source, state, cipher):
    class FailingOnThirdChunk(TokenCipher):
        calls = 0

        def encrypt_bytes(self, data: bytes) -> bytes:
            type(self).calls += 1
            if self.calls == 3:
                raise OSError("disk full")
            return super().encrypt_bytes(data)

    failing = FailingOnThirdChunk(Fernet.generate_key().decode())
    with pytest.raises(OSError, match="disk full"):
        stage_extract(source, state, RUN, FundFilter(), failing, chunk_size=5)
    assert FailingOnThirdChunk.calls in (3, 4), "the extract stops at the failed write, not after every chunk"


def test_values_named_by_the_extract_are_staged_with_their_chunk(state, cipher):
    fund = {"fund_id": "f1", "scope_code": "A", "tfn": None, "updated_at": None}
    named = {"f1": ["class_db: funds f1 updated_at: not a date and time"]}
    stage_chunk(state, RUN, 0, FundChunk([fund], {}, named), cipher)
    (chunk,) = iter_staged(state, RUN, cipher)
    assert chunk.problems == named
    assert chunk.funds == [fund]
