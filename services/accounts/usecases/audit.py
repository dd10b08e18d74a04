"""The audit chain checked, and its head exported as an anchor to keep outside the database.
Over the store alone: `python -m services.accounts.audit_anchor` uses them without the rest."""

from __future__ import annotations

from datetime import datetime

from services.accounts import contract
from services.accounts.rules.audit import Head, make_anchor, verify_chain
from services.accounts.storage import Store


def verify_audit_chain(store: Store, anchor: dict | None = None) -> contract.AuditReport:
    """Checks every digest with the audit key and, given an exported anchor, that the entry it
    recorded is still there unchanged (nothing newer was cut off)."""
    with store.transaction() as tx:
        report = verify_chain(tx.audit_chain(), store.keys.audit, anchor, store.keys.anchor)
    return contract.AuditReport(intact=report.intact, first_broken_id=report.first_broken_id,
                                problem=report.problem)


def audit_head(store: Store) -> Head | None:
    with store.statements() as db:
        return db.audit_newest()


def export_audit_anchor(store: Store, now: datetime) -> dict | None:
    """The newest entry, signed, to be kept outside the database."""
    head = audit_head(store)
    return head and make_anchor(store.keys.anchor, head, now.isoformat())
