"""A stable digest of a mapped record's payload, for change detection between runs.

The digest covers the target and every field value, independent of field order. A sensitive value
(the TFN) enters only as an HMAC-SHA256 of its normalised digits keyed by a pipeline secret: the TFN
space is only 10^9 numbers, so a plain hash could be reversed by trying them all; without the key it
cannot.
"""

from __future__ import annotations

import collections.abc
import hashlib
import hmac
import json
import json.encoder
from collections.abc import Set as AbstractSet

from classxpm.identifiers import normalise
from classxpm.mapping.records import MappedRecord

HASH_VERSION = 1
MIN_SECRET_BYTES = 16
_MAX_KEYS = 4096
_string = json.encoder.encode_basestring


def sensitive_digest(value: str, secret: bytes) -> str:
    """Return the keyed digest that stands for a sensitive value (spaces and hyphens ignored).

    Args:
        value: The clear value, e.g. a TFN in any format.
        secret: The pipeline's hashing key, at least 16 bytes.

    Returns:
        ``hmac-sha256:<hex>``.

    Raises:
        ValueError: The secret is shorter than 16 bytes, which would make the digest guessable.
    """
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the hashing secret must be at least {MIN_SECRET_BYTES} bytes")
    return f"hmac-sha256:{hmac.digest(secret, normalise(value).encode('utf-8'), 'sha256').hex()}"


def hash_input(record: MappedRecord, secret: bytes) -> bytes:
    """Return the canonical bytes that :func:`payload_hash` digests; sensitive values appear only as HMACs.

    Args:
        record: A mapped record.
        secret: The pipeline's hashing key, at least 16 bytes.

    Returns:
        Canonical JSON (sorted keys, UTF-8) of the version, the target and the field values.
    """
    values = record.values
    return _canonical(record.target, values.unmasked(), values.sensitive, secret)


def payload_hash(record: MappedRecord, secret: bytes) -> str:
    """Return the SHA-256 hex digest of a record's payload; equal payloads give equal digests.

    Args:
        record: A mapped record.
        secret: The pipeline's hashing key, at least 16 bytes; changing it changes every digest.

    Returns:
        64 lowercase hex characters.
    """
    return hashlib.sha256(hash_input(record, secret)).hexdigest()


def _canonical(
    target: str, fields: collections.abc.Mapping[str, str], sensitive: AbstractSet[str], secret: bytes
) -> bytes:
    hidden = [field for field in sensitive if field in fields]
    if hidden:
        fields = {**fields, **{field: sensitive_digest(fields[field], secret) for field in hidden}}
    try:
        # What json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")) writes, with
        # json's own C string encoder but no encoder object per record; anything but text is a TypeError.
        body = ",".join([_MEMBER_KEYS[field] + _string(fields[field]) for field in sorted(fields)])
        return f'{{"fields":{{{body}}},"target":{_string(target)},"version":{HASH_VERSION}}}'.encode()
    except TypeError:
        document = {"version": HASH_VERSION, "target": target, "fields": fields}
        return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _EncodedKeys(dict[str, str]):
    """Field name → its JSON string and colon, computed once per name: records share a few dozen names."""

    def __missing__(self, field: str) -> str:
        if len(self) >= _MAX_KEYS:
            self.clear()
        encoded = self[field] = _string(field) + ":"
        return encoded


_MEMBER_KEYS = _EncodedKeys()
