"""Changing a password (a session and a code) and resetting a forgotten one (a reference, the
phone and a code): the code is proved before any hash, and the other sessions end."""

from __future__ import annotations

from common.contract_base import Ok
from common.errors import DomainError
from common.masking import mask_phone
from services.accounts import contract
from services.accounts.rules import sms_codes as code_rules
from services.accounts.rules.passwords import check_password_policy
from services.accounts.storage import AccountRow
from services.accounts.usecases.context import Context, Trail, reference, token_hash
from services.accounts.usecases.sessions import Sessions
from services.accounts.usecases.sms_codes import SmsCodes


class Passwords:
    def __init__(self, context: Context, sessions: Sessions, codes: SmsCodes):
        self.context = context
        self.sessions = sessions
        self.codes = codes

    def change(self, req: contract.PasswordChange, request_id: str | None = None) -> Ok:
        context = self.context
        trail = Trail(req.client_ip, request_id)
        with context.store.statements() as db:
            account = self.sessions.account_of(db, req.session_token)
        check_password_policy(req.new_password, req.new_password_confirm, "new_password")
        # The code before the hash: argon2 only for a session that also holds a valid code.
        replay_hash = self.codes.replay_hash("change_password",
                                             token_hash(req.session_token).hex(), req.sms_code,
                                             req.idempotency_key)
        code_id, replayed = self.codes.prove(account.personal["guardian_phone"],
                                             "change_password", req.sms_code, trail,
                                             spend=True, replay_hash=replay_hash)
        if replayed:
            return self._replay(account, req.new_password, "change_password", trail)
        password_hash = context.edge.hash_password(req.new_password)
        now = context.edge.clock()
        with context.store.transaction() as tx:
            tx.set_password(account.id, password_hash)
            tx.end_other_sessions(account.id, token_hash(req.session_token))
            tx.record_replay(code_id, replay_hash)
            tx.audit("password_changed", now, account.account_no, **trail.details)
        return Ok()

    def reset(self, req: contract.PasswordReset, request_id: str | None = None) -> Ok:
        context = self.context
        trail = Trail(req.client_ip, request_id)
        check_password_policy(req.new_password, req.new_password_confirm, "new_password")
        # Checked before looking at accounts: a wrong code says nothing about them.
        replay_hash = self.codes.replay_hash("reset_password",
                                             f"{req.phone}|{reference(req.account_ref)}",
                                             req.sms_code, req.idempotency_key)
        code_id, replayed = self.codes.prove(req.phone, "reset_password", req.sms_code, trail,
                                             spend=True, replay_hash=replay_hash)
        with context.store.statements() as db:
            account = context.account_by_ref(db, req.account_ref)
        if account is None or account.personal["guardian_phone"] != req.phone:
            context.audit_refusal("password_reset_failed", trail, phone=mask_phone(req.phone))
            raise DomainError("RESET_FAILED")
        if replayed:
            return self._replay(account, req.new_password, "reset_password", trail)
        password_hash = context.edge.hash_password(req.new_password)
        now = context.edge.clock()
        with context.store.transaction() as tx:
            tx.set_password(account.id, password_hash)
            tx.end_other_sessions(account.id, None)
            tx.record_replay(code_id, replay_hash)
            tx.audit("password_reset", now, account.account_no, **trail.details)
        return Ok()

    def _replay(self, account: AccountRow, new_password: str, purpose: str, trail: Trail) -> Ok:
        """A password change or reset retried: the same success, if the password it sets is
        the one the first request set."""
        if not self.context.edge.verify_password(account.password_hash, new_password):
            self.context.audit_refusal("sms_code_refused", trail, purpose=purpose,
                                       phone=mask_phone(account.personal["guardian_phone"]))
            raise code_rules.refuse_code()
        return self.codes.replayed(purpose, trail, account.account_no)
