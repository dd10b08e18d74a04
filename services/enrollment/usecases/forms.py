"""The documents service's reads: the family's data for its 学龄人口信息采集表 (audited, as
every read of a family's data by another system is), and where the application stands (for the
form's status and the check of a printout: nothing personal is read out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.enrollment.usecases.context import Context, load, transact
from services.enrollment.usecases.store import Access, Application, Transaction

# The audit's method: recorded beside the districts' calls, and left out of the family's list
# of districts' looks (district.accesses): it is the family's own form, printed at its request.
FORM_DATA = "documents_get_form_data"
DOCUMENTS = "documents"  # the audit's staff id: the calling service
PURPOSE = "打印学龄人口信息采集表"


@dataclass(frozen=True)
class FormSource:
    application: Application
    submitted_at: datetime | None  # the current version's


def form_data(context: Context, account_no: str) -> FormSource:
    """The application with its current version's submission time; audited."""
    def work(tx: Transaction, now: datetime) -> FormSource:
        application = load(tx, account_no)
        tx.record_access(Access(application.registration.district, DOCUMENTS, FORM_DATA, "ok",
                                account_no, PURPOSE))
        version = application.state.version
        submitted = next((found.submitted_at for found in tx.versions(account_no)
                          if found.number == version), None)
        return FormSource(application, submitted)
    return transact(context, work)


def standing(context: Context, account_no: str) -> Application | None:
    """The application, or None if the account has none (never opened, or cancelled)."""
    return transact(context, lambda tx, now: tx.load(account_no))
