from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from classxpm.state.crypto import TokenCipher
from classxpm.ui.login import (
    PendingChoice,
    PendingLogin,
    candidates,
    open_choice,
    open_login,
    seal_choice,
    seal_login,
)
from classxpm.xpm.api import XeroConnection
from classxpm.xpm.auth import AuthorizationRequest, TokenSet
from classxpm.xpm.errors import ConfigurationError

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
CIPHER = TokenCipher(Fernet.generate_key().decode())


def test_a_pending_login_comes_back_whole_and_unreadable_on_the_way():
    request = AuthorizationRequest("https://login/authorize?x", "state-123", "verifier-456", "http://cb")
    sealed = seal_login(CIPHER, PendingLogin("biz-1", request, NOW))

    back = open_login(CIPHER, sealed, NOW + timedelta(minutes=9))

    assert "verifier-456" not in sealed
    assert (back.business_id, back.request.state, back.request.code_verifier) == (
        "biz-1",
        "state-123",
        "verifier-456",
    )
    assert back.request.redirect_uri == "http://cb"


@pytest.mark.parametrize(
    ("sealed", "later"),
    [
        (None, 0),
        ("not-ours", 0),
        (seal_login(CIPHER, PendingLogin("b", AuthorizationRequest("u", "s", "v", "r"), NOW)), 11),
        (
            seal_login(
                TokenCipher(Fernet.generate_key().decode()),
                PendingLogin("b", AuthorizationRequest("u", "s", "v", "r"), NOW),
            ),
            0,
        ),
    ],
)
def test_missing_foreign_or_stale_logins_are_refused(sealed, later):
    with pytest.raises(ConfigurationError, match="start again"):
        open_login(CIPHER, sealed, NOW + timedelta(minutes=later))


def test_a_pending_choice_keeps_the_token_set():
    tokens = TokenSet("access-a", "refresh-r", NOW + timedelta(minutes=30), "offline_access", "event-1")
    back = open_choice(CIPHER, seal_choice(CIPHER, PendingChoice("biz-1", tokens, NOW)), NOW)

    assert back.tokens == tokens
    assert back.business_id == "biz-1"


def connection(name: str, event: str | None, kind: str = "PRACTICEMANAGER") -> XeroConnection:
    return XeroConnection(f"c-{name}", f"t-{name}", kind, name, event)


def test_the_accounts_this_login_connected_are_the_only_candidates():
    tokens = TokenSet("a", "r", NOW, "", "event-2")
    found = [
        connection("Old", "event-1"),
        connection("New", "event-2"),
        connection("Books", "event-2", "ORGANISATION"),
    ]

    assert [item.label for item in candidates(found, tokens)] == ["New"]


def test_without_a_matching_event_every_practice_is_a_candidate():
    found = [connection("A", "event-1"), connection("B", "event-1")]

    assert [item.label for item in candidates(found, TokenSet("a", "r", NOW, "", None))] == ["A", "B"]
