"""The documents service's public contract: the 学龄人口信息采集表 as a PDF (the guide's 四
打印信息采集表) and the public check of a printout.

This module (with `common`) is the only part of the documents service that other services and
the gateway may import.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.contract_base import ContractModel, Cost, RpcContract, RpcMethod
from services.accounts.contract import ACCOUNT_NO_PATTERN

SERVICE_NAME = "documents"
MAX_TOKEN = 300


class FormRef(ContractModel):
    """The family's own form: the gateway adds the session's account."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)


class FormStatus(ContractModel):
    """Whether the family may print its form now (学龄人口信息采集表查看页)."""
    available: bool
    # not available: what is missing, in words the family can act on (e.g. 身份证及户籍信息
    # 尚未验证通过; 入学资格审核尚未通过)
    missing: str | None = None
    version: int | None = None  # available: the version the form shows
    file_name: str | None = None  # available: 学龄人口信息采集表-<account>-第<n>版.pdf


class FormFile(ContractModel):
    """The form of the family's current version, rendered once per (application, version,
    data) and kept, sealed, until the data changes or the family cancels."""
    file_name: str
    version: int = Field(ge=1)
    issued_at: str  # ISO-8601: when this version's form was first issued (the token binds it)
    size: int = Field(ge=1)
    pdf_base64: str  # the PDF; a form is at most 200 KB


class FormCheck(ContractModel):
    """A school's check of a printout (the QR code's /verify/<token>): nothing personal beyond
    the masked child's name."""
    status: Literal["genuine", "superseded", "withdrawn"]
    version: int  # the printout's
    current_version: int | None = None  # superseded: the family's newer version
    issued_at: str  # the printout's
    child_name: str | None = None  # masked (张**); None once withdrawn or cancelled
    district_name: str | None = None


class TokenRef(ContractModel):
    token: str = Field(min_length=1, max_length=MAX_TOKEN)


class DocumentsRpc(RpcContract):
    """The documents service's RPC methods; each refusal is a common.errors.DomainError."""
    service = SERVICE_NAME

    get_form_status = RpcMethod(FormRef, FormStatus)
    # FORM_NOT_AVAILABLE (with what is missing) before the family may print it
    # rendered unless stored (about half a second of a core)
    get_form = RpcMethod(FormRef, FormFile, Cost.EXPENSIVE)
    # FORM_TOKEN_INVALID for a forged, altered or unknown token (the same answer for each)
    check_form = RpcMethod(TokenRef, FormCheck)
