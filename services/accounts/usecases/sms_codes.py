"""SMS codes: issued (after a captcha, under throttles, a cooldown, daily caps and the
platform's budget) with the event that texts them; proved by the actions they confirm, whose
retries they may replay (rules/sms_codes.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from common import throttle
from common.client_address import rate_limit_subject
from common.contract_base import Ok
from common.masking import mask_phone
from services.accounts import contract
from services.accounts.rules import sms_codes as code_rules
from services.accounts.usecases.captchas import Captchas
from services.accounts.usecases.context import Context, Trail, reference, required
from services.accounts.usecases.sessions import Sessions

log = logging.getLogger(__name__)


class SmsCodes:
    def __init__(self, context: Context, captchas: Captchas, sessions: Sessions):
        self.context = context
        self.captchas = captchas
        self.sessions = sessions
        settings = context.settings
        self.policy = code_rules.CodePolicy(
            ttl_s=settings.SMS_CODE_TTL_S, cooldown_s=settings.SMS_RESEND_COOLDOWN_S,
            daily_limit_per_phone=settings.SMS_DAILY_LIMIT_PER_PHONE,
            daily_limit_per_ip=settings.SMS_DAILY_LIMIT_PER_IP,
            max_wrong_tries=settings.SMS_MAX_WRONG_TRIES)
        limit = throttle.Limit
        self.per_ip_hour = limit("sms_ip", settings.SMS_HOURLY_LIMIT_PER_IP, 3600)
        # Forgot-password codes count against the reference, matching or not: one answer.
        self.per_reference = limit("sms_reset_ref", settings.SMS_DAILY_LIMIT_PER_PHONE, 86400,
                                   "SMS_DAILY_LIMIT")
        self.budget = limit("sms_platform", settings.SMS_PLATFORM_BUDGET_PER_MIN, 60, "SMS_BUSY")

    def request(self, req: contract.SmsCodeRequest,
                request_id: str | None = None) -> contract.SmsCodeSent:
        """Records a code and, in the same transaction, the event that texts it (or, for a
        forgot-password request matching no account, says not to): matching and non-matching
        requests do the same work and get the same answer."""
        context = self.context
        now = context.edge.clock()
        trail = Trail(req.client_ip, request_id)
        self.captchas.check(req.captcha_id, req.captcha_answer, trail)
        phone, deliver = self._recipient(req)
        address = rate_limit_subject(req.client_ip)
        checks = [(self.per_ip_hour, address)]
        if req.purpose == "reset_password":
            checks.append((self.per_reference, reference(req.account_ref)))
        with context.store.statements() as db:
            context.throttle(db, now, *checks)
        phone_hash, ip_hash = context.lookup("phone", phone), context.lookup("ip", address)
        cooldown_hash = phone_hash if req.purpose != "reset_password" else context.lookup(
            "reset-pair", f"{phone}|{reference(req.account_ref)}")
        code = code_rules.new_code()
        expires_at = now + timedelta(seconds=self.policy.ttl_s)
        with context.store.transaction() as tx:
            tx.lock_phone(phone_hash)
            last, phone_count, ip_count = tx.code_counts(
                cooldown_hash, phone_hash, ip_hash, code_rules.beijing_day_start(now))
            code_rules.check_can_issue(self.policy, now, last, phone_count, ip_count)
            code_id = tx.add_code(phone_hash, ip_hash, cooldown_hash, req.purpose,
                                  self.code_hash(phone, req.purpose, code), now, expires_at,
                                  deliver)
            # Withheld codes go through the outbox and the bus too: the same work, the same
            # time (notify drops them); the code itself is unusable (storage reads only
            # delivered codes).
            tx.add_event(contract.SMS_CODE_ISSUED, contract.SmsCodeIssued(
                message_id=f"code-{code_id}", phone=phone, purpose=req.purpose,
                text=f"您的验证码为{code}，5分钟内有效，请勿泄露给他人。",
                not_after=expires_at, deliver=deliver).payload(), request_id)
            # Last, as they hold the platform's counter and the audit chain until the commit.
            self._spend_budget(tx, now)
            tx.audit("sms_code_sent" if deliver else "sms_code_withheld", now, None,
                     **trail.details, purpose=req.purpose, phone=mask_phone(phone))
        return contract.SmsCodeSent(cooldown_s=self.policy.cooldown_s,
                                    expires_in_s=self.policy.ttl_s,
                                    phone_masked=mask_phone(phone))

    def _spend_budget(self, tx, now: datetime) -> None:
        """The platform's codes per minute: gauged, a warning once a minute past the alert
        ratio, and SMS_BUSY past the budget (which rolls this code back)."""
        budget = self.budget
        issued = tx.count_attempts([(budget.kind,
                                     self.context.attempt_subject(budget, "platform"),
                                     throttle.window_start(now, budget.window_s))])[budget.kind]
        self.context.edge.observe_sms_budget(min(issued, budget.limit),
                                             min(issued, budget.limit) / max(budget.limit, 1))
        if throttle.alert_due(issued, budget.limit,
                              self.context.settings.SMS_BUDGET_ALERT_RATIO):
            log.warning("SMS budget nearly used up", extra={
                "codes_this_minute": issued, "budget_per_min": budget.limit})
        throttle.check(budget, issued, now)

    def _recipient(self, req: contract.SmsCodeRequest) -> tuple[str, bool]:
        """The phone to text and whether to really send (reset never reveals accounts)."""
        store = self.context.store
        if req.purpose == "register":
            return required(req.phone, "phone"), True
        if req.purpose == "reset_password":
            phone = required(req.phone, "phone")
            ref = required(req.account_ref, "account_ref")
            with store.transaction() as tx:
                account = self.context.account_by_ref(tx, ref)
            matches = account is not None and account.personal["guardian_phone"] == phone
            return phone, matches
        with store.statements() as db:
            account = self.sessions.account_of(db, required(req.session_token, "session_token"))
        return account.personal["guardian_phone"], True

    def code_hash(self, phone: str, purpose: str, code: str) -> bytes:
        return self.context.lookup("sms", code_rules.code_subject(phone, purpose, code))

    def replay_hash(self, purpose: str, subject: str, code: str, idempotency_key: str) -> bytes:
        """What a retry of the action `code` completes must repeat (rules/sms_codes.py)."""
        return self.context.lookup("replay", code_rules.replay_subject(
            purpose, subject, code, idempotency_key))

    def check(self, tx, phone: str, purpose: str, code: str,
              replay_hash: bytes) -> tuple[str, int | None, int]:
        """Checks a code inside the caller's transaction: (the outcome, the code's id, the
        phone's active accounts). A wrong try is counted: the caller must commit before
        refusing, so that it counts."""
        now = self.context.edge.clock()
        recent = tx.recent_codes(self.context.lookup("phone", phone), purpose,
                                 self.since(now))
        outcome, code_id = code_rules.check_code(self.policy, recent.codes,
                                                 self.code_hash(phone, purpose, code), now,
                                                 replay_hash)
        if outcome == "wrong":
            tx.count_wrong_code(code_id)
        return outcome, code_id, recent.on_phone

    def since(self, now: datetime) -> datetime:
        """When the oldest code still valid at `now` was issued."""
        return now - timedelta(seconds=self.policy.ttl_s)

    def prove(self, phone: str, purpose: str, code: str, trail: Trail, spend: bool,
              replay_hash: bytes) -> tuple[int, bool]:
        """(the id of `code`, whether this is a replay of the action it completed) if it is the
        phone's live code for `purpose` or the spent one replayed (`replay_hash`), else
        SMS_CODE_INVALID (audited); a wrong one counts as a wrong try. `spend` uses it up."""
        context = self.context
        with context.store.transaction() as tx:
            outcome, code_id, _ = self.check(tx, phone, purpose, code, replay_hash)
            if outcome == "ok" and spend:
                tx.use_code(code_id, context.edge.clock())
        if outcome not in ("ok", "replay"):
            context.audit_refusal("sms_code_refused", trail, purpose=purpose,
                                  phone=mask_phone(phone))
            raise code_rules.refuse_code()
        return code_id, outcome == "replay"

    def replayed(self, purpose: str, trail: Trail, account_no: str | None) -> Ok:
        """The answer a completed action gives again to its retry (audited)."""
        with self.context.store.transaction() as tx:
            tx.audit("replayed", self.context.edge.clock(), account_no, **trail.details,
                     purpose=purpose)
        return Ok()
