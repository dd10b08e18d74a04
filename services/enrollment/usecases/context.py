"""What every use case works with, and the transaction that retries a concurrent change."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from common.errors import DomainError
from services.enrollment.rules.season import Season
from services.enrollment.usecases.store import Application, StaleRevision, Store, Transaction

log = logging.getLogger(__name__)
T = TypeVar("T")
# Each attempt re-runs the pure transition on what is now stored, so a retry decides on the
# current state (and may refuse): a few attempts only ever lose to a burst of changes.
ATTEMPTS = 3


@dataclass(frozen=True)
class Context:
    store: Store
    season: Season
    clock: Callable[[], datetime]  # aware datetimes


def transact(context: Context, work: Callable[[Transaction, datetime], T]) -> T:
    """`work(tx, now)` in a transaction, again on a StaleRevision; CONCURRENT_UPDATE if every
    attempt met one."""
    for _ in range(ATTEMPTS):
        try:
            with context.store.transaction() as tx:
                return work(tx, context.clock())
        except StaleRevision:
            continue
    raise DomainError("CONCURRENT_UPDATE")


def load(tx: Transaction, account_no: str) -> Application:
    application = tx.load(account_no)
    if application is None:
        raise DomainError("APPLICATION_NOT_FOUND")
    return application


def text_guardian(tx: Transaction, application: Application, event_type: str,
                  event: Callable[[str], dict]) -> None:
    """Records the outcome event notify texts to the guardian (`event(phone)`: its payload),
    in `tx`; nothing for an application opened before the guardian's phone was kept."""
    phone = application.registration.guardian_phone
    if phone is None:
        log.warning("outcome not texted: no guardian phone on record",
                    extra={"event_type": event_type})
        return
    tx.record_event(event_type, event(phone))
