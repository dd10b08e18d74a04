"""信息采集导航页: where the family stands and what to do next."""

from __future__ import annotations

from datetime import datetime

from services.enrollment.rules import status
from services.enrollment.usecases.context import Context, transact
from services.enrollment.usecases.store import Transaction


def journey(context: Context, account_no: str, hukou_type: str) -> status.Journey:
    """`hukou_type`: the account's, for an application not opened yet (accounts'
    `family_registered` is on its way): its journey is that of an application nothing was done
    on, every step shown."""
    def work(tx: Transaction, now: datetime) -> status.Journey:
        application = tx.load(account_no)
        if application is None:
            return status.journey(status.ApplicationState(hukou_type), context.season, now)
        published = tx.publication(application.registration.district) is not None
        return status.journey(application.state, context.season, now, published)
    return transact(context, work)
