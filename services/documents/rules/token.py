"""The token in a form's QR code (`<PUBLIC_BASE_URL>/verify/<token>`): the account, the version
and the time the version's form was first issued, and a MAC over them (HMAC-SHA256 under a key
derived for this purpose, truncated to 128 bits), base64url without padding: 36 characters, a
small QR code. Nothing personal is in it; whoever scans it learns only what check_form answers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

_FORMAT = 1
_FIELDS = struct.Struct(">BIHI")  # format, account number, version, issued at (Unix seconds)
_MAC_BYTES = 16
TOKEN_LENGTH = 36  # base64url of 11 + 16 bytes


@dataclass(frozen=True)
class FormToken:
    account_no: str  # 8 digits
    version: int
    issued_at: datetime  # whole seconds, UTC


class InvalidToken(ValueError):
    """Forged, altered, truncated or not ours: the same for each."""


def sign(key: bytes, token: FormToken) -> str:
    fields = _FIELDS.pack(_FORMAT, int(token.account_no), token.version,
                          int(token.issued_at.timestamp()))
    return base64.urlsafe_b64encode(fields + _mac(key, fields)).decode().rstrip("=")


def verify(key: bytes, text: str) -> FormToken:
    """The token's fields if its MAC is ours (compared in constant time); else InvalidToken."""
    if len(text) != TOKEN_LENGTH:
        raise InvalidToken
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise InvalidToken from None
    fields, mac = raw[:_FIELDS.size], raw[_FIELDS.size:]
    if not hmac.compare_digest(mac, _mac(key, fields)):
        raise InvalidToken
    form, account, version, issued_at = _FIELDS.unpack(fields)
    if form != _FORMAT or not 10_000_000 <= account <= 99_999_999 or version < 1:
        raise InvalidToken  # signed by us, so never: a key shared by mistake at most
    return FormToken(f"{account:08d}", version, datetime.fromtimestamp(issued_at, UTC))


def _mac(key: bytes, fields: bytes) -> bytes:
    return hmac.new(key, fields, hashlib.sha256).digest()[:_MAC_BYTES]
