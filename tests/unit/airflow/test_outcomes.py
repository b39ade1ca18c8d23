"""The one adapter from the error taxonomy to Airflow's outcomes, one row per root."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from classxpm.airflow.outcomes import task_outcomes
from classxpm.db import DatabaseUrlError
from classxpm.errors import REAUTHORISE_MESSAGE, ClassXpmError, QuotaSpent
from classxpm.mapping import MappingError
from classxpm.sync.lease import TenantBusy
from classxpm.sync.staging import StagingError
from classxpm.xpm.errors import ConfigurationError, Deferred, NotAuthorised, Reauthorise, Retriable

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def _outcome_of(error: Exception) -> tuple[type[BaseException], str, list[tuple[str, str]]]:
    ended: list[tuple[str, str]] = []
    with (
        pytest.raises((AirflowSkipException, AirflowFailException, ClassXpmError)) as caught,
        task_outcomes(lambda *end: ended.append(end)),
    ):
        raise error
    return caught.type, str(caught.value), ended


def test_not_authorised_skips_after_a_warning_that_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="classxpm.airflow.outcomes"):
        kind, message, ended = _outcome_of(NotAuthorised())

    assert kind is AirflowSkipException
    assert message == "Xero Integration not Authorised"
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "Xero Integration not Authorised")
    ]
    assert ended == [("skipped", "Xero Integration not Authorised")]


def test_a_spent_quota_skips_saying_when_it_resets():
    kind, message, ended = _outcome_of(Deferred(3600, now=NOW))

    assert kind is AirflowSkipException
    assert "resets at 2026-05-01 10:00 UTC, in 3600 s" in message
    assert ended == [("skipped", message)]


def test_a_spent_quota_whose_reset_xpm_did_not_say_is_still_a_skip():
    kind, message, _ = _outcome_of(QuotaSpent(None))

    assert kind is AirflowSkipException
    assert "an unknown time" in message


def test_re_authorisation_fails_without_retries_with_the_seeds_message():
    kind, message, ended = _outcome_of(Reauthorise("invalid_grant"))

    assert kind is AirflowFailException
    assert message == REAUTHORISE_MESSAGE
    assert ended == [("failed", REAUTHORISE_MESSAGE)]


@pytest.mark.parametrize(
    "error",
    [
        MappingError(["client.yaml: fields.Name: unknown column"]),
        StagingError("chunk 3 was written by another version"),
        DatabaseUrlError("not a database URL: nowhere"),
        ConfigurationError("the XPM connection needs a client id (login) and secret (password)"),
    ],
)
def test_a_fatal_error_fails_without_retries_naming_what_to_fix(error):
    kind, message, ended = _outcome_of(error)

    assert kind is AirflowFailException
    assert message == str(error)
    assert ended == [("failed", str(error))]


@pytest.mark.parametrize(
    "error",
    [
        TenantBusy("tenant t is being synced by run r"),
        Retriable("XPM answered HTTP 503", 503, request_sent=True),
    ],
)
def test_a_retriable_error_is_left_to_airflows_retries(error):
    kind, message, ended = _outcome_of(error)

    assert kind is type(error)
    assert message == str(error)
    assert ended == []
