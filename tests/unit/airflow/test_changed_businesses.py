"""An event-started incremental run syncs the businesses the watcher's events named, and only those."""

from __future__ import annotations

from types import SimpleNamespace

from classxpm.airflow.watch import changed_businesses


def event(extra):
    return SimpleNamespace(extra=extra)


def watcher(*businesses: str):
    return event({"from_trigger": True, "payload": {"businesses": list(businesses)}})


def test_a_run_with_no_triggering_event_syncs_every_business():
    assert changed_businesses({}) is None


def test_the_businesses_of_every_queued_event_are_synced_together():
    events = {"x-classxpm-watch://class_db/changes": [watcher("b-1"), watcher("b-2", "b-1")]}
    assert changed_businesses(events) == frozenset({"b-1", "b-2"})


def test_an_event_naming_no_business_widens_the_run_to_every_business():
    for stray in (event({}), event(None), event({"payload": {"businesses": "b-1"}}), event({"payload": 7})):
        events = {"changes": [watcher("b-1"), stray]}
        assert changed_businesses(events) is None


def test_an_event_naming_an_empty_list_syncs_nothing_it_did_not_name():
    assert changed_businesses({"changes": [watcher()]}) == frozenset()
