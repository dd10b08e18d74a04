"""Encryption at rest (AES-GCM) and keyed look-up hashes (HMAC-SHA256) for personal data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


def decode_key(value: str, name: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValueError(f"{name} must be base64") from exc
    if len(key) != 32:
        raise ValueError(f"{name} must decode to 32 bytes")
    return key


class FieldCipher:
    """Encrypts a JSON document; `context` (e.g. the row's purpose) is bound as associated data."""

    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    def encrypt(self, document: dict, context: str) -> bytes:
        nonce = os.urandom(12)
        plaintext = json.dumps(document, ensure_ascii=False, sort_keys=True).encode()
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def decrypt(self, blob: bytes, context: str) -> dict:
        blob = bytes(blob)
        if blob[:1] != _VERSION:
            raise ValueError("unknown ciphertext version")
        nonce, sealed = blob[1:13], blob[13:]
        return json.loads(self._aead.decrypt(nonce, sealed, context.encode()))


class LookupHasher:
    """Keyed hash so that uniqueness and look-ups work without storing the value in clear."""

    def __init__(self, key: bytes):
        self._key = key

    def __call__(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).digest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
