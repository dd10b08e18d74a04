"""Cancelling an account (撤销账号): a session and a code erase the family's data; the event
tells the other services to erase theirs."""

from __future__ import annotations

from common.contract_base import Ok
from common.errors import DomainError
from services.accounts import contract
from services.accounts.usecases.context import Context, Trail, token_hash
from services.accounts.usecases.sessions import Sessions
from services.accounts.usecases.sms_codes import SmsCodes


class Cancellations:
    def __init__(self, context: Context, sessions: Sessions, codes: SmsCodes):
        self.context = context
        self.sessions = sessions
        self.codes = codes

    def cancel(self, req: contract.AccountCancellation, request_id: str | None = None) -> Ok:
        context = self.context
        trail = Trail(req.client_ip, request_id)
        # Bound to the session, not the phone: a cancelled account's phone is erased.
        replay_hash = self.codes.replay_hash("cancel_account",
                                             token_hash(req.session_token).hex(), req.sms_code,
                                             req.idempotency_key)
        try:
            with context.store.statements() as db:
                account = self.sessions.account_of(db, req.session_token)
        except DomainError as error:
            # The session ended with the account: a retry of that cancellation hears ok.
            if error.code != "NOT_AUTHENTICATED":
                raise
            with context.store.statements() as db:
                if not db.replayable("cancel_account", replay_hash, context.edge.clock()):
                    raise
            return self.codes.replayed("cancel_account", trail, None)
        code_id, _ = self.codes.prove(account.personal["guardian_phone"], "cancel_account",
                                      req.sms_code, trail, spend=True, replay_hash=replay_hash)
        now = context.edge.clock()
        with context.store.transaction() as tx:
            tx.record_replay(code_id, replay_hash)
            tx.cancel_account(account.id, now)
            tx.add_event(contract.ACCOUNT_CANCELLED, contract.AccountCancelled(
                account_no=account.account_no,
                guardian_phone=account.personal["guardian_phone"]).payload(), request_id)
            tx.audit("account_cancelled", now, account.account_no, **trail.details)
        return Ok()
