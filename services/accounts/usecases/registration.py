"""The guardian's notice and registration: the rules the request alone decides, the throttles,
the SMS code, only then whether the document or the phone is taken, and one transaction that
spends the code and creates the account, signed in (README, "What the platform does")."""

from __future__ import annotations

from datetime import datetime

from common import throttle
from common.client_address import rate_limit_subject
from common.errors import DomainError
from common.masking import mask_phone
from services.accounts import contract
from services.accounts.rules import accounts as account_rules
from services.accounts.rules import notice as notice_rules
from services.accounts.rules import sms_codes as code_rules
from services.accounts.rules.registration import CheckedRegistration, check_registration
from services.accounts.storage import AuditEntry, NewAccount
from services.accounts.usecases.context import Context, Trail
from services.accounts.usecases.sessions import Sessions
from services.accounts.usecases.sms_codes import SmsCodes


class Registrations:
    def __init__(self, context: Context, codes: SmsCodes, sessions: Sessions):
        self.context = context
        self.codes = codes
        self.sessions = sessions
        settings = context.settings
        self.per_ip = throttle.Limit("register_ip", settings.REGISTER_ATTEMPTS_PER_IP_PER_HOUR,
                                     3600)
        self.per_phone = throttle.Limit("register_phone",
                                        settings.REGISTER_ATTEMPTS_PER_PHONE_PER_HOUR, 3600)

    def notice(self) -> contract.Notice:
        settings = self.context.settings
        return contract.Notice(
            title=notice_rules.NOTICE_TITLE, paragraphs=notice_rules.NOTICE_PARAGRAPHS,
            min_read_s=settings.NOTICE_MIN_READ_S,
            notice_token=notice_rules.notice_token(self._notice_key, self.context.edge.clock()),
            privacy_policy_version=settings.PRIVACY_POLICY_VERSION,
            privacy_policy_title=notice_rules.POLICY_TITLE,
            privacy_policy_paragraphs=notice_rules.POLICY_PARAGRAPHS)

    @property
    def _notice_key(self) -> bytes:
        return self.context.lookup("notice-key", "v1")

    def register(self, reg: contract.Registration,
                 request_id: str | None = None) -> contract.Registered:
        context, codes, settings = self.context, self.codes, self.context.settings
        now = context.edge.clock()
        trail = Trail(reg.client_ip, request_id)
        # What the request alone decides first: it says nothing about existing accounts.
        notice_rules.check_notice_token(self._notice_key, reg.notice_token, now,
                                        settings.NOTICE_MIN_READ_S)
        checked = check_registration(reg, settings.SEASON_YEAR, settings.PRIVACY_POLICY_VERSION)
        phone_hash = context.lookup("phone", reg.guardian_phone)
        document_hash = context.lookup("document", checked.document_number)
        replay_hash = codes.replay_hash(
            "register", f"{reg.guardian_phone}|{checked.document_number}", reg.sms_code,
            reg.idempotency_key)
        with context.store.statements() as db:
            context.throttle(db, now, (self.per_ip, rate_limit_subject(reg.client_ip)),
                             (self.per_phone, reg.guardian_phone))
            # The code and the obstacles in one round trip, unlocked: a right code needs no
            # write here, and the obstacles count only once the code is known to be right.
            recent = db.recent_codes(phone_hash, "register", codes.since(now), document_hash,
                                     lock=False)
        # Then the code: only its holder may learn whether the number or phone is taken.
        outcome, code_id = code_rules.check_code(
            codes.policy, recent.codes, codes.code_hash(reg.guardian_phone, "register",
                                                        reg.sms_code), now, replay_hash)
        replayed = outcome == "replay"
        if outcome not in ("ok", "replay"):  # again under the phone's lock, where it counts
            code_id, replayed = codes.prove(reg.guardian_phone, "register", reg.sms_code,
                                            trail, spend=False, replay_hash=replay_hash)
        if replayed:
            return self._replay(reg, document_hash, trail)
        taken, on_phone = recent.document_taken, recent.on_phone
        if taken or on_phone >= account_rules.MAX_ACCOUNTS_PER_PHONE:
            # A refusal costs the code a try: one code cannot probe many document numbers.
            with context.store.transaction() as tx:
                tx.count_wrong_code(code_id)
                tx.audit("registration_refused", now, None, **trail.details,
                         reason="document_taken" if taken else "phone_full",
                         phone=mask_phone(reg.guardian_phone))
            if taken:
                raise DomainError("ID_ALREADY_REGISTERED",
                                  fields={"document_number": "该证件号码已注册。"})
            _check_phone_slots(on_phone)
        password_hash = context.edge.hash_password(reg.password)
        # One transaction: the code is checked again (still live, unused) and spent with the
        # account; if the account cannot be made, the code stays usable.
        with context.store.transaction() as tx:
            tx.lock_phone(phone_hash)
            outcome, code_id, accounts_on_phone = codes.check(
                tx, reg.guardian_phone, "register", reg.sms_code, replay_hash)
            if outcome == "ok":
                _check_phone_slots(accounts_on_phone)  # again, serialised
                session = self._add_account(tx, reg, checked, document_hash, phone_hash,
                                            password_hash, code_id, replay_hash, now, trail)
        if outcome == "replay":  # a twin of this request spent the code meanwhile
            return self._replay(reg, document_hash, trail)
        if outcome != "ok":
            raise code_rules.refuse_code()
        return _registered(session)

    def _replay(self, reg: contract.Registration, document_hash: bytes,
                trail: Trail) -> contract.Registered:
        """The account this code created, with a fresh session: its retry proved the same code,
        phone and document (and Idempotency-Key); the password must be the one it set."""
        context = self.context
        with context.store.statements() as db:
            account = db.account_by_document(document_hash)
        if account is None or account.personal["guardian_phone"] != reg.guardian_phone or \
                not context.edge.verify_password(account.password_hash, reg.password):
            context.audit_refusal("sms_code_refused", trail, purpose="register",
                                  phone=mask_phone(reg.guardian_phone))
            raise code_rules.refuse_code()
        now = context.edge.clock()
        with context.store.transaction() as tx:
            tx.audit("replayed", now, account.account_no, **trail.details, purpose="register")
            return _registered(self.sessions.open(tx, account, now))

    def _add_account(self, tx, reg: contract.Registration, checked: CheckedRegistration,
                     document_hash: bytes, phone_hash: bytes, password_hash: str, code_id: int,
                     replay_hash: bytes, now: datetime, trail: Trail) -> contract.Session:
        """Registering signs the family in; the account, its session, its event and its audit
        entry are written together, under a fresh random number (drawn again if taken)."""
        previous_digest = tx.audit_head()
        token, session = self.sessions.new(now)
        for _ in range(20):
            account_no = account_rules.new_account_no(self.context.settings.SEASON_YEAR)
            account = tx.add_account(
                NewAccount(account_no, checked.district, checked.hukou_type,
                           checked.document_type, document_hash, phone_hash, checked.personal,
                           password_hash, reg.privacy_policy_version, now),
                code_id, replay_hash, session,
                tx.new_event(contract.ACCOUNT_REGISTERED, contract.AccountRegistered(
                    account_no=account_no, district=checked.district,
                    guardian_phone=reg.guardian_phone).payload(), trail.request_id),
                # No document fragment: the entry outlives the account (see masking.py).
                AuditEntry.of(previous_digest, "registered", now, account_no, {
                    **trail.details, "district": checked.district,
                    "phone": mask_phone(reg.guardian_phone),
                    "policy_version": reg.privacy_policy_version}))
            if account is not None:
                tx.add_event(contract.FAMILY_REGISTERED, contract.FamilyRegistered(
                    account_no=account_no, district=checked.district,
                    hukou_type=checked.hukou_type, document_type=checked.document_type,
                    **checked.personal).payload(), trail.request_id)
                return self.sessions.view(token, session, account)
            if tx.document_registered(document_hash):  # else the number was taken: redraw
                raise DomainError("ID_ALREADY_REGISTERED",
                                  fields={"document_number": "该证件号码已注册。"})
        raise RuntimeError("no free account number after 20 draws")


def _registered(session: contract.Session) -> contract.Registered:
    return contract.Registered(account_no=session.account.account_no, account=session.account,
                               session=session)


def _check_phone_slots(accounts_on_phone: int) -> None:
    if accounts_on_phone >= account_rules.MAX_ACCOUNTS_PER_PHONE:
        raise DomainError("PHONE_ACCOUNT_LIMIT",
                          fields={"guardian_phone": "该手机号码注册的账号已达3个。"})
