"""What every accounts use case works with (settings, store, look-up hasher, the edge's slow
work) and the steps several capabilities share."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from common import throttle
from common.crypto import LookupHasher
from common.errors import DomainError
from services.accounts.rules import accounts as account_rules
from services.accounts.settings import AccountsSettings
from services.accounts.storage import AccountRow, Store


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Trail:
    """Who asked: every audit entry carries it."""
    client_ip: str
    request_id: str | None

    @property
    def details(self) -> dict:
        return {"client_ip": self.client_ip or None, "request_id": self.request_id}


@dataclass(frozen=True)
class Edge:
    """What the service injects: slow work, each a plain callable run off the event hub."""
    hash_password: Callable[[str], str]
    verify_password: Callable[[str, str], bool]
    render_captcha: Callable[[str], bytes]  # answer -> PNG
    observe_sms_budget: Callable[[int, float], None]  # (codes this minute, ratio)
    clock: Callable[[], datetime] = utcnow


@dataclass(frozen=True)
class Context:
    """Shared by every capability (bootstrap.build makes one)."""
    settings: AccountsSettings
    store: Store
    lookup: LookupHasher
    edge: Edge

    def throttle(self, db, now: datetime, *checks: tuple[throttle.Limit, str]) -> None:
        """Counts this attempt against each (limit, subject), subjects kept only as keyed
        hashes, in one statement; refuses it past any of the limits."""
        counts = db.count_attempts([
            (limit.kind, self.attempt_subject(limit, subject),
             throttle.window_start(now, limit.window_s)) for limit, subject in checks])
        for limit, _ in checks:
            throttle.check(limit, counts[limit.kind], now)

    def attempt_subject(self, limit: throttle.Limit, subject: str) -> bytes:
        return self.lookup("attempt", f"{limit.kind}|{subject}")

    def audit_refusal(self, action: str, trail: Trail, **details) -> None:
        """Refusals come at attack rates: each is appended in a transaction of its own, so
        the chain's head is held for one statement and a commit."""
        with self.store.transaction() as tx:
            tx.audit(action, self.edge.clock(), None, **trail.details, **details)

    def account_by_ref(self, db, ref: str) -> AccountRow | None:
        """By account number or by the child's document number."""
        ref = reference(ref)
        if account_rules.looks_like_account_no(ref):
            return db.account_by_no(ref)
        return db.account_by_document(self.lookup("document", ref))

    def purge_expired(self) -> None:
        """Captchas, codes and attempt counters past any use."""
        with self.store.transaction() as tx:
            tx.purge_expired(self.edge.clock())


def reference(account_ref: str) -> str:
    """An account number or document number as looked up (upper-case X)."""
    return account_ref.strip().upper()


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def required(value, field: str):
    if not value:
        raise DomainError("VALIDATION_ERROR", fields={field: "此项为必填项。"})
    return value
