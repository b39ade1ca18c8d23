"""One function classifies every Class answer: a table of statuses, codes and what they mean."""

from __future__ import annotations

import json

import httpx
import pytest

from classxpm.source.class_api.errors import ClassNotFound, ClassTokenRejected, classify
from classxpm.xpm.errors import ConfigurationError, RateLimited, Reauthorise, Retriable

URL = "https://api.class.com.au/api/1.0/f/B/F/fund-data/fund-detail"


def answer(status: int, body: object = None, headers: dict | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers or {}, request=httpx.Request("GET", URL))


def envelope(code: str) -> dict:
    return {"Errors": [{"Code": code, "Message": "TFN 123456782 is wrong"}], "Data": {}}


@pytest.mark.parametrize(
    ("response", "kind", "words"),
    [
        (answer(429, envelope("X"), {"X-RateLimit-ResetAfter": "42"}), RateLimited, "rate limit"),
        (answer(503, envelope("API_MAINTENANCE")), Retriable, "HTTP 503 (API_MAINTENANCE)"),
        (answer(401, envelope("API_NOT_AUTHORISED")), ClassTokenRejected, "API_NOT_AUTHORISED"),
        (answer(404, envelope("API_NOT_FOUND")), ClassNotFound, "API_NOT_FOUND"),
        (answer(400, {"error": "invalid_grant"}), Reauthorise, ""),
        (answer(400, {"error": "invalid_client"}), ConfigurationError, "client id or secret"),
        (answer(400, {"code": "BAD", "message": "x"}), ConfigurationError, "HTTP 400"),
        (answer(406, b"not json"), ConfigurationError, "HTTP 406 to"),
    ],
)
def test_each_answer_is_classified_once(response, kind, words):
    error = classify(response)
    assert isinstance(error, kind)
    assert words in str(error) or words in getattr(error, "reason", "")
    assert "123456782" not in str(error), "a body is never quoted"


def test_a_429_waits_for_the_reset_class_gives():
    error = classify(answer(429, envelope("X"), {"X-RateLimit-ResetAfter": "42"}))
    assert error.retry_after == 42.0


def test_a_success_is_no_error():
    assert classify(answer(200, {"Errors": [], "Data": {}})) is None
