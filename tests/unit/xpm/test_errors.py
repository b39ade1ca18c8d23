from __future__ import annotations

import json

import httpx
import pytest

from classxpm.xpm import errors
from classxpm.xpm.errors import classify


def response(status: int, body: bytes | dict | None = None, headers: dict | None = None, xml: bool = False):
    content = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    content_type = "text/xml; charset=utf-8" if xml else "application/json"
    request = httpx.Request("GET", "https://api.xero.com/practicemanager/3.1/client.api/list")
    return httpx.Response(
        status, content=content, headers={"Content-Type": content_type, **(headers or {})}, request=request
    )


def test_success_is_no_error():
    assert classify(response(200, b"<Response><Status>OK</Status></Response>", xml=True)) is None
    assert classify(response(204)) is None


def test_200_with_error_status_is_a_record_error_carrying_the_description():
    body = b"<Response api-method='Add'><Status>ERROR</Status><ErrorDescription>Invalid tax number"
    body += b"</ErrorDescription></Response>"
    error = classify(response(200, body, xml=True))
    assert isinstance(error, errors.RecordError)
    assert error.description == "Invalid tax number"


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("TokenExpired: token expired at 01/02/2026 10:00:00", errors.AccessTokenRejected),
        ("AuthenticationUnsuccessful", errors.AccessTokenRejected),
        ("AuthorizationUnsuccessful", errors.ConfigurationError),
    ],
)
def test_401_bodies(detail, expected):
    error = classify(response(401, {"Title": "Unauthorized", "Status": 401, "Detail": detail}))
    assert isinstance(error, expected)


def test_token_expired_is_marked_expired():
    error = classify(response(401, {"Detail": "TokenExpired: token expired at 01/02/2026 10:00:00"}))
    assert error.expired is True


def test_403_is_a_fatal_tenant_error():
    error = classify(response(403, {"Title": "Forbidden", "Detail": "AuthenticationUnsuccessful"}))
    assert isinstance(error, errors.TenantForbidden)
    assert isinstance(error, errors.Fatal)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("invalid_grant", errors.Reauthorise),
        ("invalid_client", errors.ConfigurationError),
        ("unauthorized_client", errors.ConfigurationError),
        ("unsupported_grant_type", errors.ConfigurationError),
    ],
)
def test_token_endpoint_errors(code, expected):
    assert isinstance(classify(response(400, {"error": code})), expected)


def test_reauthorise_message_is_exact():
    assert str(errors.Reauthorise("x")) == "Sync failed. Token expired. Re-authorisation required."
    assert str(errors.NotAuthorised()) == "Xero Integration not Authorised"


def test_minute_429_is_retriable_with_retry_after():
    error = classify(response(429, headers={"Retry-After": "22", "X-Rate-Limit-Problem": "minute"}))
    assert isinstance(error, errors.RateLimited)
    assert error.retry_after == 22


def test_daily_429_is_deferred():
    error = classify(response(429, headers={"Retry-After": "66960", "X-Rate-Limit-Problem": "day"}))
    assert isinstance(error, errors.Deferred)
    assert error.retry_after == 66960
    assert not isinstance(error, errors.Retriable)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retriable(status):
    error = classify(response(status, b"{broken"))
    assert isinstance(error, errors.Retriable)
    assert error.status == status


ARCHIVED = (
    b"<Response><Status>ERROR</Status><ErrorDescription>The client is archived</ErrorDescription></Response>"
)


@pytest.mark.parametrize("status", [400, 404, 409])
def test_an_xpm_error_body_at_400_404_or_409_is_the_records_problem(status):
    error = classify(response(status, ARCHIVED, xml=True))
    assert isinstance(error, errors.RecordError)
    assert (error.description, error.status) == ("The client is archived", status)
    assert not isinstance(error, errors.Fatal)


def test_an_xpm_error_body_at_403_is_still_a_tenant_error_naming_the_description():
    error = classify(response(403, ARCHIVED, xml=True))
    assert isinstance(error, errors.TenantForbidden)
    assert "The client is archived" in str(error)


def test_a_4xx_without_an_xpm_error_body_is_not_a_record_error():
    assert isinstance(classify(response(409)), errors.ConfigurationError)
    assert isinstance(classify(response(400, {"Title": "Bad Request"})), errors.ConfigurationError)


def test_404_is_not_found_and_other_4xx_fatal():
    assert isinstance(classify(response(404)), errors.NotFound)
    assert isinstance(classify(response(405)), errors.ConfigurationError)


def test_transport_errors():
    request = httpx.Request("GET", "http://127.0.0.1:1/")
    refused = errors.classify_transport_error(httpx.ConnectError("refused", request=request))
    lost = errors.classify_transport_error(httpx.ReadTimeout("slow", request=request))
    assert isinstance(refused, errors.Retriable)
    assert refused.request_sent is False
    assert lost.request_sent is True


def test_unsafe_xml_body_is_refused_as_format_error():
    bomb = b'<!DOCTYPE r [<!ENTITY a "aaaa">]><Response><Status>&a;</Status></Response>'
    with pytest.raises(errors.ResponseFormatError):
        classify(response(200, bomb, xml=True))
