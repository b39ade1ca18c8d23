"""A stable digest of a mapped record's payload, for change detection between runs.

The digest covers the target and every field value, independent of field order. A sensitive value
(the TFN) enters only as an HMAC-SHA256 of its normalised digits keyed by a pipeline secret: the TFN
space is only 10^9 numbers, so a plain hash could be reversed by trying them all; without the key it
cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from classxpm.identifiers import normalise
from classxpm.mapping.records import MappedRecord

HASH_VERSION = 1
MIN_SECRET_BYTES = 16


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
    digest = hmac.new(secret, normalise(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest}"


def hash_input(record: MappedRecord, secret: bytes) -> bytes:
    """Return the canonical bytes that :func:`payload_hash` digests; sensitive values appear only as HMACs.

    Args:
        record: A mapped record.
        secret: The pipeline's hashing key, at least 16 bytes.

    Returns:
        Canonical JSON (sorted keys, UTF-8) of the version, the target and the field values.
    """
    values = record.values
    fields = {
        field: sensitive_digest(value, secret) if field in values.sensitive else value
        for field, value in values.items()
    }
    document = {"version": HASH_VERSION, "target": record.target, "fields": fields}
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def payload_hash(record: MappedRecord, secret: bytes) -> str:
    """Return the SHA-256 hex digest of a record's payload; equal payloads give equal digests.

    Args:
        record: A mapped record.
        secret: The pipeline's hashing key, at least 16 bytes; changing it changes every digest.

    Returns:
        64 lowercase hex characters.
    """
    return hashlib.sha256(hash_input(record, secret)).hexdigest()
