from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from classxpm.state.crypto import KEY_ENV, TokenCipher, configured_key
from classxpm.xpm.errors import ConfigurationError


def test_round_trip_and_ciphertext_hides_the_token():
    cipher = TokenCipher(Fernet.generate_key().decode())
    secret = "eyJhbGciOi.secret-token-value"
    ciphertext = cipher.encrypt(secret)
    assert secret not in ciphertext
    assert cipher.decrypt(ciphertext) == secret


def test_rotation_list_decrypts_with_an_old_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ciphertext = TokenCipher(old).encrypt("t")
    assert TokenCipher(f"{new},{old}").decrypt(ciphertext) == "t"


def test_wrong_key_is_a_clear_error():
    ciphertext = TokenCipher(Fernet.generate_key().decode()).encrypt("t")
    with pytest.raises(ConfigurationError, match="Fernet key"):
        TokenCipher(Fernet.generate_key().decode()).decrypt(ciphertext)


@pytest.mark.parametrize("bad", ["", " , ", "not-a-key"])
def test_missing_or_invalid_key_is_refused(bad):
    with pytest.raises(ConfigurationError):
        TokenCipher(bad)


def test_keyed_hash_is_stable_and_keyed():
    key = Fernet.generate_key().decode()
    assert TokenCipher(key).keyed_hash("123456782") == TokenCipher(key).keyed_hash("123456782")
    assert TokenCipher(key).keyed_hash("123456782") != TokenCipher(Fernet.generate_key().decode()).keyed_hash(
        "123456782"
    )
    assert "123456782" not in TokenCipher(key).keyed_hash("123456782")


def test_environment_key_wins(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "env-key")
    assert configured_key() == "env-key"


def test_no_key_anywhere_says_how_to_make_one(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "")
    with pytest.raises(ConfigurationError, match="CLASSXPM_FERNET_KEY"):
        configured_key()
