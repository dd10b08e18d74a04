"""The tamper-evident audit log.

Each entry's digest is HMAC-SHA256, under a key the database does not hold, of the previous
digest and the entry: whoever can write the table (even its owner) cannot forge a digest. An
anchor records the newest entry outside the database (signed with another key), so deleting
the newest entries, which leaves a shorter chain that still links, is noticed too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass

GENESIS = "0" * 64


def canonical(entry: dict) -> bytes:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str).encode()


def entry_digest(key: bytes, previous: str, entry: dict) -> str:
    return hmac.new(key, previous.encode() + canonical(entry), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Head:
    """The newest entry of the chain."""
    entry_id: int
    digest: str
    at: str


@dataclass(frozen=True)
class Report:
    intact: bool
    first_broken_id: int | None  # the first entry that does not chain
    problem: str | None  # in words, for operators


def verify_chain(rows, key: bytes, anchor: dict | None = None,
                 anchor_key: bytes | None = None) -> Report:
    """Walks (id, entry, previous, digest) rows in order. With an anchor (see `make_anchor`),
    its entry must still be there with the same digest."""
    if anchor is not None and not anchor_signed(anchor_key, anchor):
        return Report(False, None, "the anchor's signature does not match")
    previous = GENESIS
    anchored = False
    for row_id, entry, stored_previous, digest in rows:
        if stored_previous != previous or not hmac.compare_digest(
                entry_digest(key, previous, entry), digest):
            return Report(False, row_id, f"entry {row_id} does not chain")
        if anchor is not None and row_id == anchor["entry_id"]:
            if digest != anchor["digest"]:
                return Report(False, row_id, f"entry {row_id} differs from the anchor")
            anchored = True
        previous = digest
    if anchor is not None and not anchored:
        return Report(False, None, f"anchored entry {anchor['entry_id']} is missing")
    return Report(True, None, None)


def make_anchor(key: bytes, head: Head, exported_at: str) -> dict:
    anchor = {**asdict(head), "exported_at": exported_at}
    return {**anchor, "signature": _sign(key, anchor)}


def anchor_signed(key: bytes, anchor: dict) -> bool:
    fields = {k: v for k, v in anchor.items() if k != "signature"}
    return hmac.compare_digest(_sign(key, fields), str(anchor.get("signature", "")))


def _sign(key: bytes, fields: dict) -> str:
    return hmac.new(key, canonical(fields), hashlib.sha256).hexdigest()
