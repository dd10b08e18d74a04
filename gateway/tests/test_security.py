"""The gateway's security functions, one by one: client address, origins, cookies, headers,
JSON nesting."""

import pytest
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from gateway import security
from gateway.api import json_depth


def environ(forwarded: str | None, remote: str = "10.0.0.2") -> dict:
    env = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        env["HTTP_X_FORWARDED_FOR"] = forwarded
    return env


@pytest.mark.parametrize("forwarded, hops, expected", [
    # the proxy appended the address it saw; the client wrote everything to its left
    ("198.51.100.1, 203.0.113.7", 1, "203.0.113.7"),
    ("1.1.1.1, 2.2.2.2, 3.3.3.3, 203.0.113.7", 1, "203.0.113.7"),
    ("203.0.113.7", 1, "203.0.113.7"),
    # two trusted proxies (a CDN, then the load balancer): the CDN's entry is the client's
    ("6.6.6.6, 203.0.113.7, 192.0.2.10", 2, "203.0.113.7"),
    ("203.0.113.7, 192.0.2.10", 2, "203.0.113.7"),
    ("2001:db8::1", 1, "2001:db8::1"),
    ("1.1.1.1, 2001:DB8:0:0::1", 1, "2001:db8::1"),  # one spelling per address
    # what no proxy writes: the connection's own address counts
    ("198.51.100.1, not-an-address", 1, "10.0.0.2"),
    ("203.0.113.7:4711", 1, "10.0.0.2"),
    ("", 1, "10.0.0.2"),
    ("203.0.113.7", 2, "10.0.0.2"),  # fewer entries than proxies: forged or misrouted
    (None, 1, "10.0.0.2"),
])
def test_the_client_address_is_the_one_the_trusted_proxy_appended(forwarded, hops, expected):
    assert security.client_ip(environ(forwarded), True, hops) == expected


def test_without_a_trusted_proxy_forwarded_headers_are_ignored():
    assert security.client_ip(environ("203.0.113.7"), False) == "10.0.0.2"


@pytest.mark.parametrize("headers, own, allowed", [
    ({}, "http://127.0.0.1:8000", True),  # API clients send neither header
    ({"Origin": "http://127.0.0.1:8000"}, "http://127.0.0.1:8000/", True),
    ({"Origin": "https://www.example.gov.cn"}, "https://WWW.example.gov.cn:443", True),
    ({"Origin": "https://evil.example"}, "https://www.example.gov.cn", False),
    ({"Origin": "http://www.example.gov.cn"}, "https://www.example.gov.cn", False),
    ({"Origin": "https://www.example.gov.cn:8443"}, "https://www.example.gov.cn", False),
    ({"Origin": "https://www.example.gov.cn.evil.example"}, "https://www.example.gov.cn", False),
    ({"Origin": "null"}, "https://www.example.gov.cn", False),  # sandboxed or opaque
    ({"Referer": "https://www.example.gov.cn/d/haidian/beijing"}, "https://www.example.gov.cn",
     True),
    ({"Referer": "https://evil.example/page"}, "https://www.example.gov.cn", False),
    ({"Origin": "https://evil.example", "Referer": "https://www.example.gov.cn/"},
     "https://www.example.gov.cn", False),  # the Origin decides
    ({"Origin": "http://[::1]:8000"}, "http://[::1]:8000", True),
    ({"Origin": "http://host:notaport"}, "http://host", False),
])
def test_only_the_gateways_own_origin_may_change_state(headers, own, allowed):
    assert security.same_origin(Headers(headers), own) is allowed


def test_secure_cookies_carry_the_host_prefix_and_no_domain():
    response = Response()
    security.set_cookie(response, security.SESSION_COOKIE, "token", secure=True)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-sid=token;")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    request = Request.from_values(headers={"Cookie": "__Host-sid=token; sid=planted"})
    assert security.session_token(request, secure=True) == "token"
    with pytest.raises(security.DomainError):  # a plain `sid` is not a secure session
        security.session_token(Request.from_values(headers={"Cookie": "sid=x"}), secure=True)


def test_plain_http_development_cookies_keep_their_plain_names():
    response = Response()
    security.set_cookie(response, security.PRESESSION_COOKIE, "p", secure=False)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("pre=p;") and "Secure" not in cookie
    security.clear_session_cookie(response, secure=True)
    assert response.headers.getlist("Set-Cookie")[1].startswith("__Host-sid=;")


def test_hsts_only_over_https():
    assert security.response_headers(True)["Strict-Transport-Security"] == \
        "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in security.response_headers(False)


@pytest.mark.parametrize("raw, depth", [
    (b"null", 0), (b'{"a": 1}', 1), (b'{"a": [1, {"b": []}]}', 4),
    (b'{"a": "[[[[{{{{"}', 1), (b'{"a": "\\"[[[["}', 1),  # brackets in strings do not count
    (b"[" * 40_000, 40_000),
])
def test_json_depth_counts_nesting_outside_strings(raw, depth):
    assert json_depth(raw) == depth
