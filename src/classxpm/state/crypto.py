"""Encryption at rest for OAuth tokens (Fernet) and a keyed hash (HMAC) for values compared between runs.

The key comes from ``CLASSXPM_FERNET_KEY``, else from Airflow's ``[core] fernet_key``; both may hold a
comma-separated list for key rotation (the first key encrypts, any key decrypts).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from classxpm.xpm.errors import ConfigurationError

KEY_ENV = "CLASSXPM_FERNET_KEY"
_HASH_KEY_LABEL = b"classxpm keyed hash v1"
_NO_KEY = (
    f"no encryption key for the state database: set {KEY_ENV} or Airflow's [core] fernet_key "
    "(make one with: python -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
)


class TokenCipher:
    """Encrypts and decrypts token strings, and computes keyed hashes, with one configured secret."""

    def __init__(self, keys: str) -> None:
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise ConfigurationError(_NO_KEY)
        try:
            self._fernet = MultiFernet([Fernet(part) for part in parts])
        except ValueError:
            raise ConfigurationError(f"{KEY_ENV} or [core] fernet_key is not a Fernet key") from None
        self._hash_key = hmac.new(parts[0].encode(), _HASH_KEY_LABEL, hashlib.sha256).digest()

    def encrypt(self, plaintext: str) -> str:
        """Return the ciphertext of ``plaintext`` as ASCII text."""
        return self.encrypt_bytes(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """Return the plaintext of ``ciphertext``.

        Raises:
            ConfigurationError: No configured key opens it (the key changed or the value is not ours).
        """
        return self._decrypt(ciphertext.encode("ascii"), "stored tokens").decode()

    def encrypt_bytes(self, data: bytes) -> bytes:
        """Return the Fernet token (ASCII bytes) of ``data``, for blobs such as a staged extract chunk."""
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        """Return the bytes inside a token made by :meth:`encrypt_bytes`.

        Raises:
            ConfigurationError: No configured key opens it (the key changed or the value is not ours).
        """
        return self._decrypt(token, "staged data")

    def _decrypt(self, token: bytes, what: str) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise ConfigurationError(f"cannot decrypt {what}: was the Fernet key changed?") from None

    @property
    def hash_key(self) -> bytes:
        """The HMAC key derived from the secret, for payload hashes that must not reveal a TFN."""
        return self._hash_key

    def keyed_hash(self, value: str) -> str:
        """Return a hex HMAC-SHA256 of ``value``: stable across runs, useless without the secret."""
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()


def configured_key() -> str:
    """Return the configured key text: the environment first, Airflow's config only when needed.

    Raises:
        ConfigurationError: Neither is set.
    """
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        from airflow.configuration import conf

        key = (conf.get("core", "fernet_key", fallback="") or "").strip()
    if not key:
        raise ConfigurationError(_NO_KEY)
    return key


def load_cipher() -> TokenCipher:
    """Return a cipher on the configured key (see ``configured_key``)."""
    return TokenCipher(configured_key())
