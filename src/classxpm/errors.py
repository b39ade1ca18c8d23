"""The project's one error taxonomy: every exception in ``classxpm`` derives from one of these roots.

What a root says is what the caller does about it, and ``classxpm.airflow.outcomes`` turns each into one
Airflow outcome:

- ``Fatal``: no retry helps (configuration, source contract, mapping, a bad key): fail, name what to fix.
- ``Retriable``: transient (network, HTTP 5xx and 429, a lease held by another run): try again later.
- ``RecordRefused``: one fund or member is refused; it is reported and the run goes on.
- ``NotAuthorised`` and ``Reauthorise``: the seed's two states of the Xero grant.
- ``QuotaSpent``: the tenant's daily call quota is spent; nothing more is sent until it resets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NOT_AUTHORISED_MESSAGE = "Xero Integration not Authorised"
REAUTHORISE_MESSAGE = "Sync failed. Token expired. Re-authorisation required."


class ClassXpmError(Exception):
    """Base of every error the project defines."""


class Fatal(ClassXpmError):
    """A failure that repeating cannot fix; the message names what to fix."""


class Retriable(ClassXpmError):
    """A transient failure: the same work may pass when tried again."""


class RecordRefused(ClassXpmError):
    """One record (a fund or a member) is refused; the run goes on with the others."""


class NotAuthorised(ClassXpmError):
    """No grant is stored for the business: the integration was never authorised (or was unlinked)."""

    def __init__(self) -> None:
        super().__init__(NOT_AUTHORISED_MESSAGE)


class Reauthorise(ClassXpmError):
    """The grant is expired or revoked: a person must authorise the integration again.

    Attributes:
        reason: What Xero said, for the log (the message is always the seed's).
    """

    def __init__(self, reason: str = "") -> None:
        super().__init__(REAUTHORISE_MESSAGE)
        self.reason = reason


class QuotaSpent(ClassXpmError):
    """The tenant's daily call quota is spent: end the run and resume once it resets.

    Attributes:
        retry_after: Seconds until the quota resets, when XPM said.
        resets_at: When the quota resets (UTC), when known.
    """

    def __init__(self, retry_after: float | None, now: datetime | None = None) -> None:
        self.retry_after = retry_after
        moment = now or datetime.now(UTC)
        self.resets_at = None if retry_after is None else moment + timedelta(seconds=retry_after)
        super().__init__(f"XPM daily call limit reached; deferred until the quota resets ({self.when()})")

    def when(self) -> str:
        """When the quota resets, in words: a UTC time and the wait, or ``unknown``."""
        if self.resets_at is None:
            return "at an unknown time"
        return f"at {self.resets_at:%Y-%m-%d %H:%M} UTC, in {self.retry_after:.0f} s"
