"""The tamper-evident audit log: each entry's digest covers the previous digest."""

from __future__ import annotations

import hashlib
import json

GENESIS = "0" * 64


def canonical(entry: dict) -> bytes:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str).encode()


def entry_digest(previous: str, entry: dict) -> str:
    return hashlib.sha256(previous.encode() + canonical(entry)).hexdigest()


def first_broken_link(rows) -> int | None:
    """Walks (id, entry, previous, digest) rows in order; the first id that does not chain."""
    previous = GENESIS
    for row_id, entry, stored_previous, digest in rows:
        if stored_previous != previous or entry_digest(previous, entry) != digest:
            return row_id
        previous = digest
    return None
