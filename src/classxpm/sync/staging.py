"""Run-scoped staging of the Class extract in the state database, with the TFN encrypted.

Tasks pass a run reference, never rows: the extract task writes here, later tasks read the same rows
back, and the run's staging is dropped when the run ends. A TFN is held only as Fernet ciphertext.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from classxpm.source.extract import FundChunk, FundFilter, iter_fund_chunks
from classxpm.state.crypto import TokenCipher
from classxpm.sync.tables import staged_funds, staged_members


@dataclass(frozen=True)
class StageResult:
    """What an extract staged: counts and the newest source timestamp seen (the next watermark)."""

    funds: int
    members: int
    max_updated_at: datetime | None


def _jsonable(row: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, date | datetime) else value
        for key, value in row.items()
        if key not in drop
    }


def _fund_row(run_id: str, fund: dict[str, Any], cipher: TokenCipher) -> dict[str, Any]:
    tfn = fund.get("tfn")
    return {
        "run_id": run_id,
        "fund_id": fund["fund_id"],
        "scope_code": fund["scope_code"],
        "data": _jsonable(fund, drop=("tfn",)),
        "tfn_encrypted": cipher.encrypt(str(tfn)) if tfn not in (None, "") else None,
        "updated_at": fund["updated_at"],
    }


def stage_chunk(state: Engine, run_id: str, chunk: FundChunk, cipher: TokenCipher) -> None:
    """Write one chunk of funds and their members into the run's staging."""
    member_rows = [
        {"run_id": run_id, "member_id": m["member_id"], "fund_id": fund_id, "data": _jsonable(m)}
        for fund_id, group in chunk.members.items()
        for m in group
    ]
    with state.begin() as conn:
        conn.execute(sa.insert(staged_funds), [_fund_row(run_id, fund, cipher) for fund in chunk.funds])
        if member_rows:
            conn.execute(sa.insert(staged_members), member_rows)


def stage_extract(
    source: Engine,
    state: Engine,
    run_id: str,
    flt: FundFilter,
    cipher: TokenCipher,
    *,
    chunk_size: int = 5_000,
) -> StageResult:
    """Extract the funds matching ``flt`` from Class into the run's staging.

    Safe to repeat: a retried extract replaces what an earlier attempt staged.
    """
    clear_staging(state, run_id)
    funds = members = 0
    newest: datetime | None = None
    for chunk in iter_fund_chunks(source, flt, chunk_size):
        stage_chunk(state, run_id, chunk, cipher)
        funds += len(chunk.funds)
        members += sum(len(group) for group in chunk.members.values())
        stamp = chunk.max_updated_at
        newest = stamp if newest is None or (stamp is not None and stamp > newest) else newest
    return StageResult(funds, members, newest)


def _restore(data: dict[str, Any]) -> dict[str, Any]:
    restored = dict(data)
    for key in ("created_at", "updated_at"):
        if isinstance(restored.get(key), str):
            restored[key] = datetime.fromisoformat(restored[key])
    return restored


def iter_staged(
    state: Engine, run_id: str, cipher: TokenCipher, chunk_size: int = 5_000
) -> Iterator[FundChunk]:
    """Yield the run's staged funds (TFN decrypted, in memory only) with their members, in fund-id order."""
    last_id = ""
    while True:
        with state.connect() as conn:
            rows = conn.execute(
                sa.select(staged_funds.c.fund_id, staged_funds.c.data, staged_funds.c.tfn_encrypted)
                .where(staged_funds.c.run_id == run_id, staged_funds.c.fund_id > last_id)
                .order_by(staged_funds.c.fund_id)
                .limit(chunk_size)
            ).all()
            if not rows:
                return
            first, last = rows[0].fund_id, rows[-1].fund_id
            # The chunk holds every staged fund from first to last, so a key range finds its members
            # without binding thousands of ids.
            member_rows = conn.execute(
                sa.select(staged_members.c.fund_id, staged_members.c.data)
                .where(
                    staged_members.c.run_id == run_id,
                    staged_members.c.fund_id >= first,
                    staged_members.c.fund_id <= last,
                )
                .order_by(staged_members.c.fund_id, staged_members.c.member_id)
            ).all()
        funds = [
            {**_restore(row.data), "tfn": cipher.decrypt(row.tfn_encrypted) if row.tfn_encrypted else None}
            for row in rows
        ]
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in member_rows:
            grouped.setdefault(row.fund_id, []).append(_restore(row.data))
        yield FundChunk(funds=funds, members=grouped)
        last_id = last


def clear_staging(state: Engine, run_id: str) -> None:
    """Drop everything the run staged."""
    with state.begin() as conn:
        conn.execute(sa.delete(staged_members).where(staged_members.c.run_id == run_id))
        conn.execute(sa.delete(staged_funds).where(staged_funds.c.run_id == run_id))
