"""The verification service's public contract: its event.

This module (with `common`) is the only part of the verification service that other services
may import.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.contract_base import ContractModel, RpcContract

SERVICE_NAME = "verification"

# Events published by verification (exchange "verification.events").
CHECK_FINISHED = "check_finished"


class CheckItem(ContractModel):
    """One failed item: a stable code, the field of the submitted details it concerns and a
    Chinese reason for the family (no personal data)."""
    code: str = Field(min_length=1, max_length=64)
    field: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)


class CheckFinished(ContractModel):
    """The 身份证及户籍信息核验 of version `version` of an account's details is over: verified
    (已验证) or failed (未通过, with every failed item). Published once per check; a consumer
    applies it only to the pending check of the current version."""
    event_id: str
    account_no: str = Field(pattern=r"^\d{8}$")
    version: int = Field(ge=1)
    status: Literal["verified", "failed"]
    items: list[CheckItem] = Field(default_factory=list)


EVENTS = {CHECK_FINISHED: CheckFinished}


class VerificationRpc(RpcContract):
    """Only `ping` (the gateway's /healthz): verification is driven by events."""
    service = SERVICE_NAME
