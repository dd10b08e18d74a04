"""District systems: their applications listed, one opened with a stated purpose, 入学资格审核
item by item. The district is the caller's (its broker user), never the request's; every call
is audited, a call for another district's family refused and audited as refused. The family
sees the looks at its data."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from common.errors import DomainError
from services.enrollment.rules import status
from services.enrollment.usecases import review
from services.enrollment.usecases.context import Context, load, transact
from services.enrollment.usecases.store import Access, Application, Listed, Listing, Transaction

OK, REFUSED = "ok", "refused"


@dataclass(frozen=True)
class Operator:
    district: str  # the calling district's code, from its broker user
    staff_id: str  # the person, as the call names them


@dataclass(frozen=True)
class Page:
    rows: list[Listed]
    last: str | None  # the account number to list after for the next page; None: no more


def list_applications(context: Context, operator: Operator, listing: Listing,
                      after: str | None, limit: int, purpose: str | None) -> Page:
    """A page of the operator's district's applications."""
    def work(tx: Transaction, now: datetime) -> list[Listed]:
        tx.record_access(Access(operator.district, operator.staff_id,
                                "district_list_applications", OK, purpose=purpose))
        return tx.list_applications(operator.district, listing, after, limit + 1)
    found = transact(context, work)
    rows = found[:limit]
    return Page(rows, rows[-1].application.account_no if len(found) > limit else None)


def show_application(context: Context, operator: Operator, account_no: str,
                     purpose: str) -> Application:
    """The application unmasked, for a stated purpose; NOT_YOUR_DISTRICT (audited) for
    another district's family."""
    def work(tx: Transaction, now: datetime) -> Application | None:
        return _mine(tx, operator, account_no, "district_show_application", purpose)
    return _or_refused(transact(context, work))


def review_item(context: Context, operator: Operator, account_no: str, version: int,
                item: str, passed: bool, reason: str | None, agency: str) -> Application:
    """One item's 通过 / 不通过 by its agency; the first starts the review (the family can no
    longer withdraw). NOT_YOUR_DISTRICT (audited) for another district's family."""
    status.check_agency(item, agency)

    def work(tx: Transaction, now: datetime) -> Application | None:
        label = context.season.review_items.get(item, item)
        application = _mine(tx, operator, account_no, "district_review_item",
                            f"入学资格审核：{label}", agency)
        if application is None:
            return None
        started = status.start_review(application.state, context.season, now, version)
        return review.record_in(tx, context.season, now, replace(application, state=started),
                                version, item, passed, reason)
    return _or_refused(transact(context, work))


def _mine(tx: Transaction, operator: Operator, account_no: str, method: str,
          purpose: str, agency: str | None = None) -> Application | None:
    """The application if it is the operator's district's, else None; the call audited either
    way. An account without an application is refused alike, so that a district cannot tell
    which account numbers exist elsewhere."""
    application = tx.load(account_no)
    mine = application is not None and application.registration.district == operator.district
    tx.record_access(Access(operator.district, operator.staff_id, method,
                            OK if mine else REFUSED, account_no, purpose, agency))
    return application if mine else None


def _or_refused(application: Application | None) -> Application:
    if application is None:  # the refusal is audited: raised once its transaction committed
        raise DomainError("NOT_YOUR_DISTRICT")
    return application


def accesses(context: Context, account_no: str) -> list[Access]:
    """The looks at the family's data that were let through, newest first."""
    def work(tx: Transaction, now: datetime) -> list[Access]:
        load(tx, account_no)
        return [access for access in tx.accesses(account_no) if access.outcome == OK]
    return transact(context, work)
