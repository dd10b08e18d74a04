"""The accounts service's public contract: its RPC methods with their models (`AccountsRpc`),
its events with theirs (`EVENTS`).

This module (with `common`) is the only part of the accounts service that other services and
the gateway may import.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, StrictStr, model_validator

from common.contract_base import ContractModel, Cost, Event, Ok, RpcContract, RpcMethod
from common.errors import DomainError

SERVICE_NAME = "accounts"

SmsPurpose = Literal["register", "reset_password", "change_password", "cancel_account"]
DocumentType = Literal["resident_id", "hkmt_residence_permit", "other"]
HukouType = Literal["beijing", "non_beijing"]
Sex = Literal["male", "female"]
GuardianRelation = Literal["father", "mother", "other_guardian"]

DOCUMENT_TYPES = {"resident_id": "居民身份证", "hkmt_residence_permit": "港澳台居民居住证",
                  "other": "其他证件（护照等）"}
HUKOU_TYPES = {"beijing": "本市户籍", "non_beijing": "非本市户籍"}
SEXES = {"male": "男", "female": "女"}
GUARDIAN_RELATIONS = {"father": "父亲", "mother": "母亲", "other_guardian": "其他监护人"}

PHONE_PATTERN = r"^1[3-9]\d{9}$"
ACCOUNT_NO_PATTERN = r"^\d{8}$"
SMS_CODE_PATTERN = r"^\d{6}$"
Text = Field(min_length=1, max_length=64)
Password = Field(min_length=1, max_length=128)  # the policy (8-20) is a rule, checked later
# The `Idempotency-Key` header (or a form's hidden field): a retry with the same key and code
# gets the first answer (rules/sms_codes.py); empty when the client sends none.
IdempotencyKey = Field(default="", max_length=64, pattern=r"^[\x21-\x7e]*$")


class SmsCodeRequest(ContractModel):
    """`phone` for register and reset_password; the signed-in account's phone otherwise."""
    purpose: SmsPurpose
    captcha_id: str = Field(min_length=1, max_length=64)
    captcha_answer: str = Field(min_length=1, max_length=16)
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    account_ref: str | None = Field(default=None, min_length=1, max_length=32)  # reset only
    session_token: str | None = Field(default=None, max_length=128)
    client_ip: str = Field(default="", max_length=64)


class CaptchaRequest(ContractModel):
    client_ip: str = Field(default="", max_length=64)  # captchas are throttled per address


class Registration(ContractModel):
    district: str = Field(min_length=1, max_length=32)
    hukou_type: HukouType
    child_name: str = Text
    document_type: DocumentType
    document_number: str = Field(min_length=1, max_length=32)
    sex: Sex
    birth_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    hukou_district: str = Field(min_length=1, max_length=32)
    residence_district: str = Field(min_length=1, max_length=32)
    residence_address: str = Field(default="", max_length=200)
    guardian_name: str = Text
    guardian_relation: GuardianRelation
    guardian_phone: str = Field(pattern=PHONE_PATTERN)
    password: str = Password
    password_confirm: str = Password
    sms_code: str = Field(pattern=SMS_CODE_PATTERN)
    notice_token: str = Field(min_length=1, max_length=200)
    privacy_consent: bool
    privacy_policy_version: str = Field(min_length=1, max_length=32)
    client_ip: str = Field(default="", max_length=64)
    idempotency_key: str = IdempotencyKey

    @model_validator(mode="before")
    @classmethod
    def _special_case(cls, data):
        """Families with other documents are the district's to handle: said before anything
        else is checked."""
        if isinstance(data, dict) and data.get("document_type") == "other":
            raise DomainError("SPECIAL_CASE", extra={"district": data.get("district")})
        return data


class Login(ContractModel):
    account_no: str = Field(min_length=1, max_length=32)
    password: str = Password
    captcha_id: str = Field(min_length=1, max_length=64)
    captcha_answer: str = Field(min_length=1, max_length=16)
    client_ip: str = Field(default="", max_length=64)


class PasswordChange(ContractModel):
    session_token: str = Field(min_length=1, max_length=128)
    sms_code: str = Field(pattern=SMS_CODE_PATTERN)
    new_password: str = Password
    new_password_confirm: str = Password
    client_ip: str = Field(default="", max_length=64)  # for the audit log
    idempotency_key: str = IdempotencyKey


class PasswordReset(ContractModel):
    """`account_ref` is the 8-digit account number or the child's document number."""
    account_ref: str = Field(min_length=1, max_length=32)
    phone: str = Field(pattern=PHONE_PATTERN)
    sms_code: str = Field(pattern=SMS_CODE_PATTERN)
    new_password: str = Password
    new_password_confirm: str = Password
    client_ip: str = Field(default="", max_length=64)
    idempotency_key: str = IdempotencyKey


class AccountCancellation(ContractModel):
    session_token: str = Field(min_length=1, max_length=128)
    sms_code: str = Field(pattern=SMS_CODE_PATTERN)
    client_ip: str = Field(default="", max_length=64)  # for the audit log
    idempotency_key: str = IdempotencyKey


class AccountView(ContractModel):
    """What a signed-in family sees of its account: personal data masked, and nothing shown
    together narrows the document number to fewer than 10^4 candidates (so no birth date
    beside the masked number)."""
    account_no: str
    district: str
    district_name: str
    hukou_type: HukouType
    school_stage: Literal["primary"]
    stage: Literal["details_pending"]  # where the family is on the journey
    child_name: str
    document_type: DocumentType
    document_number: str
    sex: Sex
    guardian_name: str
    guardian_phone: str
    created_at: str


class Session(ContractModel):
    session_token: str
    idle_timeout_s: int
    absolute_expires_at: str
    account: AccountView


class Registered(ContractModel):
    """Registering signs the family in."""
    account_no: str
    account: AccountView
    session: Session


class Notice(ContractModel):
    title: str
    paragraphs: list[str]
    min_read_s: int
    notice_token: str
    privacy_policy_version: str
    privacy_policy_title: str
    privacy_policy_paragraphs: list[str]


class Captcha(ContractModel):
    captcha_id: str
    image_png_base64: str
    expires_in_s: int


class SmsCodeSent(ContractModel):
    """The same answer whether or not a code was really sent (reset never reveals accounts)."""
    cooldown_s: int
    expires_in_s: int
    phone_masked: str


class AuditReport(ContractModel):
    intact: bool
    first_broken_id: int | None  # the first entry that does not chain
    problem: str | None


# Events published by accounts (exchange "accounts.events").
ACCOUNT_REGISTERED = "account_registered"


class AccountRegistered(Event):
    account_no: str
    district: str
    guardian_phone: str = Field(pattern=PHONE_PATTERN)  # to text the account number


ACCOUNT_CANCELLED = "account_cancelled"


class AccountCancelled(Event):
    """Other services erase what they hold about the family (notify: texts to the phone)."""
    account_no: str
    guardian_phone: str = Field(pattern=PHONE_PATTERN)


SMS_CODE_ISSUED = "sms_code_issued"


class SmsCodeIssued(Event):
    """A code to text (written with the code, so delivery never holds up the request); notify
    sends it once, and never after `not_after`. `deliver` is false for a forgot-password code
    for no matching account: written and relayed all the same, so that both requests do the
    same work and take the same time, and dropped by notify."""
    message_id: str
    phone: str = Field(pattern=PHONE_PATTERN)
    purpose: SmsPurpose
    text: str = Field(min_length=1, max_length=500)
    not_after: AwareDatetime = Field(strict=False)  # ISO-8601 text with its zone
    deliver: bool = True


FAMILY_REGISTERED = "family_registered"


class FamilyRegistered(Event):
    """What the family gave at registration, for enrollment, which opens the family's
    application from it (written with the account; notify never sees it)."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    district: str = Field(min_length=1, max_length=32)
    hukou_type: HukouType
    child_name: str = Text
    document_type: DocumentType
    document_number: str = Field(min_length=1, max_length=32)
    birth_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    sex: Sex
    guardian_name: str = Text
    guardian_relation: GuardianRelation
    guardian_phone: str = Field(pattern=PHONE_PATTERN)
    hukou_district: str = Field(min_length=1, max_length=32)
    residence_district: str = Field(min_length=1, max_length=32)
    residence_address: str = Field(default="", max_length=200)


EVENTS = {ACCOUNT_REGISTERED: AccountRegistered, ACCOUNT_CANCELLED: AccountCancelled,
          SMS_CODE_ISSUED: SmsCodeIssued, FAMILY_REGISTERED: FamilyRegistered}


class AccountsRpc(RpcContract):
    """The accounts service's RPC methods; each refusal is a common.errors.DomainError."""
    service = SERVICE_NAME

    get_notice = RpcMethod(None, Notice)
    create_captcha = RpcMethod(CaptchaRequest | None, Captcha)  # older callers send none
    request_sms_code = RpcMethod(SmsCodeRequest, SmsCodeSent)
    # a password hashed or checked (argon2id, ~20 MiB and tens of ms of a core each)
    register = RpcMethod(Registration, Registered, Cost.EXPENSIVE)
    login = RpcMethod(Login, Session, Cost.EXPENSIVE)
    logout = RpcMethod(StrictStr, Ok)  # the session token
    get_account = RpcMethod(StrictStr, AccountView)  # the session token
    change_password = RpcMethod(PasswordChange, Ok, Cost.EXPENSIVE)
    reset_password = RpcMethod(PasswordReset, Ok, Cost.EXPENSIVE)
    cancel_account = RpcMethod(AccountCancellation, Ok, Cost.EXPENSIVE)
    # operators: with an exported anchor (services/accounts/audit_anchor.py), or none
    verify_audit_chain = RpcMethod(dict | None, AuditReport, Cost.EXPENSIVE)
