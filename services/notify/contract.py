"""The notify service's public contract: it delivers text messages (SMS) to guardians.

SMS codes themselves (generation, hashing, checking) belong to accounts; notify only delivers
texts, records delivery, and never delivers a text after its `not_after` time.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from common.contract_base import ContractModel, RpcContract, RpcMethod

SERVICE_NAME = "notify"
DEV_MESSAGES_MAX = 100

MessagePurpose = Literal["register", "reset_password", "change_password", "cancel_account",
                         "account_registered", "verification_outcome", "review_outcome",
                         "result_published", "document_moved"]


class SmsMessage(ContractModel):
    message_id: str = Field(min_length=1, max_length=64)  # idempotency key: same id, one SMS
    phone: str = Field(pattern=r"^1[3-9]\d{9}$")
    purpose: MessagePurpose
    text: str = Field(min_length=1, max_length=500)
    not_after: str | None = None  # ISO-8601 UTC; a stale code is never delivered


class DevMessage(ContractModel):
    """Development only: one outgoing text as written to the outbox file."""
    phone_masked: str
    purpose: str
    text: str
    sent_at: str


class NotifyRpc(RpcContract):
    """The notify service's RPC methods; each refusal is a common.errors.DomainError."""
    service = SERVICE_NAME

    # the newest `limit` texts, newest first; NOT_FOUND unless PLATFORM_ENV=development
    list_dev_messages = RpcMethod(Annotated[int, Field(strict=True, ge=1, le=DEV_MESSAGES_MAX)],
                                  list[DevMessage])


# Events notify consumes (see services.accounts.contract and services.enrollment.contract):
# accounts.sms_code_issued, accounts.account_registered, accounts.account_cancelled,
# enrollment.verification_outcome, enrollment.review_outcome, enrollment.result_published,
# enrollment.document_moved. Each becomes at most one SmsMessage (the stored form of a text)
# per phone it texts.
