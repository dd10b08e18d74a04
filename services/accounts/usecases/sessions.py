"""Signing in (a lockout, and a throttle on failures per client address), sessions, and what a
signed-in family sees of its account."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from common import throttle
from common.client_address import rate_limit_subject
from common.contract_base import Ok
from common.districts import district_name
from common.errors import DomainError
from common.masking import mask_id_number, mask_name, mask_phone
from services.accounts import contract
from services.accounts.rules import accounts as account_rules
from services.accounts.storage import AccountRow, NewSession
from services.accounts.usecases.captchas import Captchas
from services.accounts.usecases.context import Context, Trail, token_hash


class Sessions:
    def __init__(self, context: Context, captchas: Captchas):
        self.context = context
        self.captchas = captchas
        settings = context.settings
        self.failures_per_ip = throttle.Limit(
            "login_failed_ip", settings.LOGIN_FAILURES_PER_IP_PER_HOUR, 3600)
        # Idle expiry is exact to within this; most reads then need not write.
        self._touch_every = timedelta(seconds=min(60, settings.SESSION_IDLE_TIMEOUT_S / 10))
        # Unknown accounts are checked against this hash so they take as long as known ones.
        self._decoy_hash = context.edge.hash_password(secrets.token_urlsafe(16))

    def login(self, req: contract.Login, request_id: str | None = None) -> contract.Session:
        """A wrong password is INVALID_CREDENTIALS whether the account exists or is locked:
        only the right password on a locked account hears of the lock."""
        context = self.context
        now = context.edge.clock()
        trail = Trail(req.client_ip, request_id)
        self.captchas.check(req.captcha_id, req.captcha_answer, trail)
        failures = self.failures_per_ip
        failures_subject = context.attempt_subject(failures, rate_limit_subject(req.client_ip))
        failures_window = throttle.window_start(now, failures.window_s)
        with context.store.statements() as db:
            throttle.check(failures, db.attempts_so_far(failures.kind, failures_subject,
                                                        failures_window) + 1, now)
            account = db.account_by_no(req.account_no) if \
                account_rules.looks_like_account_no(req.account_no) else None
        # Always a hash, locked or not, known or not: they all take the same time. An account
        # without a password (moved to its real guardian, who has not set one yet) is checked
        # against the decoy too, and never matches.
        usable = account is not None and account.password_hash is not None
        good = context.edge.verify_password(
            account.password_hash if usable else self._decoy_hash, req.password) and usable
        locked_until = None
        with context.store.transaction() as tx:
            account = account and tx.account_by_id(account.id)  # locked row: failures all count
            if account is not None and account_rules.is_locked(account.locked_until, now):
                locked_until = account.locked_until
            if account is not None and good and locked_until is None:
                tx.set_login_state(account.id, 0, None)
                tx.audit("login", now, account.account_no, **trail.details)
                return self.open(tx, account, now)
            if account is not None and good:
                tx.audit("login_refused_locked", now, account.account_no, **trail.details)
            else:
                tx.count_attempts([(failures.kind, failures_subject, failures_window)])
                self._count_failure(tx, account, locked_until, now, trail)
        if account is not None and good:  # raised after the commit: the entry must stay
            raise _locked(locked_until, now)
        raise DomainError("INVALID_CREDENTIALS")

    def _count_failure(self, tx, account: AccountRow | None, locked_until: datetime | None,
                       now: datetime, trail: Trail) -> None:
        if account is None:
            tx.audit("login_failed", now, None, **trail.details, reason="unknown_account")
            return
        tx.audit("login_failed", now, account.account_no, **trail.details,
                 reason="wrong_password")
        if locked_until is not None:  # failures while locked neither extend nor reveal it
            return
        settings = self.context.settings
        failures, locked_until = account_rules.after_failed_login(
            account.failed_logins, now, settings.LOGIN_MAX_FAILURES, settings.LOGIN_LOCK_MINUTES)
        tx.set_login_state(account.id, failures, locked_until)
        if locked_until:
            tx.audit("account_locked", now, account.account_no, **trail.details,
                     until=locked_until.isoformat())

    def open(self, tx, account: AccountRow, now: datetime) -> contract.Session:
        """A new session for `account`, inside the caller's transaction."""
        token, session = self.new(now)
        tx.add_session(session, account.id)
        return self.view(token, session, account)

    def new(self, now: datetime) -> tuple[str, NewSession]:
        """A fresh token (256 bits) each sign-in; only its hash is stored."""
        token = secrets.token_urlsafe(32)
        return token, NewSession(token_hash(token), now, now + timedelta(
            seconds=self.context.settings.SESSION_ABSOLUTE_TIMEOUT_S))

    def view(self, token: str, session: NewSession, account: AccountRow) -> contract.Session:
        return contract.Session(session_token=token,
                                idle_timeout_s=self.context.settings.SESSION_IDLE_TIMEOUT_S,
                                absolute_expires_at=session.expires_at.isoformat(),
                                account=_account_view(account))

    def account_of(self, db, session_token: str) -> AccountRow:
        """The account of a live session (its idle time renewed); else NOT_AUTHENTICATED."""
        now = self.context.edge.clock()
        account = db.live_session(
            token_hash(session_token), now,
            now - timedelta(seconds=self.context.settings.SESSION_IDLE_TIMEOUT_S),
            self._touch_every)
        if account is None:
            raise DomainError("NOT_AUTHENTICATED")
        return account

    def logout(self, session_token: str) -> Ok:
        with self.context.store.transaction() as tx:
            tx.end_session(token_hash(session_token))
        return Ok()

    def get_account(self, session_token: str) -> contract.AccountView:
        with self.context.store.statements() as db:
            return _account_view(self.account_of(db, session_token))


def _locked(until: datetime, now: datetime) -> DomainError:
    minutes = max(1, int((until - now).total_seconds() // 60) + 1)
    return DomainError("ACCOUNT_LOCKED", f"连续登录失败次数过多，账号已锁定，请{minutes}分钟后"
                                         "再试，或通过“忘记密码”重设密码。",
                       extra={"retry_after_s": int((until - now).total_seconds()) + 1})


def _account_view(account: AccountRow) -> contract.AccountView:
    p = account.personal
    return contract.AccountView(
        account_no=account.account_no, district=account.district,
        district_name=district_name(account.district), hukou_type=account.hukou_type,
        school_stage="primary", stage="details_pending",
        child_name=mask_name(p["child_name"]), document_type=account.document_type,
        document_number=mask_id_number(p["document_number"]), sex=p["sex"],
        guardian_name=mask_name(p["guardian_name"]),
        guardian_phone=mask_phone(p["guardian_phone"]),
        created_at=account.created_at.isoformat())
