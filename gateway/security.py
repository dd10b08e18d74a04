"""Cookies, CSRF tokens, origins, response headers and the client address: plain functions,
no nameko.

CSRF tokens are derived, not stored: HMAC(key, session token) for signed-in families,
HMAC(key, pre-session cookie) before sign-in. JSON requests without a session must be
`application/json`, which a cross-site form cannot send without a CORS preflight. On top of
the tokens, a state-changing request whose Origin (or Referer) names another site is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from common.errors import DomainError

SESSION_COOKIE = "sid"
PRESESSION_COOKIE = "pre"
# With Secure cookies (HTTPS) the names carry `__Host-`: browsers then accept the cookie only
# if it is Secure, has path=/ and no Domain, so neither a sibling subdomain nor a plain-http
# answer can plant or overwrite it (session fixation).
HOST_PREFIX = "__Host-"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def csrf_token(key: bytes, cookie_value: str, kind: str) -> str:
    return hmac.new(key, f"{kind}:{cookie_value}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(key: bytes, cookie_value: str | None, kind: str, submitted: str | None) -> bool:
    if not cookie_value or not submitted:
        return False
    return hmac.compare_digest(csrf_token(key, cookie_value, kind), submitted)


def new_presession() -> str:
    return secrets.token_urlsafe(24)


def client_ip(environ: dict, trust_forwarded_for: bool, proxy_hops: int = 1) -> str:
    """The address the per-address limits count. Behind `proxy_hops` trusted proxies, each
    appends the address it saw to X-Forwarded-For, so the client's is `proxy_hops` entries from
    the right; whatever lies further left the client wrote itself and proves nothing."""
    if trust_forwarded_for:
        entries = environ.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if len(entries) >= proxy_hops:
            try:
                return str(ipaddress.ip_address(entries[-proxy_hops].strip()))
            except ValueError:
                pass  # not what a proxy writes: count the connection's address instead
    return environ.get("REMOTE_ADDR", "")[:64]


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, lower-cased, default ports left out; None if it is
    not an http(s) URL (`null`, garbage)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def same_origin(headers, own_origin: str) -> bool:
    """False when the request says it comes from another site: its Origin, or lacking that its
    Referer, is not `own_origin`. A request naming neither passes (API clients send neither;
    the CSRF token still guards it)."""
    claimed = headers.get("Origin") or headers.get("Referer")
    return not claimed or origin_of(claimed) == origin_of(own_origin)


HSTS = "max-age=31536000; includeSubDomains"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
}

# A file this site's own pages embed (the form's preview): framed by them, by no other site.
FRAMED_BY_THIS_SITE = {
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"].replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'"),
}


def response_headers(secure: bool) -> dict:
    """Headers every answer carries; over HTTPS (Secure cookies) also HSTS, which a browser
    would ignore over plain http anyway and which must not pin a development host to HTTPS."""
    return {**SECURITY_HEADERS, "Strict-Transport-Security": HSTS} if secure \
        else SECURITY_HEADERS


def cookie_name(name: str, secure: bool) -> str:
    return HOST_PREFIX + name if secure else name


def session_token(request, secure: bool) -> str:
    """The session cookie's token; NOT_AUTHENTICATED without one."""
    token = request.cookies.get(cookie_name(SESSION_COOKIE, secure))
    if not token:
        raise DomainError("NOT_AUTHENTICATED")
    return token


def presession(request, secure: bool) -> str | None:
    return request.cookies.get(cookie_name(PRESESSION_COOKIE, secure))


def set_cookie(response, name: str, value: str, secure: bool) -> None:
    """Always host-only (no Domain) and path=/, as the `__Host-` prefix requires."""
    response.set_cookie(cookie_name(name, secure), value, httponly=True, samesite="Lax",
                        secure=secure, path="/")


def clear_session_cookie(response, secure: bool) -> None:
    response.delete_cookie(cookie_name(SESSION_COOKIE, secure), httponly=True, samesite="Lax",
                           secure=secure, path="/")
