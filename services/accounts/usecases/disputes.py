"""A dispute over a child's document settled by the district (enrollment's `document_moved`):
the account goes to the real guardian's phone. The former holder's sessions end and its
password stops working; the guardian sets one through 忘记密码 (a code texted to the phone the
account now has)."""

from __future__ import annotations

import logging

from common.masking import mask_phone
from services.accounts.usecases.context import Context

log = logging.getLogger(__name__)


class Disputes:
    def __init__(self, context: Context):
        self.context = context

    def document_moved(self, event_id: str, event_type: str, account_no: str, district: str,
                       claimant_phone: str, request_id: str | None = None) -> bool:
        """Moves the account to `claimant_phone`; False if the event was handled before."""
        context = self.context
        now = context.edge.clock()
        with context.store.transaction() as tx:
            if not tx.first_time(event_id, event_type):
                return False
            account = tx.account_by_no(account_no, for_update=True)
            if account is None:  # cancelled meanwhile: nothing is left to move
                log.warning("document moved for an account that is gone")
                return True
            # The per-phone limit (three accounts) is not applied: the district decided the
            # child is this guardian's, and the guardian may already hold three accounts.
            tx.move_account(account, {**account.personal, "guardian_phone": claimant_phone},
                            context.lookup("phone", claimant_phone))
            tx.audit("account_moved", now, account_no, request_id=request_id,
                     district=district,
                     former_phone=mask_phone(account.personal["guardian_phone"]),
                     phone=mask_phone(claimant_phone))
        return True
