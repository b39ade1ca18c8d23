"""Cutting a run's businesses into shards, packing upsert batches into tasks, and a shard task's outcome."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from classxpm.airflow.shards import (
    DEFAULT_SHARD_BUSINESSES,
    DONE,
    FAILED,
    RETRY,
    SKIPPED,
    Outcome,
    cut,
    pack,
    settle,
    shard_businesses,
    shard_threads,
)
from classxpm.xpm.errors import ConfigurationError

AIRFLOW_MAX_MAP_LENGTH = 1024


def test_three_thousand_businesses_make_sixty_shards_in_order_well_within_the_map_length():
    businesses = [f"b-{n:04d}" for n in range(3000)]

    shards = cut(businesses, shard_businesses({}))

    assert len(shards) == 3000 // DEFAULT_SHARD_BUSINESSES == 60 < AIRFLOW_MAX_MAP_LENGTH
    assert all(len(shard) == DEFAULT_SHARD_BUSINESSES for shard in shards)
    assert [b for shard in shards for b in shard] == businesses, "every business once, in order"
    assert cut(businesses[:5], 2) == [businesses[0:2], businesses[2:4], businesses[4:5]]
    assert cut([], 50) == []


def test_the_shard_settings_are_read_from_the_environment_and_refuse_nonsense():
    assert shard_businesses({"CLASSXPM_SHARD_BUSINESSES": "2"}) == 2
    assert shard_threads({}) == 4
    assert shard_threads({"CLASSXPM_SHARD_THREADS": "3"}) == 3
    with pytest.raises(ConfigurationError, match="CLASSXPM_SHARD_BUSINESSES must be more than 0"):
        shard_businesses({"CLASSXPM_SHARD_BUSINESSES": "0"})
    with pytest.raises(ConfigurationError, match="CLASSXPM_SHARD_THREADS must be a number of threads"):
        shard_threads({"CLASSXPM_SHARD_THREADS": "many"})


def test_unchanged_businesses_pack_into_one_upsert_task_and_a_large_one_fans_out():
    unchanged = [(f"b-{n}", 0) for n in range(50)]
    assert pack(unchanged, 500) == [[b for b, _ in unchanged]], "a shard of no-change businesses: one task"

    large = [(("big", i), 100) for i in range(20)]  # 2,000 writes in batches of 100
    assert pack(large, 100) == [[("big", i)] for i in range(20)], "each batch its own task"

    small = [("a", 30), ("b", 30), ("c", 50), ("d", 0), ("e", 600), ("f", 10)]
    assert pack(small, 100) == [["a", "b"], ["c", "d"], ["e"], ["f"]], "within the limit, in order"


def _outcome(business: str, status: str, error: BaseException | None = None) -> Outcome:
    return Outcome(business, status, result=status == DONE, reason=f"{business} {status}", error=error)


def test_a_shard_task_goes_on_while_one_business_is_left_and_ends_as_its_businesses_did():
    mixed = [_outcome("a", DONE), _outcome("b", FAILED), _outcome("c", SKIPPED)]
    assert [o.business_id for o in settle(mixed)] == ["a"], "a failed business holds back no other"
    assert settle([]) == [], "no business left running: nothing to do"

    with pytest.raises(AirflowFailException, match="1 businesses of this shard failed: b"):
        settle([_outcome("b", FAILED), _outcome("c", SKIPPED)])
    with pytest.raises(AirflowSkipException):
        settle([_outcome("c", SKIPPED)])

    retriable = TimeoutError("the state database did not answer")
    with pytest.raises(TimeoutError):
        settle([_outcome("a", DONE), _outcome("d", RETRY, retriable)])


def test_a_sync_tasks_pools_are_sized_by_its_shard_threads_on_a_server_and_left_alone_on_sqlite(
    monkeypatch, tmp_path
):
    from classxpm.airflow.resources import open_engine, shard_pool

    monkeypatch.setenv("CLASSXPM_SHARD_THREADS", "3")
    assert shard_pool() == {"pool_size": 4, "max_overflow": 4}
    server = open_engine("unused", "postgresql+psycopg://127.0.0.1/classxpm", **shard_pool())
    assert (server.pool.size(), server.pool._max_overflow) == (4, 4)
    server.dispose()
    sqlite = open_engine("unused", f"sqlite:///{tmp_path / 'state.db'}", **shard_pool())
    assert sqlite.pool.size() == 5, "SQLAlchemy's own pool: a file has no connection limit"
    sqlite.dispose()


@pytest.mark.parametrize("compact", [False, True])
def test_a_task_returning_each_businesss_result_pushes_one_xcom_not_one_a_business(compact):
    from classxpm.airflow.sync_dag import build_sync_dag

    dag = build_sync_dag("probe_sync", None, "full", "probe", compact=compact)
    returning_dicts = ["finish", "sync"] if compact else ["finish", "upsert", "report"]
    assert {task: dag.get_task(task).multiple_outputs for task in returning_dicts} == dict.fromkeys(
        returning_dicts, False
    ), "a dict annotation would make Airflow push a key at a time: 3,000 calls to the API server"
