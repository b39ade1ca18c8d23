"""Shards: each sync task works a list of businesses, so a run's task count is bounded by neither limit.

Airflow maps a task over at most ``max_map_length`` (1,024) items, and every task instance costs a process
and the scheduler's attention. So ``start`` cuts the run's businesses into shards of at most
``CLASSXPM_SHARD_BUSINESSES`` (default 50), and each mapped task works its shard's businesses at once on up
to ``CLASSXPM_SHARD_THREADS`` threads (default 4), each business under its own tenant lease and call budget
as before. One business's failure is recorded on its own sync run and never holds the others back: a
shard's steps go on with the businesses still running, and the report task succeeds when any business of
its shard synced (Airflow keeps a task's asset events only then), logging each failed one at ERROR. The
DAG's ``finish`` teardown fails the DAG run at the end when any business of the run failed, naming them.

Every function here runs inside a task, never at parse time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from classxpm.airflow.outcomes import FAILED, SKIPPED, task_outcomes
from classxpm.settings import positive_setting
from classxpm.sync.run_store import UNFINISHED_REASON

if TYPE_CHECKING:
    from classxpm.airflow.resources import SyncResources
    from classxpm.sync.run import RunRef, SyncEnv

log = logging.getLogger(__name__)

T = TypeVar("T")

SHARD_BUSINESSES_ENV = "CLASSXPM_SHARD_BUSINESSES"
DEFAULT_SHARD_BUSINESSES = 50
"""50 businesses a shard: 3,000 businesses make 60 mapped tasks a step, far below ``max_map_length``."""
SHARD_THREADS_ENV = "CLASSXPM_SHARD_THREADS"
DEFAULT_SHARD_THREADS = 4
"""Businesses a task works at once: each mostly waits on XPM, the Class source or the state database.

Each thread holds database connections (``resources.shard_pool``): 4 threads keep a worker of 4 slots
within about 40 connections to each database, which a default PostgreSQL (100) can serve beside Airflow."""
DONE = "done"
RETRY = "retry"


def shard_businesses(environ: Mapping[str, str] = os.environ) -> int:
    """``CLASSXPM_SHARD_BUSINESSES``: the most businesses one shard holds (default 50).

    Raises:
        ConfigurationError: The value is not a number above 0.
    """
    value = positive_setting(environ, SHARD_BUSINESSES_ENV, "businesses")
    return DEFAULT_SHARD_BUSINESSES if value is None else max(1, int(value))


def shard_threads(environ: Mapping[str, str] = os.environ) -> int:
    """``CLASSXPM_SHARD_THREADS``: how many of a shard's businesses one task works at once (default 4).

    Raises:
        ConfigurationError: The value is not a number above 0.
    """
    value = positive_setting(environ, SHARD_THREADS_ENV, "threads")
    return DEFAULT_SHARD_THREADS if value is None else max(1, int(value))


def cut(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` in order, in lists of at most ``size``: the shards the mapped tasks expand over."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def pack(units: Sequence[tuple[T, int]], limit: int) -> list[list[T]]:
    """Units (item, writes) in order, grouped so a group's writes stay within ``limit``.

    A unit over the limit has a group of its own; units with no writes join the current group, so a
    shard of small businesses makes one upsert task, and a large business's batches make one each.
    """
    groups: list[list[T]] = []
    total = 0
    for item, writes in units:
        if not groups or (total + writes > limit and total > 0):
            groups.append([])
            total = 0
        groups[-1].append(item)
        total += writes
    return groups


@dataclass
class Outcome:
    """How one business's step ended: ``done`` (with its result), ``skipped``, ``failed`` or ``retry``."""

    business_id: str
    status: str
    result: Any = None
    reason: str = ""
    error: BaseException | None = field(default=None, repr=False)


def live(state: Any, refs: Sequence[RunRef]) -> list[RunRef]:
    """The businesses of ``refs`` whose sync runs are still running (an earlier step may have ended some)."""
    from classxpm.sync.run_store import statuses

    found = statuses(state, [ref.run_id for ref in refs])
    return [ref for ref in refs if found.get(ref.run_id) == "running"]


def end_run(state: Any, run_id: str, outcome: str, reason: str) -> None:
    """End one sync run as ``outcome`` for ``reason`` (a no-op once it ended)."""
    from classxpm.sync.run_store import end_runs
    from classxpm.xpm.auth import utcnow

    end_runs(state, [run_id], outcome, reason, utcnow())


def end_runs_quietly(run_ids: Sequence[str], outcome: str, reason: str) -> None:
    """End the runs still running among ``run_ids``; if the state database cannot, ``finish`` ends them."""
    if not run_ids:
        return
    import sqlalchemy as sa

    from classxpm.airflow.connections import STATE_CONN_ID
    from classxpm.airflow.resources import engine
    from classxpm.sync.run_store import end_runs
    from classxpm.xpm.auth import utcnow

    try:
        with engine(STATE_CONN_ID) as state:
            end_runs(state, run_ids, outcome, reason, utcnow())
    except sa.exc.SQLAlchemyError as exc:
        log.warning("the sync runs were not ended (%s): the finish task ends them", type(exc).__name__)


@contextmanager
def shard_resources(refs: Sequence[RunRef]) -> Iterator[SyncResources]:
    """The resources a shard's businesses share; an error opening them ends every run of the shard."""
    from classxpm.airflow.resources import sync_resources

    run_ids = [ref.run_id for ref in refs]
    with (
        task_outcomes(lambda outcome, reason: end_runs_quietly(run_ids, outcome, reason)),
        sync_resources() as shared,
    ):
        yield shared


def each_business(
    shared: SyncResources,
    refs: Sequence[RunRef],
    step: Callable[[SyncEnv, RunRef], T],
    *,
    final_try: bool,
    threads: int | None = None,
) -> list[Outcome]:
    """Run ``step`` for each business at once (each with its own XPM session), and say how each ended.

    A business whose step is skipped or fails (the error taxonomy, as ``task_outcomes`` reads it) has its
    run ended so and the others go on. A retriable error is kept for the task to raise once the others
    finished (the shard's task then retries: every step is safe to repeat), unless this is the task's
    final try: then that business's run is ended failed and the others go on.
    """
    if not refs:
        return []
    workers = min(threads or shard_threads(), len(refs))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="business") as pool:
        return list(pool.map(lambda ref: _one(shared, ref, step, final_try), refs))


def _one(
    shared: SyncResources, ref: RunRef, step: Callable[[SyncEnv, RunRef], T], final_try: bool
) -> Outcome:
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from classxpm.airflow.resources import business_env

    def end(outcome: str, reason: str) -> None:
        end_run(shared.state, ref.run_id, outcome, reason)

    try:
        with task_outcomes(end), business_env(shared) as env:
            return Outcome(ref.business_id, DONE, step(env, ref))
    except AirflowSkipException as exc:
        return Outcome(ref.business_id, SKIPPED, reason=str(exc))
    except AirflowFailException as exc:
        return Outcome(ref.business_id, FAILED, reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - retriable: the task retries once the shard's others are done
        reason = _reason(exc)
        log.warning("business %s: %s", ref.business_id, reason)
        if not final_try:
            return Outcome(ref.business_id, RETRY, reason=reason, error=exc)
        end(FAILED, f"{UNFINISHED_REASON}: {reason}, with no retry left")
        return Outcome(ref.business_id, FAILED, reason=reason)


def _reason(exc: Exception) -> str:
    """What the run's row may say of an error: our own errors' words; of any other, only its kind."""
    from classxpm.errors import ClassXpmError

    return f"{type(exc).__name__}: {exc}" if isinstance(exc, ClassXpmError) else type(exc).__name__


def settle(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The task's outcome once every business of the shard had its turn; returns the ones done.

    Logs each business that did not finish its step. A retriable error is raised (the task retries); when
    no business of the shard is left, the task fails if any business failed and is skipped otherwise.

    Raises:
        Exception: The first retriable error.
        AirflowFailException: No business is left and one failed.
        AirflowSkipException: No business is left and every one was skipped.
    """
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    for outcome in outcomes:
        if outcome.status != DONE:
            log.warning("business %s: %s (%s)", outcome.business_id, outcome.status, outcome.reason)
    retry = next((o.error for o in outcomes if o.status == RETRY), None)
    if retry is not None:
        raise retry
    done = [o for o in outcomes if o.status == DONE]
    if done or not outcomes:
        return done
    failed = [o.business_id for o in outcomes if o.status == FAILED]
    if failed:
        raise AirflowFailException(failed_message(failed))
    raise AirflowSkipException("every business of this shard was skipped: see each one's reason above")


def failed_message(business_ids: Sequence[str], of: str = "this shard") -> str:
    """The task's failure message: how many businesses ``of`` a shard or run failed and which.

    Only ids: the sync runs and the log say why, so nothing of a fund's data reaches the message.
    """
    shown = ", ".join(business_ids[:20]) + (", ..." if len(business_ids) > 20 else "")
    return f"{len(business_ids)} businesses of {of} failed: {shown} (their sync runs and the log say why)"
