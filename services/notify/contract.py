"""The notify service's public contract: it delivers text messages (SMS) to guardians.

SMS codes themselves (generation, hashing, checking) belong to accounts; notify only delivers
texts, records delivery, and never delivers a text after its `not_after` time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.contract_base import ContractModel

SERVICE_NAME = "notify"

MessagePurpose = Literal["register", "reset_password", "change_password", "cancel_account",
                         "account_registered"]


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


# RPC methods: ping() -> {"service", "ok"};
# list_dev_messages(limit) -> list[DevMessage] (refused unless PLATFORM_ENV=development).

# Events notify consumes (see services.accounts.contract): accounts.sms_code_issued,
# accounts.account_registered, accounts.account_cancelled. Each becomes at most one
# SmsMessage (the stored form of a text).
