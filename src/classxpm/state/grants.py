"""Opening the token store and getting an authorised XPM client for a Class business."""

from __future__ import annotations

from classxpm.db import make_engine
from classxpm.state.crypto import load_cipher
from classxpm.state.tokens import StoredTokenSource, TokenStore
from classxpm.xpm.api import XpmApi
from classxpm.xpm.session import XpmSession


def open_store(url: str) -> TokenStore:
    """Return a token store on the state database at ``url`` with the configured Fernet key."""
    return TokenStore(make_engine(url), load_cipher())


def authorised_api(session: XpmSession, state_db_url: str, business_id: str) -> XpmApi:
    """Return an XPM client for ``business_id`` that shares the stored grant with every other task.

    Raises:
        NotAuthorised: The business has never been authorised.
        Reauthorise: Its grant was refused by Xero.
    """
    store = open_store(state_db_url)
    tokens = StoredTokenSource(store, business_id, session.identity, session.clock)
    return session.api(tokens)
