"""信息采集导航页: where the family stands and what to do next."""

from __future__ import annotations

from datetime import datetime

from services.enrollment.rules import status
from services.enrollment.usecases.context import Context, load, transact
from services.enrollment.usecases.store import Transaction


def journey(context: Context, account_no: str) -> status.Journey:
    def work(tx: Transaction, now: datetime) -> status.Journey:
        return status.journey(load(tx, account_no).state, context.season, now)
    return transact(context, work)
