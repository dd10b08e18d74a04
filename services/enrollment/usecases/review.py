"""入学资格审核: the district's review of a 非本市户籍 application, item by item."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.enrollment.rules import status
from services.enrollment.usecases.context import Context, load, transact
from services.enrollment.usecases.store import Application, Transaction


def start_review(context: Context, account_no: str, version: int) -> Application:
    """From now on the family can no longer withdraw this version."""
    def work(tx: Transaction, now: datetime) -> Application:
        application = load(tx, account_no)
        state = status.start_review(application.state, context.season, now, version)
        if state == application.state:
            return application
        return tx.save(replace(application, state=state, updated_at=now))
    return transact(context, work)


def record_result(context: Context, account_no: str, version: int, item: str, passed: bool,
                  reason: str | None = None) -> Application:
    def work(tx: Transaction, now: datetime) -> Application:
        application = load(tx, account_no)
        state = status.record_review_result(application.state, context.season, now, version,
                                            item, passed, reason)
        return tx.save(replace(application, state=state, updated_at=now))
    return transact(context, work)
