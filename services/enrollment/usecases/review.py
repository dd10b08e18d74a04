"""入学资格审核: the district's review of a 非本市户籍 application, item by item."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.enrollment import contract
from services.enrollment.rules import status
from services.enrollment.rules.season import Season
from services.enrollment.usecases.context import Context, load, text_guardian, transact
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
        return record_in(tx, context.season, now, load(tx, account_no), version, item, passed,
                         reason)
    return transact(context, work)


def record_in(tx: Transaction, season: Season, now: datetime, application: Application,
              version: int, item: str, passed: bool, reason: str | None) -> Application:
    """One item's result, saved in `tx`. The result that decides the review (every item has
    one) records, in the same transaction, the `review_outcome` event notify texts to the
    guardian: once, as a decided review takes no more results."""
    state = status.record_review_result(application.state, season, now, version, item,
                                        passed, reason)
    saved = tx.save(replace(application, state=state, updated_at=now))
    if state.review.status == status.IN_REVIEW:
        return saved
    text_guardian(tx, application, contract.REVIEW_OUTCOME, lambda phone: contract.ReviewOutcome(
        account_no=application.account_no, version=version, status=state.review.status,
        guardian_phone=phone).payload())
    return saved
