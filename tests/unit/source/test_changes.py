"""The watcher's debounce: when a moving fingerprint becomes an event, with time given, never slept."""

from __future__ import annotations

import pytest

from classxpm.source.changes import Debounce, changed_businesses, from_json, to_json

QUIET, MAX_WAIT, POLL = 5.0, 60.0, 5.0
START = {"a": (10, 20, "2026-01-01 00:00:00", "2026-01-01 00:00:00"), "b": (3, 4, "2026-01-02", "2026-01-02")}


def _moved(fingerprint: dict, business: str, funds: int) -> dict:
    _, members, newest_fund, newest_member = fingerprint[business]
    return {**fingerprint, business: (funds, members, newest_fund, newest_member)}


def _debounce(baseline: dict | None = START) -> Debounce:
    return Debounce(QUIET, MAX_WAIT, baseline=dict(baseline) if baseline else None)


def test_the_first_fingerprint_without_a_stored_one_only_sets_the_baseline():
    debounce = _debounce(None)
    assert debounce.observe(START, 0.0) == []
    assert debounce.observe(START, POLL) == []
    assert debounce.baseline == START


def test_one_change_fires_once_the_next_poll_sees_it_unchanged():
    debounce, changed = _debounce(), _moved(START, "b", 4)
    assert debounce.observe(changed, 0.0) == []
    assert debounce.pending
    assert debounce.observe(changed, POLL) == ["b"]
    assert not debounce.pending
    assert debounce.observe(changed, 2 * POLL) == [], "a fired change does not fire again"


def test_a_stored_baseline_fires_for_what_changed_while_the_watcher_was_down():
    debounce, changed = _debounce(), _moved(START, "a", 11)
    debounce.observe(changed, 0.0)
    assert debounce.observe(changed, POLL) == ["a"]


def test_a_burst_of_inserts_is_one_event_when_it_pauses():
    debounce = _debounce()
    fired = [debounce.observe(_moved(START, "a", 10 + n), n * POLL) for n in range(1, 6)]
    fired.append(debounce.observe(_moved(START, "a", 15), 6 * POLL))
    assert fired == [[], [], [], [], [], ["a"]]


def test_a_burst_that_never_pauses_still_fires_every_max_wait():
    debounce = _debounce()
    fired_at = [n for n in range(1, 40) if debounce.observe(_moved(START, "a", 10 + n), n * POLL)]
    assert fired_at == [13, 26, 39], "a burst from 5 s on: an event 60 s after each first unfired change"


def test_a_change_undone_before_it_settles_fires_nothing():
    debounce = _debounce()
    debounce.observe(_moved(START, "a", 11), 0.0)
    assert debounce.observe(START, POLL) == []
    assert debounce.observe(START, 2 * POLL) == []
    assert not debounce.pending


def test_changes_name_businesses_that_appear_move_or_disappear():
    after = {"b": START["b"], "c": (1, 0, "2026-02-01", None)}
    assert changed_businesses(START, after) == ["a", "c"]
    assert changed_businesses(START, START) == []


def test_the_fingerprint_survives_its_json_round_trip_and_junk_reads_as_none():
    assert from_json(to_json(START)) == START
    assert from_json(None) is None
    assert from_json("junk") is None


@pytest.mark.parametrize("quiet", [0.0, QUIET])
def test_a_quiet_period_of_zero_fires_on_the_poll_that_sees_the_change(quiet):
    debounce = Debounce(quiet, MAX_WAIT, baseline=dict(START))
    fired = debounce.observe(_moved(START, "a", 11), 0.0)
    assert fired == (["a"] if quiet == 0.0 else [])
