"""Bulk district calls: up to contract.MAX_BULK review decisions, pre-registrations or
approvals in one call, each item decided once however often the call is repeated or retried.

A call is known by its district and idempotency key, and its items by their digest: the same
key with other items is refused (IDEMPOTENCY_KEY_REUSED). The items are decided in chunks, a
short transaction each, which records each item's outcome with its decision and skips the
items whose outcome is recorded already (by an attempt of the call that was cut short, or by
one still running, which it waits for). So a repeat decides nothing again and answers the
recorded outcomes, and a call cut short by a crash or a timeout is finished by its retry.
Between chunks the call lets the other requests go first (`pause`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from common.errors import DomainError
from services.enrollment import contract
from services.enrollment.usecases import district, placement
from services.enrollment.usecases.context import Context, transact
from services.enrollment.usecases.district import Operator
from services.enrollment.usecases.store import (
    Application,
    BulkCall,
    Outcome,
    Transaction,
)

# Items per transaction: large enough that a chunk's one query and commit cost little per
# item, small enough that a chunk holds its rows' locks and its connection only briefly.
CHUNK = 100


class Item(Protocol):
    """What every bulk item names: the application, and the staff member deciding on it."""
    account_no: str
    operator: str


I = TypeVar("I", bound=Item)  # noqa: E741
# One item's decision in the chunk's transaction (district.review_item_in's shape): a
# DomainError for a refusal, having written nothing but the call's audit.
Decide = Callable[[Transaction, Context, datetime, Operator, I], object]


# Each operation: an item decided as its method's single call decides it.

def review_item(tx: Transaction, context: Context, now: datetime, operator: Operator,
                item: contract.ItemDecision) -> Application:
    return district.review_item_in(tx, context, now, operator, item.account_no, item.version,
                                   item.item, item.passed, item.reason, item.agency)


def preregister(tx: Transaction, context: Context, now: datetime, operator: Operator,
                item: contract.Preregistration) -> placement.Placed:
    return placement.preregister_in(tx, context, now, operator, item.account_no, item.version,
                                    item.school)


def approve(tx: Transaction, context: Context, now: datetime, operator: Operator,
            item: contract.Approval) -> placement.Placed:
    return placement.approve_in(tx, context, now, operator, item.account_no, item.school)


def digest(documents: Iterable[Mapping]) -> str:
    """The sha256 of the items' canonical JSON: the same items, the same digest."""
    canonical = json.dumps(list(documents), ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def run(context: Context, district: str, key: str, items_digest: str, items: Sequence[I],
        decide: Decide, pause: Callable[[], None] = lambda: None) -> list[Outcome]:
    """The items decided for `district` (the caller's), or their outcomes as recorded, in the
    items' order."""
    call = BulkCall(district, key, items_digest)
    if transact(context, lambda tx, now: tx.open_bulk_call(call)) != items_digest:
        raise DomainError("IDEMPOTENCY_KEY_REUSED")
    outcomes: dict[int, Outcome] = {}
    for start in range(0, len(items), CHUNK):
        if start:
            pause()
        indexes = range(start, min(start + CHUNK, len(items)))
        outcomes |= transact(context, lambda tx, now, indexes=indexes: _chunk(
            tx, context, now, call, items, indexes, decide))
    return [outcomes[index] for index in range(len(items))]


def _chunk(tx: Transaction, context: Context, now: datetime, call: BulkCall,
           items: Sequence[I], indexes: range, decide: Decide) -> dict[int, Outcome]:
    """The outcomes of the items at `indexes`: those recorded already, and the others decided
    and recorded in `tx`. A StaleRevision (a concurrent change) undoes the whole chunk, which
    `transact` decides again on the fresh state."""
    recorded = tx.bulk_outcomes(call, indexes)
    todo = [index for index in indexes if index not in recorded]
    if not todo:
        return recorded
    chunk = _Loaded(tx, {items[index].account_no for index in todo})
    decided = [_decided(chunk, context, now, call.district, index, items[index], decide)
               for index in todo]
    tx.record_outcomes(call, decided)
    return recorded | {outcome.index: outcome for outcome in decided}


def _decided(tx: Transaction, context: Context, now: datetime, district: str, index: int,
             item: I, decide: Decide) -> Outcome:
    try:
        decide(tx, context, now, Operator(district, item.operator), item)
    except DomainError as refusal:
        return Outcome(index, item.account_no, refusal.code, refusal.message)
    return Outcome(index, item.account_no)


class _Loaded:
    """`tx` whose `load` answers from one query for the chunk's applications, each as the
    transaction has left it."""

    def __init__(self, tx: Transaction, account_nos: set[str]):
        self._tx = tx
        found = tx.load_many(account_nos)
        self._applications = {account_no: found.get(account_no) for account_no in account_nos}

    def __getattr__(self, name: str):
        return getattr(self._tx, name)

    def load(self, account_no: str) -> Application | None:
        if account_no in self._applications:
            return self._applications[account_no]
        return self._tx.load(account_no)

    def save(self, application: Application) -> Application:
        saved = self._tx.save(application)
        self._applications[application.account_no] = saved
        return saved
