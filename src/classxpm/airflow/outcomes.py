"""The one adapter from the project's error taxonomy (``classxpm.errors``) to Airflow's task outcomes.

Every task runs its work inside ``task_outcomes``:

- not authorised: skipped, with ``Xero Integration not Authorised`` logged at WARNING first;
- daily quota spent before anything could be sent: skipped, saying when the quota resets;
- re-authorisation required: failed without retries, with the seed's message;
- fatal: failed without retries, naming what to fix;
- records refused (reported once every other record went through): failed without retries;
- retriable (and anything else): re-raised for Airflow's task retries.

An ``on_end`` callback hears the outcome (``skipped`` or ``failed``) and its reason before Airflow does, so
the sync can record it on its runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from classxpm.errors import Fatal, NotAuthorised, QuotaSpent, Reauthorise, RecordRefused

log = logging.getLogger(__name__)

SKIPPED = "skipped"
FAILED = "failed"

OnEnd = Callable[[str, str], None]
"""Called with the outcome (``skipped`` or ``failed``) and the reason, before the task ends so."""


def _ignore(_outcome: str, _reason: str) -> None:
    """The default ``on_end``: nothing to record."""


@contextmanager
def task_outcomes(on_end: OnEnd = _ignore) -> Iterator[None]:
    """Run a task's work, turning the taxonomy's errors into Airflow's skip, fail or retry.

    Raises:
        AirflowSkipException: Not authorised, or the daily quota is spent.
        AirflowFailException: Re-authorisation required, or a fatal error (no retries).
    """
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    try:
        yield
    except NotAuthorised as exc:
        log.warning("%s", exc)
        on_end(SKIPPED, str(exc))
        raise AirflowSkipException(str(exc)) from None
    except QuotaSpent as exc:
        reason = f"XPM's daily call quota for the tenant is spent; it resets {exc.when()}"
        log.warning("%s: skipping; the next run goes on from here", reason)
        on_end(SKIPPED, reason)
        raise AirflowSkipException(reason) from None
    except Reauthorise as exc:
        log.error("%s (%s)", exc, exc.reason or "no detail")
        on_end(FAILED, str(exc))
        raise AirflowFailException(str(exc)) from None
    except (Fatal, RecordRefused) as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        on_end(FAILED, str(exc))
        raise AirflowFailException(str(exc)) from None
