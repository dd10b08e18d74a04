"""Cookies, CSRF tokens and the client address: plain functions, no nameko.

CSRF tokens are derived, not stored: HMAC(key, session token) for signed-in families,
HMAC(key, pre-session cookie) before sign-in. JSON requests without a session must be
`application/json`, which a cross-site form cannot send without a CORS preflight.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from common.errors import DomainError

SESSION_COOKIE = "sid"
PRESESSION_COOKIE = "pre"
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


def client_ip(environ: dict, trust_forwarded_for: bool) -> str:
    if trust_forwarded_for:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return environ.get("REMOTE_ADDR", "")[:64]


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
}


def session_token(request) -> str:
    """The session cookie's token; NOT_AUTHENTICATED without one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise DomainError("NOT_AUTHENTICATED")
    return token


def set_session_cookie(response, token: str, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax", secure=secure,
                        path="/")


def clear_session_cookie(response, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="Lax", secure=secure,
                           path="/")
