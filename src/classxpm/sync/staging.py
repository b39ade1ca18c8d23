"""Run-scoped staging of the Class extract in the state database, encrypted as a whole.

Tasks pass a run reference, never rows: the extract task writes here, later tasks read the same rows
back, and the run's staging is dropped when the run ends. Each extract chunk (up to 5,000 funds with
every member of each) is one row of ``staged_chunks``: its rows as MessagePack, compressed, then
encrypted with the pipeline's Fernet key. So neither a TFN nor a member's personal details are ever in
clear at rest, and a later task reads a chunk back with one query, one decryption and one decode.
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from classxpm.errors import Fatal
from classxpm.identifiers import Tfn
from classxpm.source.extract import FundChunk, FundFilter, iter_fund_chunks
from classxpm.source.schema import funds, members
from classxpm.state.crypto import TokenCipher
from classxpm.sync.tables import staged_chunks

FORMAT = 1
"""The layout of a staged chunk; a reader refuses any other (staging never outlives the run that wrote it)."""
_COMPRESSION_LEVEL = 1
"""zlib's fastest level: it halves the blob, which costs less than encrypting and storing the other half."""
_TIMESTAMPS = frozenset(
    column.name
    for table in (funds, members)
    for column in table.columns
    if isinstance(column.type, sa.DateTime)
)
"""Columns read back as datetimes: MessagePack carries a naive datetime as its ISO text."""

_TFN_EXT = 1
"""MessagePack extension code of a :class:`Tfn`: it is revealed only inside the encrypted blob."""


def _encode_hook(value: object) -> msgspec.msgpack.Ext:
    if isinstance(value, Tfn):
        return msgspec.msgpack.Ext(_TFN_EXT, value.reveal().encode())
    raise NotImplementedError(f"cannot stage a {type(value).__name__}")


def _decode_hook(code: int, data: memoryview) -> Tfn:
    if code != _TFN_EXT:
        raise StagingError(f"a sealed blob holds an unknown extension {code}: re-run the step that wrote it")
    return Tfn(bytes(data).decode())


_encoder = msgspec.msgpack.Encoder(enc_hook=_encode_hook)
_decoder = msgspec.msgpack.Decoder(ext_hook=_decode_hook)


class StagingError(Fatal):
    """A staged chunk cannot be read back as this version of the pipeline writes it."""


@dataclass(frozen=True)
class StageResult:
    """What an extract staged: counts and the newest source timestamp seen (the next watermark)."""

    funds: int
    members: int
    max_updated_at: datetime | None


@dataclass(frozen=True)
class StagedChunk:
    """One staged chunk as columns (column name → its values in row order), for its funds and members.

    Columns suit a data frame (the validation gate); :meth:`fund_chunk` gives the rows the mapping reads.
    """

    funds: dict[str, list[Any]]
    members: dict[str, list[Any]]
    problems: dict[str, list[str]] = field(default_factory=dict)
    """Fund id → the values Class holds against their column's type (see ``FundChunk.problems``)."""

    def fund_chunk(self) -> FundChunk:
        """The chunk as rows: funds, and each fund's members in the order they were extracted."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for member in _rows(self.members):
            grouped.setdefault(member["fund_id"], []).append(member)
        return FundChunk(funds=_rows(self.funds), members=grouped, problems=self.problems)


def _rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows of one table as columns: each name once, not once per row."""
    if not rows:
        return {}
    names = [str(name) for name in rows[0]]
    if any(len(row) != len(names) for row in rows):
        raise ValueError("every staged row of a table must have the same columns")
    return {name: [row[name] for row in rows] for name in names}


def _restored(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Timestamps back to datetimes (MessagePack carries a naive datetime as its ISO text)."""
    for name in _TIMESTAMPS.intersection(columns):
        columns[name] = [datetime.fromisoformat(v) if isinstance(v, str) else v for v in columns[name]]
    return columns


def seal(document: Mapping[str, Any], cipher: TokenCipher) -> bytes:
    """Return ``document`` as MessagePack, compressed, then encrypted: one blob, one Fernet call.

    A :class:`Tfn` inside is revealed only within the encrypted bytes, and comes back as a ``Tfn``.
    """
    return cipher.encrypt_bytes(zlib.compress(_encoder.encode(document), _COMPRESSION_LEVEL))


def unseal(blob: bytes, cipher: TokenCipher, what: str, fix: str) -> dict[str, Any]:
    """Return the document sealed in ``blob`` (TFNs in clear or as ``Tfn``: keep it in memory only).

    Args:
        blob: What :func:`seal` returned.
        cipher: The pipeline's cipher (the key that sealed it).
        what: What the blob is, for the error ("a staged chunk").
        fix: What to do when it cannot be read ("re-run the extract").

    Raises:
        ConfigurationError: The Fernet key that sealed it is no longer configured.
        StagingError: The blob is damaged or not in this version's format.
    """
    try:
        document = _decoder.decode(zlib.decompress(cipher.decrypt_bytes(blob)))
    except (zlib.error, msgspec.DecodeError):
        raise StagingError(f"{what} is damaged: {fix}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StagingError(f"{what} is not in staging format {FORMAT}: {fix}")
    return document


def pack_chunk(chunk: FundChunk, cipher: TokenCipher) -> bytes:
    """Return the encrypted blob that stages ``chunk``."""
    member_rows = [member for group in chunk.members.values() for member in group]
    document = {
        "format": FORMAT,
        "funds": _columns(chunk.funds),
        "members": _columns(member_rows),
        "problems": chunk.problems,
    }
    return seal(document, cipher)


def unpack_chunk(blob: bytes, cipher: TokenCipher) -> StagedChunk:
    """Return the chunk staged as ``blob`` (TFNs in clear: keep it in memory only).

    Raises:
        ConfigurationError: The Fernet key that staged it is no longer configured.
        StagingError: The blob is not a chunk of this staging format.
    """
    document = unseal(blob, cipher, "a staged chunk", "re-run the extract")
    problems = document.get("problems") or {}
    return StagedChunk(_restored(document["funds"]), _restored(document["members"]), problems)


def stage_chunk(state: Engine, run_id: str, chunk_no: int, chunk: FundChunk, cipher: TokenCipher) -> None:
    """Write one chunk of funds and their members into the run's staging."""
    fund_ids = [fund["fund_id"] for fund in chunk.funds]
    row = {
        "run_id": run_id,
        "chunk_no": chunk_no,
        "first_fund_id": min(fund_ids),
        "last_fund_id": max(fund_ids),
        "funds": len(fund_ids),
        "members": sum(len(group) for group in chunk.members.values()),
        "payload": pack_chunk(chunk, cipher),
    }
    with state.begin() as conn:
        conn.execute(sa.insert(staged_chunks), row)


def stage_extract(
    source: Engine,
    state: Engine,
    run_id: str,
    flt: FundFilter,
    cipher: TokenCipher,
    *,
    chunk_size: int = 5_000,
) -> StageResult:
    """Stage the funds matching ``flt`` from the Class database as the run's staging (``stage_chunks``)."""
    return stage_chunks(state, run_id, iter_fund_chunks(source, flt, chunk_size), cipher)


def stage_chunks(state: Engine, run_id: str, chunks: Iterable[FundChunk], cipher: TokenCipher) -> StageResult:
    """Stage ``chunks`` (from either source) as the run's staging, replacing what an earlier attempt staged.

    One chunk is written (compressed, encrypted, stored) by a second thread while the next is read, so
    the waits on the source and the state database overlap; memory holds two chunks at most.
    """
    clear_staging(state, run_id)
    fund_count = member_count = 0
    newest: datetime | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="classxpm-staging") as writer:
        writing: Future[None] | None = None
        for chunk_no, chunk in enumerate(chunks):
            if writing is not None:
                writing.result()  # raises what the previous write raised
            writing = writer.submit(stage_chunk, state, run_id, chunk_no, chunk, cipher)
            fund_count += len(chunk.funds)
            member_count += sum(len(group) for group in chunk.members.values())
            stamp = chunk.max_updated_at
            newest = stamp if newest is None or (stamp is not None and stamp > newest) else newest
        if writing is not None:
            writing.result()
    return StageResult(fund_count, member_count, newest)


def iter_staged(
    state: Engine, run_id: str, cipher: TokenCipher, fund_ids: Collection[str] | None = None
) -> Iterator[FundChunk]:
    """Yield the run's staged funds with their members (TFNs decrypted, in memory only), chunk by chunk.

    Args:
        state: The state database.
        run_id: The run whose staging to read.
        cipher: The pipeline's cipher (the key that staged the run).
        fund_ids: Only the chunks holding at least one of these funds (each still yields whole); None
            reads every chunk.

    Yields:
        Chunks in the order they were extracted; memory holds one chunk however large the run.
    """
    for chunk in iter_staged_chunks(state, run_id, cipher, fund_ids):
        yield chunk.fund_chunk()


def iter_staged_chunks(
    state: Engine, run_id: str, cipher: TokenCipher, fund_ids: Collection[str] | None = None
) -> Iterator[StagedChunk]:
    """Like :func:`iter_staged`, but each chunk as columns.

    The next chunk is fetched and decrypted on a second thread while the caller works on this one, so
    memory holds two chunks at most.
    """
    wanted = sorted(fund_ids) if fund_ids is not None else None
    with state.connect() as conn:
        index = conn.execute(
            sa.select(staged_chunks.c.chunk_no, staged_chunks.c.first_fund_id, staged_chunks.c.last_fund_id)
            .where(staged_chunks.c.run_id == run_id)
            .order_by(staged_chunks.c.chunk_no)
        ).all()
    numbers = [
        entry.chunk_no
        for entry in index
        if wanted is None or holds_any(wanted, entry.first_fund_id, entry.last_fund_id)
    ]
    if not numbers:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="classxpm-staging") as reader:
        coming = reader.submit(_read_chunk, state, run_id, numbers[0], cipher)
        for following in [*numbers[1:], None]:
            chunk = coming.result()
            if following is not None:
                coming = reader.submit(_read_chunk, state, run_id, following, cipher)
            yield chunk


def _read_chunk(state: Engine, run_id: str, chunk_no: int, cipher: TokenCipher) -> StagedChunk:
    with state.connect() as conn:
        blob = conn.execute(
            sa.select(staged_chunks.c.payload).where(
                staged_chunks.c.run_id == run_id, staged_chunks.c.chunk_no == chunk_no
            )
        ).scalar_one()
    return unpack_chunk(blob, cipher)


def holds_any(wanted: list[str], first: str, last: str) -> bool:
    """True when a sorted ``wanted`` has an id between ``first`` and ``last`` (a chunk's fund-id range)."""
    at = bisect.bisect_left(wanted, first)
    return at < len(wanted) and wanted[at] <= last


def clear_staging(state: Engine, run_id: str) -> None:
    """Drop everything the run staged."""
    with state.begin() as conn:
        conn.execute(sa.delete(staged_chunks).where(staged_chunks.c.run_id == run_id))
