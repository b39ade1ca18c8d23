from __future__ import annotations

import pytest

from classxpm.xpm.config import RetrySettings
from classxpm.xpm.errors import ConfigurationError, Deferred, RateLimited, Retriable
from classxpm.xpm.retry import RetryPolicy


class Flaky:
    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def policy(sleeps, attempts=4, **settings):
    return RetryPolicy(RetrySettings(attempts=attempts, **settings), sleep=sleeps.append, jitter=lambda d: d)


def test_backoff_doubles_and_is_capped():
    sleeps = []
    send = Flaky(*[Retriable("5xx", 500, request_sent=True)] * 4)
    result = policy(sleeps, attempts=5, backoff_base=1, backoff_cap=3).run(send, idempotent=True, what="t")
    assert result == "ok"
    assert sleeps == [1, 2, 3, 3]


def test_retry_after_is_honoured_and_capped():
    sleeps = []
    send = Flaky(RateLimited("m", 429, 22, request_sent=True), RateLimited("m", 429, 900, request_sent=True))
    policy(sleeps, retry_after_cap=60).run(send, idempotent=False, what="t")
    assert sleeps == [22, 60]


def test_attempts_are_counted():
    sleeps = []
    send = Flaky(*[Retriable("5xx", 500, request_sent=True)] * 10)
    with pytest.raises(Retriable):
        policy(sleeps, attempts=3).run(send, idempotent=True, what="t")
    assert send.calls == 3


@pytest.mark.parametrize("error", [Deferred(3600), ConfigurationError("bad")])
def test_deferred_and_fatal_are_raised_at_once(error):
    sleeps = []
    send = Flaky(error)
    with pytest.raises(type(error)):
        policy(sleeps).run(send, idempotent=True, what="t")
    assert (send.calls, sleeps) == (1, [])


def test_a_write_that_may_have_been_applied_is_not_repeated():
    sleeps = []
    send = Flaky(Retriable("timeout", request_sent=True))
    with pytest.raises(Retriable):
        policy(sleeps).run(send, idempotent=False, what="POST add")
    assert send.calls == 1


def test_a_write_that_never_arrived_is_repeated():
    sleeps = []
    send = Flaky(Retriable("refused", request_sent=False), Retriable("busy", 503, request_sent=True))
    assert policy(sleeps).run(send, idempotent=False, what="POST add") == "ok"
    assert send.calls == 3


def test_jitter_spreads_within_upper_half():
    from classxpm.xpm.retry import full_jitter

    assert all(4 <= full_jitter(8) <= 8 for _ in range(100))
