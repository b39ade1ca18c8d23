"""ClassGrantStore: one encrypted Class API grant per business, renewed by one worker at a time.

Class's refresh tokens are single-use: a renewal locks the grant's row (SELECT ... FOR UPDATE on
PostgreSQL, BEGIN IMMEDIATE on SQLite), looks again whether another worker already renewed, and otherwise
trades the refresh token and commits the new pair before the new access token is used. A grant from the
password flow without a refresh token is renewed by signing in again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from classxpm.source.class_api.auth import REFRESH_MARGIN, ClassIdentity, ClassTokens
from classxpm.state.crypto import TokenCipher
from classxpm.state.tables import class_grants
from classxpm.xpm.auth import Clock, utcnow
from classxpm.xpm.errors import ConfigurationError, Reauthorise

NOT_AUTHORISED = "Class API not authorised"


class ClassNotAuthorised(ConfigurationError):
    """No Class API grant is stored for the business: run ``classxpm class-auth login``."""


@dataclass(frozen=True)
class ClassGrant:
    """A business's stored Class grant, decrypted (token values never show in repr)."""

    business_id: str
    flow: str
    tokens: ClassTokens
    authorised_at: datetime
    last_refreshed_at: datetime | None
    invalid_reason: str | None


class ClassGrantStore:
    """Encrypted Class grants in the state database, keyed by the pipeline's business id."""

    def __init__(self, engine: Engine, cipher: TokenCipher, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._cipher = cipher
        self._clock = clock

    def save(self, business_id: str, flow: str, tokens: ClassTokens) -> ClassGrant:
        """Store a fresh authorisation for ``business_id``, replacing any earlier one."""
        values = {
            **self._token_values(tokens),
            "flow": flow,
            "authorised_at": self._clock(),
            "invalid_reason": None,
        }
        with self._engine.begin() as conn:
            conn.execute(sa.delete(class_grants).where(class_grants.c.business_id == business_id))
            conn.execute(sa.insert(class_grants).values(business_id=business_id, **values))
        return self.require(business_id)

    def get(self, business_id: str) -> ClassGrant | None:
        """The business's grant (usable or not), or None."""
        with self._engine.connect() as conn:
            row = conn.execute(_select(business_id)).mappings().first()
        return None if row is None else self._grant(row)

    def require(self, business_id: str) -> ClassGrant:
        """The business's grant, usable or not.

        Raises:
            ClassNotAuthorised: None is stored.
        """
        grant = self.get(business_id)
        if grant is None:
            raise ClassNotAuthorised(
                f"{NOT_AUTHORISED} for business {business_id}: run classxpm class-auth login"
            )
        return grant

    def business_names(self) -> dict[str, str]:
        """Every business with a grant: the pipeline's id to Class's business name (else its code)."""
        query = sa.select(
            class_grants.c.business_id, class_grants.c.business_name, class_grants.c.business_code
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(class_grants.c.business_id)).all()
        return {row.business_id: row.business_name or row.business_code for row in rows}

    def discard(self, business_id: str) -> bool:
        """Forget the business's grant; True when there was one."""
        with self._engine.begin() as conn:
            return (
                conn.execute(
                    sa.delete(class_grants).where(class_grants.c.business_id == business_id)
                ).rowcount
                > 0
            )

    def renew(
        self, business_id: str, identity: ClassIdentity, seen_access_token: str | None = None
    ) -> ClassTokens:
        """Renew the grant unless another worker already replaced ``seen_access_token``; return the tokens.

        Raises:
            ClassNotAuthorised: No grant is stored.
            Reauthorise: Class refused the refresh token (or the password); the grant is marked so.
        """
        with self._engine.connect() as conn:
            grant = self._locked(conn, business_id)
            if seen_access_token is not None and grant.tokens.access_token != seen_access_token:
                conn.rollback()
                return grant.tokens
            try:
                if grant.tokens.refresh_token:
                    tokens = identity.refresh(grant.tokens.refresh_token)
                else:
                    tokens = identity.password_grant()
            except Reauthorise as exc:
                conn.execute(_update(business_id).values(invalid_reason=exc.reason or str(exc)))
                conn.commit()
                raise
            conn.execute(
                _update(business_id).values(**self._token_values(tokens), last_refreshed_at=self._clock())
            )
            conn.commit()
        return tokens

    def _locked(self, conn: Connection, business_id: str) -> ClassGrant:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        row = conn.execute(_select(business_id).with_for_update()).mappings().first()
        if row is None:
            raise ClassNotAuthorised(
                f"{NOT_AUTHORISED} for business {business_id}: run classxpm class-auth login"
            )
        grant = self._grant(row)
        if grant.invalid_reason:
            raise Reauthorise(grant.invalid_reason)
        return grant

    def _token_values(self, tokens: ClassTokens) -> dict[str, Any]:
        refresh = tokens.refresh_token
        return {
            "business_code": tokens.business_code,
            "business_name": tokens.business_name or None,
            "scopes": tokens.scope,
            "access_token": self._cipher.encrypt(tokens.access_token),
            "access_expires_at": tokens.expires_at,
            "refresh_token": None if refresh is None else self._cipher.encrypt(refresh),
        }

    def _grant(self, row: Mapping[str, Any]) -> ClassGrant:
        refresh = row["refresh_token"]
        tokens = ClassTokens(
            self._cipher.decrypt(row["access_token"]),
            None if refresh is None else self._cipher.decrypt(refresh),
            row["access_expires_at"],
            row["scopes"],
            row["business_code"],
            row["business_name"] or "",
        )
        return ClassGrant(
            row["business_id"],
            row["flow"],
            tokens,
            row["authorised_at"],
            row["last_refreshed_at"],
            row["invalid_reason"],
        )


class StoredClassTokens:
    """The client's token source for one business: the shared stored grant, renewed before it expires."""

    def __init__(
        self, store: ClassGrantStore, business_id: str, identity: ClassIdentity, clock: Clock = utcnow
    ) -> None:
        self._store = store
        self._business_id = business_id
        self._identity = identity
        self._clock = clock
        grant = store.require(business_id)
        if grant.invalid_reason:
            raise Reauthorise(grant.invalid_reason)
        self.business_code = grant.tokens.business_code
        self.scopes = frozenset(grant.tokens.scope.split())

    def access_token(self) -> str:
        """A stored access token good for a few more minutes, renewed first when it is not."""
        tokens = self._store.require(self._business_id).tokens
        if tokens.expires_within(REFRESH_MARGIN, self._clock()):
            tokens = self._store.renew(self._business_id, self._identity, tokens.access_token)
        return tokens.access_token

    def renewed_after_rejection(self, rejected: str) -> str:
        """A new access token after Class answered 401 to ``rejected`` (unless one was renewed already)."""
        return self._store.renew(self._business_id, self._identity, rejected).access_token


def _select(business_id: str) -> sa.Select:
    return sa.select(class_grants).where(class_grants.c.business_id == business_id)


def _update(business_id: str) -> sa.Update:
    return sa.update(class_grants).where(class_grants.c.business_id == business_id)
