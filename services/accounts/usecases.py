"""The accounts use cases: plain Python over the store, the rules and injected collaborators.

`bootstrap.build` wires them with the edge pieces the service (service.py) supplies: the
password hasher run off the event hub, the captcha renderer, the SMS budget gauges; the
service passes each call its request id. Nothing here imports nameko or eventlet. Texts are
not sent from here: a code's text is an outbox event (notify sends it).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from captcha.image import ImageCaptcha

from common.client_address import rate_limit_subject
from common.crypto import LookupHasher
from common.districts import district_name
from common.errors import DomainError
from common.masking import mask_id_number, mask_name, mask_phone
from services.accounts import contract
from services.accounts.rules import accounts as account_rules
from services.accounts.rules import notice as notice_rules
from services.accounts.rules import sms_codes, throttle
from services.accounts.rules.audit import Head, make_anchor, verify_chain
from services.accounts.rules.passwords import check_password_policy
from services.accounts.rules.registration import check_registration
from services.accounts.storage import AccountRow, AuditEntry, NewAccount, NewSession, Store

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Trail:
    """Who asked: every audit entry carries it."""
    client_ip: str
    request_id: str | None

    @property
    def details(self) -> dict:
        return {"client_ip": self.client_ip or None, "request_id": self.request_id}


@dataclass(frozen=True)
class Edge:
    """What the service injects: slow work, each a plain callable run off the event hub."""
    hash_password: Callable[[str], str]
    verify_password: Callable[[str, str], bool]
    render_captcha: Callable[[str], bytes]  # answer -> PNG
    observe_sms_budget: Callable[[int, float], None]  # (codes this minute, ratio)
    clock: Callable[[], datetime] = utcnow


class AccountsApp:
    def __init__(self, settings, store: Store, lookup: LookupHasher, edge: Edge):
        self.s = settings
        self.store = store
        self.lookup = lookup
        self.edge = edge
        self.code_policy = sms_codes.CodePolicy(
            ttl_s=settings.SMS_CODE_TTL_S, cooldown_s=settings.SMS_RESEND_COOLDOWN_S,
            daily_limit_per_phone=settings.SMS_DAILY_LIMIT_PER_PHONE,
            daily_limit_per_ip=settings.SMS_DAILY_LIMIT_PER_IP,
            max_wrong_tries=settings.SMS_MAX_WRONG_TRIES)
        limit = throttle.Limit
        self.captcha_per_ip = limit("captcha_ip", settings.CAPTCHAS_PER_IP_PER_MINUTE, 60)
        self.register_per_ip = limit("register_ip", settings.REGISTER_ATTEMPTS_PER_IP_PER_HOUR,
                                     3600)
        self.register_per_phone = limit("register_phone",
                                        settings.REGISTER_ATTEMPTS_PER_PHONE_PER_HOUR, 3600)
        self.login_failures_per_ip = limit("login_failed_ip",
                                           settings.LOGIN_FAILURES_PER_IP_PER_HOUR, 3600)
        self.sms_per_ip_hour = limit("sms_ip", settings.SMS_HOURLY_LIMIT_PER_IP, 3600)
        # Forgot-password codes count against the reference, matching or not: one answer.
        self.sms_per_reference = limit("sms_reset_ref", settings.SMS_DAILY_LIMIT_PER_PHONE,
                                       86400, "SMS_DAILY_LIMIT")
        self.sms_budget = limit("sms_platform", settings.SMS_PLATFORM_BUDGET_PER_MIN, 60,
                                "SMS_BUSY")
        # Idle expiry is exact to within this; most reads then need not write.
        self._session_touch_every = timedelta(seconds=min(60, settings.SESSION_IDLE_TIMEOUT_S / 10))
        # Unknown accounts are checked against this hash so they take as long as known ones.
        self._decoy_hash = edge.hash_password(secrets.token_urlsafe(16))

    # notice, captcha ------------------------------------------------------------------------
    def notice(self) -> dict:
        return contract.Notice(
            title=notice_rules.NOTICE_TITLE, paragraphs=notice_rules.NOTICE_PARAGRAPHS,
            min_read_s=self.s.NOTICE_MIN_READ_S,
            notice_token=notice_rules.notice_token(self._notice_key, self.edge.clock()),
            privacy_policy_version=self.s.PRIVACY_POLICY_VERSION,
            privacy_policy_title=notice_rules.POLICY_TITLE,
            privacy_policy_paragraphs=notice_rules.POLICY_PARAGRAPHS).model_dump()

    @property
    def _notice_key(self) -> bytes:
        return self.lookup("notice-key", "v1")

    def create_captcha(self, request: dict | None = None) -> dict:
        req = contract.CaptchaRequest.parse(request or {})
        with self.store.statements() as db:  # before the image: rendering is the cost
            self._throttle(db, self.edge.clock(),
                           (self.captcha_per_ip, rate_limit_subject(req.client_ip)))
        if self.s.CAPTCHA_BACKEND == "fixed":
            answer = self.s.CAPTCHA_FIXED_ANSWER
        else:
            answer = "".join(secrets.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(4))
        captcha_id = str(uuid.uuid4())
        now = self.edge.clock()
        png = self.edge.render_captcha(answer)
        with self.store.transaction() as tx:
            tx.add_captcha(captcha_id, self._captcha_hash(captcha_id, answer),
                           now + timedelta(seconds=self.s.CAPTCHA_TTL_S))
        return contract.Captcha(captcha_id=captcha_id,
                                image_png_base64=base64.b64encode(png).decode(),
                                expires_in_s=self.s.CAPTCHA_TTL_S).model_dump()

    def _captcha_hash(self, captcha_id: str, answer: str) -> bytes:
        return self.lookup("captcha", f"{captcha_id}|{answer.strip().upper()}")

    def _check_captcha(self, captcha_id: str, answer: str, trail: Trail) -> None:
        """Spends the captcha in its own transaction: a wrong answer cannot be retried."""
        stored = None
        if _is_uuid(captcha_id):
            with self.store.transaction() as tx:
                stored = tx.take_captcha(captcha_id, self.edge.clock())
        if stored is None or not secrets.compare_digest(
                stored, self._captcha_hash(captcha_id, answer)):
            self._audit_refusal("captcha_failed", trail)
            raise DomainError("CAPTCHA_INVALID", fields={"captcha_answer": "图片验证码错误或已"
                                                                           "过期，请换一张。"})

    # throttles and refusals -------------------------------------------------------------
    def _throttle(self, db, now: datetime, *checks: tuple[throttle.Limit, str]) -> None:
        """Counts this attempt against each (limit, subject), subjects kept only as keyed
        hashes, in one statement; refuses it past any of the limits."""
        counts = db.count_attempts([
            (limit.kind, self._attempt_subject(limit, subject),
             throttle.window_start(now, limit.window_s)) for limit, subject in checks])
        for limit, _ in checks:
            throttle.check(limit, counts[limit.kind], now)

    def _attempt_subject(self, limit: throttle.Limit, subject: str) -> bytes:
        return self.lookup("attempt", f"{limit.kind}|{subject}")

    def _audit_refusal(self, action: str, trail: Trail, **details) -> None:
        """Refusals come at attack rates: each is appended in a transaction of its own, so
        the chain's head is held for one statement and a commit."""
        with self.store.transaction() as tx:
            tx.audit(action, self.edge.clock(), None, **trail.details, **details)

    # SMS codes ------------------------------------------------------------------------------
    def request_sms_code(self, request: dict, request_id: str | None = None) -> dict:
        """Records a code and, in the same transaction, the event that texts it (or, for a
        forgot-password request matching no account, says not to): matching and non-matching
        requests do the same work and get the same answer."""
        req = contract.SmsCodeRequest.parse(request)
        now = self.edge.clock()
        trail = Trail(req.client_ip, request_id)
        self._check_captcha(req.captcha_id, req.captcha_answer, trail)
        phone, deliver = self._code_recipient(req)
        address = rate_limit_subject(req.client_ip)
        checks = [(self.sms_per_ip_hour, address)]
        if req.purpose == "reset_password":
            checks.append((self.sms_per_reference, _reference(req.account_ref)))
        with self.store.statements() as db:
            self._throttle(db, now, *checks)
        phone_hash, ip_hash = self.lookup("phone", phone), self.lookup("ip", address)
        cooldown_hash = phone_hash if req.purpose != "reset_password" else self.lookup(
            "reset-pair", f"{phone}|{_reference(req.account_ref)}")
        code = sms_codes.new_code()
        expires_at = now + timedelta(seconds=self.code_policy.ttl_s)
        with self.store.transaction() as tx:
            tx.lock_phone(phone_hash)
            last, phone_count, ip_count = tx.code_counts(
                cooldown_hash, phone_hash, ip_hash, sms_codes.beijing_day_start(now))
            sms_codes.check_can_issue(self.code_policy, now, last, phone_count, ip_count)
            code_id = tx.add_code(phone_hash, ip_hash, cooldown_hash, req.purpose,
                                  self._code_hash(phone, req.purpose, code), now, expires_at,
                                  deliver)
            # Withheld codes go through the outbox and the bus too: the same work, the same
            # time (notify drops them); the code itself is unusable (storage reads only
            # delivered codes).
            tx.add_event(contract.SMS_CODE_ISSUED, {
                "message_id": f"code-{code_id}", "phone": phone, "purpose": req.purpose,
                "text": f"您的验证码为{code}，5分钟内有效，请勿泄露给他人。",
                "not_after": expires_at.isoformat(), "deliver": deliver}, request_id)
            # Last, as they hold the platform's counter and the audit chain until the commit.
            self._spend_sms_budget(tx, now)
            tx.audit("sms_code_sent" if deliver else "sms_code_withheld", now, None,
                     **trail.details, purpose=req.purpose, phone=mask_phone(phone))
        return contract.SmsCodeSent(cooldown_s=self.code_policy.cooldown_s,
                                    expires_in_s=self.code_policy.ttl_s,
                                    phone_masked=mask_phone(phone)).model_dump()

    def _spend_sms_budget(self, tx, now: datetime) -> None:
        """The platform's codes per minute: gauged, a warning once a minute past the alert
        ratio, and SMS_BUSY past the budget (which rolls this code back)."""
        budget = self.sms_budget
        issued = tx.count_attempts([(budget.kind, self._attempt_subject(budget, "platform"),
                                     throttle.window_start(now, budget.window_s))])[budget.kind]
        self.edge.observe_sms_budget(min(issued, budget.limit), min(issued, budget.limit)
                                     / max(budget.limit, 1))
        if throttle.alert_due(issued, budget.limit, self.s.SMS_BUDGET_ALERT_RATIO):
            log.warning("SMS budget nearly used up", extra={
                "codes_this_minute": issued, "budget_per_min": budget.limit})
        throttle.check(budget, issued, now)

    def _code_recipient(self, req) -> tuple[str, bool]:
        """The phone to text and whether to really send (reset never reveals accounts)."""
        if req.purpose == "register":
            return _required(req.phone, "phone"), True
        if req.purpose == "reset_password":
            phone = _required(req.phone, "phone")
            ref = _required(req.account_ref, "account_ref")
            with self.store.transaction() as tx:
                account = self._account_by_ref(tx, ref)
            matches = account is not None and account.personal["guardian_phone"] == phone
            return phone, matches
        with self.store.statements() as db:
            account = self._session_account(db, _required(req.session_token, "session_token"))
        return account.personal["guardian_phone"], True

    def _code_hash(self, phone: str, purpose: str, code: str) -> bytes:
        return self.lookup("sms", sms_codes.code_subject(phone, purpose, code))

    def _replay_hash(self, purpose: str, subject: str, code: str, idempotency_key: str) -> bytes:
        return self.lookup("replay", sms_codes.replay_subject(purpose, subject, code,
                                                               idempotency_key))

    def _check_code(self, tx, phone: str, purpose: str, code: str,
                    replay_hash: bytes) -> tuple[str, int | None, int]:
        """Checks a code inside the caller's transaction: (the outcome, the code's id, the
        phone's active accounts). A wrong try is counted: the caller must commit before
        refusing, so that it counts."""
        now = self.edge.clock()
        recent = tx.recent_codes(self.lookup("phone", phone), purpose, self._codes_since(now))
        outcome, code_id = sms_codes.check_code(self.code_policy, recent.codes,
                                                self._code_hash(phone, purpose, code), now,
                                                replay_hash)
        if outcome == "wrong":
            tx.count_wrong_code(code_id)
        return outcome, code_id, recent.on_phone

    def _codes_since(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.code_policy.ttl_s)

    def _prove_code(self, phone: str, purpose: str, code: str, trail: Trail, spend: bool,
                    replay_hash: bytes) -> tuple[int, bool]:
        """(the id of `code`, whether this is a replay of the action it completed) if it is the
        phone's live code for `purpose` or the spent one replayed (`replay_hash`), else
        SMS_CODE_INVALID (audited); a wrong one counts as a wrong try. `spend` uses it up."""
        with self.store.transaction() as tx:
            outcome, code_id, _ = self._check_code(tx, phone, purpose, code, replay_hash)
            if outcome == "ok" and spend:
                tx.use_code(code_id, self.edge.clock())
        if outcome not in ("ok", "replay"):
            self._audit_refusal("sms_code_refused", trail, purpose=purpose,
                                phone=mask_phone(phone))
            raise sms_codes.refuse_code()
        return code_id, outcome == "replay"

    def _replayed(self, purpose: str, trail: Trail, account_no: str | None) -> dict:
        """The answer a completed action gives again to its retry (audited)."""
        with self.store.transaction() as tx:
            tx.audit("replayed", self.edge.clock(), account_no, **trail.details,
                     purpose=purpose)
        return {"ok": True}

    # registration -----------------------------------------------------------------------
    def register(self, registration: dict, request_id: str | None = None) -> dict:
        if isinstance(registration, dict) and registration.get("document_type") == "other":
            # Families with other documents are the district's to handle: say so first.
            raise DomainError("SPECIAL_CASE", extra={"district": registration.get("district")})
        reg = contract.Registration.parse(registration)
        now = self.edge.clock()
        trail = Trail(reg.client_ip, request_id)
        # What the request alone decides first: it says nothing about existing accounts.
        notice_rules.check_notice_token(self._notice_key, reg.notice_token, now,
                                        self.s.NOTICE_MIN_READ_S)
        checked = check_registration(reg, self.s.SEASON_YEAR, self.s.PRIVACY_POLICY_VERSION)
        phone_hash = self.lookup("phone", reg.guardian_phone)
        document_hash = self.lookup("document", checked.document_number)
        replay_hash = self._replay_hash(
            "register", f"{reg.guardian_phone}|{checked.document_number}", reg.sms_code,
            reg.idempotency_key)
        with self.store.statements() as db:
            self._throttle(db, now, (self.register_per_ip, rate_limit_subject(reg.client_ip)),
                           (self.register_per_phone, reg.guardian_phone))
            # The code and the obstacles in one round trip, unlocked: a right code needs no
            # write here, and the obstacles count only once the code is known to be right.
            recent = db.recent_codes(phone_hash, "register", self._codes_since(now),
                                     document_hash, lock=False)
        # Then the code: only its holder may learn whether the number or phone is taken.
        outcome, code_id = sms_codes.check_code(
            self.code_policy, recent.codes,
            self._code_hash(reg.guardian_phone, "register", reg.sms_code), now, replay_hash)
        replayed = outcome == "replay"
        if outcome not in ("ok", "replay"):  # again under the phone's lock, where it counts
            code_id, replayed = self._prove_code(reg.guardian_phone, "register", reg.sms_code,
                                                 trail, spend=False, replay_hash=replay_hash)
        if replayed:
            return self._replay_registration(reg, document_hash, trail)
        taken, on_phone = recent.document_taken, recent.on_phone
        if taken or on_phone >= account_rules.MAX_ACCOUNTS_PER_PHONE:
            # A refusal costs the code a try: one code cannot probe many document numbers.
            with self.store.transaction() as tx:
                tx.count_wrong_code(code_id)
                tx.audit("registration_refused", now, None, **trail.details,
                         reason="document_taken" if taken else "phone_full",
                         phone=mask_phone(reg.guardian_phone))
            if taken:
                raise DomainError("ID_ALREADY_REGISTERED",
                                  fields={"document_number": "该证件号码已注册。"})
            _check_phone_slots(on_phone)
        password_hash = self.edge.hash_password(reg.password)
        # One transaction: the code is checked again (still live, unused) and spent with the
        # account; if the account cannot be made, the code stays usable.
        with self.store.transaction() as tx:
            tx.lock_phone(phone_hash)
            outcome, code_id, accounts_on_phone = self._check_code(
                tx, reg.guardian_phone, "register", reg.sms_code, replay_hash)
            if outcome == "ok":
                _check_phone_slots(accounts_on_phone)  # again, serialised
                session = self._add_account(tx, reg, checked, document_hash, phone_hash,
                                            password_hash, code_id, replay_hash, now, trail)
        if outcome == "replay":  # a twin of this request spent the code meanwhile
            return self._replay_registration(reg, document_hash, trail)
        if outcome != "ok":
            raise sms_codes.refuse_code()
        return _registered(session)

    def _replay_registration(self, reg, document_hash: bytes, trail: Trail) -> dict:
        """The account this code created, with a fresh session: its retry proved the same code,
        phone and document (and Idempotency-Key); the password must be the one it set."""
        with self.store.statements() as db:
            account = db.account_by_document(document_hash)
        if account is None or account.personal["guardian_phone"] != reg.guardian_phone or \
                not self.edge.verify_password(account.password_hash, reg.password):
            self._audit_refusal("sms_code_refused", trail, purpose="register",
                                phone=mask_phone(reg.guardian_phone))
            raise sms_codes.refuse_code()
        now = self.edge.clock()
        with self.store.transaction() as tx:
            tx.audit("replayed", now, account.account_no, **trail.details, purpose="register")
            return _registered(self._new_session(tx, account, now))

    def _add_account(self, tx, reg, checked, document_hash: bytes, phone_hash: bytes,
                     password_hash: str, code_id: int, replay_hash: bytes, now: datetime,
                     trail: Trail) -> dict:
        """Registering signs the family in; the account, its session, its event and its audit
        entry are written together, under a fresh random number (drawn again if taken)."""
        previous_digest = tx.audit_head()
        token, session = self._session_for(now)
        for _ in range(20):
            account_no = account_rules.new_account_no(self.s.SEASON_YEAR)
            account = tx.add_account(
                NewAccount(account_no, checked.district, checked.hukou_type,
                           checked.document_type, document_hash, phone_hash, checked.personal,
                           password_hash, reg.privacy_policy_version, now),
                code_id, replay_hash, session,
                tx.new_event(contract.ACCOUNT_REGISTERED, {
                    "account_no": account_no, "district": checked.district,
                    "guardian_phone": reg.guardian_phone}, trail.request_id),
                # No document fragment: the entry outlives the account (see masking.py).
                AuditEntry.of(previous_digest, "registered", now, account_no, {
                    **trail.details, "district": checked.district,
                    "phone": mask_phone(reg.guardian_phone),
                    "policy_version": reg.privacy_policy_version}))
            if account is not None:
                return self._session_view(token, session, account)
            if tx.document_registered(document_hash):  # else the number was taken: redraw
                raise DomainError("ID_ALREADY_REGISTERED",
                                  fields={"document_number": "该证件号码已注册。"})
        raise RuntimeError("no free account number after 20 draws")

    # sessions ---------------------------------------------------------------------------
    def login(self, login: dict, request_id: str | None = None) -> dict:
        """A wrong password is INVALID_CREDENTIALS whether the account exists or is locked:
        only the right password on a locked account hears of the lock."""
        req = contract.Login.parse(login)
        now = self.edge.clock()
        trail = Trail(req.client_ip, request_id)
        self._check_captcha(req.captcha_id, req.captcha_answer, trail)
        failures = self.login_failures_per_ip
        failures_subject = self._attempt_subject(failures, rate_limit_subject(req.client_ip))
        failures_window = throttle.window_start(now, failures.window_s)
        with self.store.statements() as db:
            throttle.check(failures, db.attempts_so_far(failures.kind, failures_subject,
                                                        failures_window) + 1, now)
            account = db.account_by_no(req.account_no) if \
                account_rules.looks_like_account_no(req.account_no) else None
        # Always a hash, locked or not, known or not: they all take the same time.
        good = self.edge.verify_password(account.password_hash if account else self._decoy_hash,
                                         req.password)
        locked_until = None
        with self.store.transaction() as tx:
            account = account and tx.account_by_id(account.id)  # locked row: failures all count
            if account is not None and account_rules.is_locked(account.locked_until, now):
                locked_until = account.locked_until
            if account is not None and good and locked_until is None:
                tx.set_login_state(account.id, 0, None)
                tx.audit("login", now, account.account_no, **trail.details)
                return self._new_session(tx, account, now)
            if account is not None and good:
                tx.audit("login_refused_locked", now, account.account_no, **trail.details)
            else:
                tx.count_attempts([(failures.kind, failures_subject, failures_window)])
                self._count_login_failure(tx, account, locked_until, now, trail)
        if account is not None and good:  # raised after the commit: the entry must stay
            raise self._locked(locked_until, now)
        raise DomainError("INVALID_CREDENTIALS")

    def _count_login_failure(self, tx, account: AccountRow | None,
                             locked_until: datetime | None, now: datetime, trail: Trail) -> None:
        if account is None:
            tx.audit("login_failed", now, None, **trail.details, reason="unknown_account")
            return
        tx.audit("login_failed", now, account.account_no, **trail.details,
                 reason="wrong_password")
        if locked_until is not None:  # failures while locked neither extend nor reveal it
            return
        failures, locked_until = account_rules.after_failed_login(
            account.failed_logins, now, self.s.LOGIN_MAX_FAILURES, self.s.LOGIN_LOCK_MINUTES)
        tx.set_login_state(account.id, failures, locked_until)
        if locked_until:
            tx.audit("account_locked", now, account.account_no, **trail.details,
                     until=locked_until.isoformat())

    @staticmethod
    def _locked(until: datetime, now: datetime) -> DomainError:
        minutes = max(1, int((until - now).total_seconds() // 60) + 1)
        return DomainError("ACCOUNT_LOCKED", f"连续登录失败次数过多，账号已锁定，请{minutes}分钟后"
                                             "再试，或通过“忘记密码”重设密码。",
                           extra={"retry_after_s": int((until - now).total_seconds()) + 1})

    def _new_session(self, tx, account: AccountRow, now: datetime) -> dict:
        token, session = self._session_for(now)
        tx.add_session(session, account.id)
        return self._session_view(token, session, account)

    def _session_for(self, now: datetime) -> tuple[str, NewSession]:
        """A fresh token (256 bits) each sign-in; only its hash is stored."""
        token = secrets.token_urlsafe(32)
        return token, NewSession(_token_hash(token), now, now + timedelta(
            seconds=self.s.SESSION_ABSOLUTE_TIMEOUT_S))

    def _session_view(self, token: str, session: NewSession, account: AccountRow) -> dict:
        return contract.Session(session_token=token, idle_timeout_s=self.s.SESSION_IDLE_TIMEOUT_S,
                                absolute_expires_at=session.expires_at.isoformat(),
                                account=self._view(account)).model_dump()

    def _session_account(self, db, session_token: str) -> AccountRow:
        now = self.edge.clock()
        account = db.live_session(_token_hash(session_token), now,
                                  now - timedelta(seconds=self.s.SESSION_IDLE_TIMEOUT_S),
                                  self._session_touch_every)
        if account is None:
            raise DomainError("NOT_AUTHENTICATED")
        return account

    def logout(self, session_token: str) -> dict:
        with self.store.transaction() as tx:
            tx.end_session(_token_hash(session_token))
        return {"ok": True}

    def get_account(self, session_token: str) -> dict:
        with self.store.statements() as db:
            return self._view(self._session_account(db, session_token))

    # password change, reset, cancellation -----------------------------------------------------
    def change_password(self, change: dict, request_id: str | None = None) -> dict:
        req = contract.PasswordChange.parse(change)
        trail = Trail(req.client_ip, request_id)
        with self.store.statements() as db:
            account = self._session_account(db, req.session_token)
        check_password_policy(req.new_password, req.new_password_confirm, "new_password")
        # The code before the hash: argon2 only for a session that also holds a valid code.
        replay_hash = self._replay_hash("change_password", _token_hash(req.session_token).hex(),
                                        req.sms_code, req.idempotency_key)
        code_id, replayed = self._prove_code(account.personal["guardian_phone"],
                                             "change_password", req.sms_code, trail,
                                             spend=True, replay_hash=replay_hash)
        if replayed:
            return self._replay_password(account, req.new_password, "change_password", trail)
        password_hash = self.edge.hash_password(req.new_password)
        now = self.edge.clock()
        with self.store.transaction() as tx:
            tx.set_password(account.id, password_hash)
            tx.end_other_sessions(account.id, _token_hash(req.session_token))
            tx.record_replay(code_id, replay_hash)
            tx.audit("password_changed", now, account.account_no, **trail.details)
        return {"ok": True}

    def _replay_password(self, account: AccountRow, new_password: str, purpose: str,
                         trail: Trail) -> dict:
        """A password change or reset retried: the same success, if the password it sets is
        the one the first request set."""
        if not self.edge.verify_password(account.password_hash, new_password):
            self._audit_refusal("sms_code_refused", trail, purpose=purpose,
                                phone=mask_phone(account.personal["guardian_phone"]))
            raise sms_codes.refuse_code()
        return self._replayed(purpose, trail, account.account_no)

    def reset_password(self, reset: dict, request_id: str | None = None) -> dict:
        req = contract.PasswordReset.parse(reset)
        trail = Trail(req.client_ip, request_id)
        check_password_policy(req.new_password, req.new_password_confirm, "new_password")
        # Checked before looking at accounts: a wrong code says nothing about them.
        replay_hash = self._replay_hash("reset_password",
                                        f"{req.phone}|{_reference(req.account_ref)}",
                                        req.sms_code, req.idempotency_key)
        code_id, replayed = self._prove_code(req.phone, "reset_password", req.sms_code, trail,
                                             spend=True, replay_hash=replay_hash)
        with self.store.statements() as db:
            account = self._account_by_ref(db, req.account_ref)
        if account is None or account.personal["guardian_phone"] != req.phone:
            self._audit_refusal("password_reset_failed", trail, phone=mask_phone(req.phone))
            raise DomainError("RESET_FAILED")
        if replayed:
            return self._replay_password(account, req.new_password, "reset_password", trail)
        password_hash = self.edge.hash_password(req.new_password)
        now = self.edge.clock()
        with self.store.transaction() as tx:
            tx.set_password(account.id, password_hash)
            tx.end_other_sessions(account.id, None)
            tx.record_replay(code_id, replay_hash)
            tx.audit("password_reset", now, account.account_no, **trail.details)
        return {"ok": True}

    def cancel_account(self, cancellation: dict, request_id: str | None = None) -> dict:
        req = contract.AccountCancellation.parse(cancellation)
        trail = Trail(req.client_ip, request_id)
        # Bound to the session, not the phone: a cancelled account's phone is erased.
        replay_hash = self._replay_hash("cancel_account", _token_hash(req.session_token).hex(),
                                        req.sms_code, req.idempotency_key)
        try:
            with self.store.statements() as db:
                account = self._session_account(db, req.session_token)
        except DomainError as error:
            # The session ended with the account: a retry of that cancellation hears ok.
            if error.code != "NOT_AUTHENTICATED":
                raise
            with self.store.statements() as db:
                if not db.replayable("cancel_account", replay_hash, self.edge.clock()):
                    raise
            return self._replayed("cancel_account", trail, None)
        code_id, _ = self._prove_code(account.personal["guardian_phone"], "cancel_account",
                                      req.sms_code, trail, spend=True, replay_hash=replay_hash)
        now = self.edge.clock()
        with self.store.transaction() as tx:
            tx.record_replay(code_id, replay_hash)
            tx.cancel_account(account.id, now)
            tx.add_event(contract.ACCOUNT_CANCELLED, {
                "account_no": account.account_no,
                "guardian_phone": account.personal["guardian_phone"]}, request_id)
            tx.audit("account_cancelled", now, account.account_no, **trail.details)
        return {"ok": True}

    def _account_by_ref(self, tx, ref: str) -> AccountRow | None:
        ref = _reference(ref)
        if account_rules.looks_like_account_no(ref):
            return tx.account_by_no(ref)
        return tx.account_by_document(self.lookup("document", ref))

    # operations -------------------------------------------------------------------------
    def verify_audit_chain(self, anchor: dict | None = None) -> dict:
        return verify_audit_chain(self.store, anchor)

    def audit_head(self) -> Head | None:
        return audit_head(self.store)

    def purge_expired(self) -> None:
        with self.store.transaction() as tx:
            tx.purge_expired(self.edge.clock())

    # views --------------------------------------------------------------------------------
    @staticmethod
    def _view(account: AccountRow) -> dict:
        p = account.personal
        return contract.AccountView(
            account_no=account.account_no, district=account.district,
            district_name=district_name(account.district), hukou_type=account.hukou_type,
            school_stage="primary", stage="details_pending",
            child_name=mask_name(p["child_name"]), document_type=account.document_type,
            document_number=mask_id_number(p["document_number"]), sex=p["sex"],
            guardian_name=mask_name(p["guardian_name"]),
            guardian_phone=mask_phone(p["guardian_phone"]),
            created_at=account.created_at.isoformat()).model_dump()


def verify_audit_chain(store: Store, anchor: dict | None = None) -> dict:
    """Checks every digest with the audit key and, given an exported anchor, that the entry it
    recorded is still there unchanged (nothing newer was cut off)."""
    with store.transaction() as tx:
        report = verify_chain(tx.audit_chain(), store.keys.audit, anchor, store.keys.anchor)
    return {"intact": report.intact, "first_broken_id": report.first_broken_id,
            "problem": report.problem}


def audit_head(store: Store) -> Head | None:
    with store.statements() as db:
        return db.audit_newest()


def export_audit_anchor(store: Store, now: datetime) -> dict | None:
    """The newest entry, signed, to be kept outside the database."""
    head = audit_head(store)
    return head and make_anchor(store.keys.anchor, head, now.isoformat())


def _registered(session: dict) -> dict:
    return {"account_no": session["account"]["account_no"], "account": session["account"],
            "session": session}


def _check_phone_slots(accounts_on_phone: int) -> None:
    if accounts_on_phone >= account_rules.MAX_ACCOUNTS_PER_PHONE:
        raise DomainError("PHONE_ACCOUNT_LIMIT",
                          fields={"guardian_phone": "该手机号码注册的账号已达3个。"})


def _reference(account_ref: str) -> str:
    """An account number or document number as looked up (upper-case X)."""
    return account_ref.strip().upper()


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _required(value, field: str):
    if not value:
        raise DomainError("VALIDATION_ERROR", fields={field: "此项为必填项。"})
    return value


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


def render_captcha_png(answer: str) -> bytes:
    """The image captcha (Pillow through the `captcha` package)."""
    buffer = io.BytesIO()
    ImageCaptcha(width=160, height=60).write(answer, buffer, format="png")
    return buffer.getvalue()
