"""TokenStore: the one stored grant per Class business, refreshed by exactly one refresher at a time.

A refresh locks the grant's row (SELECT ... FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite), looks again
whether another worker already refreshed, and otherwise trades the refresh token and commits the rotated
tokens before anyone uses the new access token. Every task of every process shares the stored token.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from classxpm.state.crypto import TokenCipher
from classxpm.state.tables import xpm_grants
from classxpm.xpm.auth import Clock, IdentityClient, TokenSet, utcnow
from classxpm.xpm.errors import NotAuthorised, Reauthorise

IDLE_EXPIRY = timedelta(days=60)
GRACE_WINDOW = timedelta(minutes=30)
REREAD_SECONDS = 5.0
"""How often a token source reads the stored grant again, at most (wall seconds)."""


@dataclass(frozen=True)
class Grant:
    """A business's stored grant, decrypted. Token values never appear in repr (see TokenSet)."""

    business_id: str
    tenant_id: str
    tenant_name: str | None
    connection_id: str | None
    tokens: TokenSet
    refresh_issued_at: datetime
    authorised_at: datetime
    last_refreshed_at: datetime | None
    invalid_reason: str | None
    previous_refresh_token: str | None = field(default=None, repr=False)
    rotated_at: datetime | None = None

    @property
    def idle_expires_at(self) -> datetime:
        """When Xero forgets the refresh token if it is not used before then."""
        return self.refresh_issued_at + IDLE_EXPIRY

    def days_left(self, now: datetime) -> int:
        """Whole days before the 60-day idle expiry (0 once expired or invalid)."""
        if self.invalid_reason:
            return 0
        return max(0, (self.idle_expires_at - now).days)


class TokenStore:
    """Encrypted grants in the state database, keyed by Class business id."""

    def __init__(self, engine: Engine, cipher: TokenCipher, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._cipher = cipher
        self._clock = clock

    @property
    def engine(self) -> Engine:
        """The state database the grants are kept in (the sync's links are there too)."""
        return self._engine

    def save(self, business_id: str, tokens: TokenSet, tenant_name: str | None, connection_id: str) -> Grant:
        """Store a fresh authorisation for ``business_id``, replacing any earlier grant."""
        now = self._clock()
        values = {
            **self._token_values(tokens, now),
            "tenant_id": tokens.tenant_id,
            "tenant_name": tenant_name,
            "connection_id": connection_id,
            "authorised_at": now,
            "previous_refresh_token": None,
            "rotated_at": None,
            "invalid_reason": None,
        }
        with self._engine.begin() as conn:
            conn.execute(sa.delete(xpm_grants).where(xpm_grants.c.business_id == business_id))
            conn.execute(sa.insert(xpm_grants).values(business_id=business_id, **values))
        return self.require_any(business_id)

    def get(self, business_id: str) -> Grant | None:
        """Return the business's grant (valid or not), or None when it has never been authorised."""
        with self._engine.connect() as conn:
            row = conn.execute(_select(business_id)).mappings().first()
        return None if row is None else self._grant(row)

    def require_any(self, business_id: str) -> Grant:
        """Return the business's grant, valid or not.

        Raises:
            NotAuthorised: No grant is stored.
        """
        grant = self.get(business_id)
        if grant is None:
            raise NotAuthorised()
        return grant

    def require(self, business_id: str) -> Grant:
        """Return the business's usable grant.

        Raises:
            NotAuthorised: No grant is stored.
            Reauthorise: Xero refused the grant earlier.
        """
        grant = self.require_any(business_id)
        if grant.invalid_reason:
            raise Reauthorise(grant.invalid_reason)
        return grant

    def business_ids(self) -> list[str]:
        """Every business that has a stored grant, valid or not."""
        with self._engine.connect() as conn:
            return list(conn.execute(sa.select(xpm_grants.c.business_id).order_by("business_id")).scalars())

    def discard(self, business_id: str) -> None:
        """Forget the business's grant."""
        with self._engine.begin() as conn:
            conn.execute(sa.delete(xpm_grants).where(xpm_grants.c.business_id == business_id))

    def mark_used(self, business_id: str) -> None:
        """Record that a task used the grant now."""
        with self._engine.begin() as conn:
            conn.execute(_update(business_id).values(last_used_at=self._clock()))

    def refresh(
        self, business_id: str, identity: IdentityClient, seen_access_token: str | None = None
    ) -> TokenSet:
        """Refresh the grant unless someone else already replaced ``seen_access_token``; return the tokens.

        With ``seen_access_token`` None the refresh always happens (the daily keep-alive).

        Raises:
            NotAuthorised: No grant is stored.
            Reauthorise: Xero refused the refresh token (and the previous one, inside the grace window).
            Retriable: Xero could not be reached; the stored grant is unchanged.
        """
        with self._engine.connect() as conn:
            grant = self._locked_grant(conn, business_id)
            if seen_access_token is not None and grant.tokens.access_token != seen_access_token:
                conn.rollback()
                return grant.tokens
            try:
                tokens = self._rotate(grant, identity)
            except Reauthorise as exc:
                conn.execute(_update(business_id).values(invalid_reason=exc.reason or str(exc)))
                conn.commit()
                raise
            conn.execute(_update(business_id).values(**self._rotation_values(grant, tokens)))
            conn.commit()
        return tokens

    def _locked_grant(self, conn: Connection, business_id: str) -> Grant:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        row = conn.execute(_select(business_id).with_for_update()).mappings().first()
        if row is None:
            raise NotAuthorised()
        grant = self._grant(row)
        if grant.invalid_reason:
            raise Reauthorise(grant.invalid_reason)
        return grant

    def _rotate(self, grant: Grant, identity: IdentityClient) -> TokenSet:
        try:
            return identity.refresh(grant.tokens.refresh_token, grant.tenant_id)
        except Reauthorise:
            previous = self._previous_in_grace(grant)
            if previous is None:
                raise
            return identity.refresh(previous, grant.tenant_id)

    def _previous_in_grace(self, grant: Grant) -> str | None:
        if grant.previous_refresh_token is None or grant.rotated_at is None:
            return None
        return grant.previous_refresh_token if self._clock() - grant.rotated_at <= GRACE_WINDOW else None

    def _rotation_values(self, grant: Grant, tokens: TokenSet) -> dict[str, Any]:
        now = self._clock()
        return {
            **self._token_values(tokens, now),
            "previous_refresh_token": self._cipher.encrypt(grant.tokens.refresh_token),
            "rotated_at": now,
            "last_refreshed_at": now,
        }

    def _token_values(self, tokens: TokenSet, now: datetime) -> dict[str, Any]:
        return {
            "access_token": self._cipher.encrypt(tokens.access_token),
            "refresh_token": self._cipher.encrypt(tokens.refresh_token),
            "access_expires_at": tokens.expires_at,
            "refresh_issued_at": now,
            "auth_event_id": tokens.auth_event_id,
            "scopes": tokens.scope,
        }

    def _grant(self, row: Mapping[str, Any]) -> Grant:
        tokens = TokenSet(
            access_token=self._cipher.decrypt(row["access_token"]),
            refresh_token=self._cipher.decrypt(row["refresh_token"]),
            expires_at=row["access_expires_at"],
            scope=row["scopes"],
            auth_event_id=row["auth_event_id"],
            tenant_id=row["tenant_id"],
        )
        previous = row["previous_refresh_token"]
        return Grant(
            business_id=row["business_id"],
            tenant_id=row["tenant_id"],
            tenant_name=row["tenant_name"],
            connection_id=row["connection_id"],
            tokens=tokens,
            refresh_issued_at=row["refresh_issued_at"],
            authorised_at=row["authorised_at"],
            last_refreshed_at=row["last_refreshed_at"],
            invalid_reason=row["invalid_reason"],
            previous_refresh_token=None if previous is None else self._cipher.decrypt(previous),
            rotated_at=row["rotated_at"],
        )


class StoredTokenSource:
    """The transport's token source for one business: the shared stored grant, refreshed proactively.

    The stored grant is read again at most every ``reread_seconds``, not before every call: a token another
    worker rotated meanwhile is still valid at Xero until it expires, and a revoked one is answered with 401,
    which reads the store again (``refreshed_after_rejection``). A shard writing fifty funds a business
    otherwise spent a round trip to the state database, and two decryptions, on every call to XPM.
    """

    def __init__(
        self,
        store: TokenStore,
        business_id: str,
        identity: IdentityClient,
        clock: Clock = utcnow,
        *,
        reread_seconds: float = REREAD_SECONDS,
    ) -> None:
        self._store = store
        self._business_id = business_id
        self._identity = identity
        self._clock = clock
        self._reread_seconds = reread_seconds
        grant = store.require(business_id)
        self._tenant_id = grant.tenant_id
        self._tokens, self._read_at = grant.tokens, time.monotonic()

    @property
    def tenant_id(self) -> str:
        """The tenant the business is linked to."""
        return self._tenant_id

    def access_token(self) -> str:
        """Return the stored access token, refreshing it first when it expires within a few minutes.

        Raises:
            NotAuthorised, Reauthorise: When the grant is read again and is gone or refused.
        """
        if time.monotonic() - self._read_at >= self._reread_seconds:
            self._keep(self._store.require(self._business_id).tokens)
        tokens = self._tokens
        if tokens.expires_within(self._identity.refresh_margin, self._clock()):
            tokens = self._keep(self._store.refresh(self._business_id, self._identity, tokens.access_token))
        return tokens.access_token

    def refreshed_after_rejection(self, rejected: str) -> str:
        """Refresh after a 401, unless another worker already replaced the rejected token."""
        return self._keep(self._store.refresh(self._business_id, self._identity, rejected)).access_token

    def _keep(self, tokens: TokenSet) -> TokenSet:
        self._tokens, self._read_at = tokens, time.monotonic()
        return tokens


def _select(business_id: str) -> sa.Select:
    return sa.select(xpm_grants).where(xpm_grants.c.business_id == business_id)


def _update(business_id: str) -> sa.Update:
    return sa.update(xpm_grants).where(xpm_grants.c.business_id == business_id)
