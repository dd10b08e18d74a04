"""身份证及户籍信息核验: the verification service's result for one submitted version."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.enrollment import contract
from services.enrollment.rules import status
from services.enrollment.usecases.context import Context, text_guardian, transact
from services.enrollment.usecases.store import Transaction


def apply_result(context: Context, account_no: str, version: int, verified: bool,
                 item: str | None = None, reason: str | None = None) -> bool:
    """True when applied. False when ignored: the result is not for the pending check of the
    current version (withdrawn, resubmitted, a repeat), or the account is gone (cancelled),
    so that a late or repeated message is no error for the consumer. An applied result
    records, in the same transaction, the `verification_outcome` event notify texts to the
    guardian."""
    def work(tx: Transaction, now: datetime) -> bool:
        application = tx.load(account_no)
        if application is None:
            return False
        state = status.apply_verification(application.state, version, verified, item, reason)
        if state is None:
            return False
        tx.save(replace(application, state=state, updated_at=now))
        text_guardian(tx, application, contract.VERIFICATION_OUTCOME,
                      lambda phone: contract.VerificationOutcome(
                          account_no=account_no, version=version,
                          status="verified" if verified else "failed",
                          guardian_phone=phone).payload())
        return True
    return transact(context, work)
