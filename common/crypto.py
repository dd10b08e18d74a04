"""Encryption at rest (AES-GCM) and keyed look-up hashes (HMAC-SHA256) for personal data.

Every ciphertext starts with a version byte and the id of the key that sealed it, so a key
ring can hold retired keys for reading while new rows are sealed under the newest one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x02"
_HEADER = 3  # version byte, key id (2 bytes)
_NONCE = 12


class DecryptionFailed(Exception):
    """A ciphertext that does not open here: another row's, a shredded key's, or altered."""


def decode_key(value: str, name: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValueError(f"{name} must be base64") from exc
    if len(key) != 32:
        raise ValueError(f"{name} must decode to 32 bytes")
    return key


class FieldCipher:
    """Encrypts JSON documents or raw bytes under the newest key of `keys` (id -> 32 bytes);
    decrypts under whichever key a ciphertext names. `context` (which column of which row)
    is bound as associated data, so a ciphertext copied elsewhere does not open."""

    def __init__(self, keys: dict[int, bytes]):
        self._aeads = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current_id = max(keys)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return (_VERSION + self.current_id.to_bytes(2, "big") + nonce
                + self._aeads[self.current_id].encrypt(nonce, plaintext, context.encode()))

    def open(self, blob: bytes, context: str) -> bytes:
        blob = bytes(blob)
        aead = self._aeads.get(key_id(blob))
        if aead is None:
            raise DecryptionFailed("unknown ciphertext version or key")
        try:
            return aead.decrypt(blob[_HEADER:_HEADER + _NONCE], blob[_HEADER + _NONCE:],
                                context.encode())
        except InvalidTag:
            raise DecryptionFailed("ciphertext does not belong here") from None

    def encrypt(self, document: dict, context: str) -> bytes:
        return self.seal(json.dumps(document, ensure_ascii=False, sort_keys=True).encode(),
                         context)

    def decrypt(self, blob: bytes, context: str) -> dict:
        return json.loads(self.open(blob, context))

    def reseal(self, blob: bytes, context: str) -> bytes:
        """The same plaintext sealed under the newest key (key rotation)."""
        return self.seal(self.open(blob, context), context)

    def is_current(self, blob: bytes) -> bool:
        return key_id(bytes(blob)) == self.current_id


def key_id(blob: bytes) -> int | None:
    """The id of the key a ciphertext was sealed with; None if it is not one of ours."""
    if blob[:1] != _VERSION or len(blob) < _HEADER + _NONCE:
        return None
    return int.from_bytes(blob[1:_HEADER], "big")


class LookupHasher:
    """Keyed hash so that uniqueness and look-ups work without storing the value in clear."""

    def __init__(self, key: bytes):
        self._key = key

    def __call__(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).digest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
