"""The enrollment service's public contract: its events.

This module (with `common`) is the only part of the enrollment service that other services and
the gateway may import. The RPC methods come with the service's wiring.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from common.contract_base import ContractModel, Event, RpcContract, RpcMethod
from services.accounts.contract import (
    ACCOUNT_NO_PATTERN,
    PHONE_PATTERN,
    DocumentType,
    HukouType,
    Sex,
)

SERVICE_NAME = "enrollment"

Text = Field(min_length=1, max_length=100)


class Child(ContractModel):
    """As registered (accounts), unchanged since."""
    name: str = Text
    document_type: DocumentType
    document_number: str = Field(min_length=1, max_length=32)
    birth_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    sex: Sex


class Household(ContractModel):
    """The child's hukou: a Beijing district and address, or a GB/T 2260 county elsewhere."""
    head_name: str = Text
    relation_to_head: str = Field(min_length=1, max_length=32)
    hukou_district: str | None = Field(default=None, max_length=32)  # 本市户籍
    hukou_address: str | None = Field(default=None, max_length=200)  # 本市户籍
    hukou_region: str | None = Field(default=None, pattern=r"^\d{6}$")  # 非本市户籍


class Guardian(ContractModel):
    name: str = Text
    relation: str = Field(min_length=1, max_length=32)
    document_type: str = Field(min_length=1, max_length=32)
    document_number: str = Field(min_length=1, max_length=32)


class ResidencePermit(ContractModel):
    """A guardian's 北京市居住证 (非本市户籍), its holder named as in the guardians' list."""
    holder_name: str = Text
    holder_document_number: str = Field(min_length=1, max_length=32)
    permit_number: str = Field(min_length=1, max_length=30)
    valid_until: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    issuing_district: str = Field(min_length=1, max_length=32)


# Events published by enrollment (exchange "enrollment.events").
DETAILS_SUBMITTED = "details_submitted"


class DetailsSubmitted(ContractModel):
    """A family submitted version `version` of its details. The verification service checks
    the child's identity and hukou and the guardians' documents, and answers with a result for
    this account and version; a result for any other version is ignored."""
    event_id: str
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    version: int = Field(ge=1)
    district: str = Field(min_length=1, max_length=32)
    hukou_type: HukouType
    child: Child
    household: Household
    guardians: list[Guardian] = Field(min_length=1, max_length=10)
    residence_district: str = Field(min_length=1, max_length=32)
    # 非本市户籍 only (empty for 本市户籍): the permits the family entered.
    residence_permits: list[ResidencePermit] = Field(default_factory=list, max_length=2)
    # The day the permits must be valid on (the season's permit_valid_on), YYYY-MM-DD.
    reference_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


DETAILS_WITHDRAWN = "details_withdrawn"


class DetailsWithdrawn(ContractModel):
    """The family withdrew version `version` to change it: its check, if still pending, is
    cancelled (a result sent anyway is ignored)."""
    event_id: str
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    version: int = Field(ge=1)


VERIFICATION_OUTCOME = "verification_outcome"


class VerificationOutcome(Event):
    """The 身份证及户籍信息核验 of the current version `version` is over (a result for an older
    version sends none): notify texts the guardian the outcome once. Only the phone it is sent
    to; the failed items stay on the family's page."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    version: int = Field(ge=1)
    status: Literal["verified", "failed"]
    guardian_phone: str = Field(pattern=PHONE_PATTERN)


EVENTS = {DETAILS_SUBMITTED: DetailsSubmitted, DETAILS_WITHDRAWN: DetailsWithdrawn,
          VERIFICATION_OUTCOME: VerificationOutcome}


class AccountRef(ContractModel):
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)


class DetailsChange(ContractModel):
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    data: dict[str, Any]  # checked against the season's field set by the rules (rules/fields.py)


# The views are the JSON the bootstrap's view functions build (bootstrap.py); their shape is
# declared as JSON objects until the gateway's pages are built on them.
View = dict[str, Any]


class EnrollmentRpc(RpcContract):
    """The enrollment service's RPC methods; each refusal is a common.errors.DomainError."""
    service = SERVICE_NAME

    get_journey = RpcMethod(AccountRef, View)
    get_details = RpcMethod(AccountRef, View)
    save_draft = RpcMethod(DetailsChange, View)
    submit = RpcMethod(DetailsChange, View)
    withdraw = RpcMethod(AccountRef, View)
    get_history = RpcMethod(AccountRef, list[View])
