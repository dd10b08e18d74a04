"""The child's document number at registration: a valid GB 11643 number (common/identity.py)
that encodes the birth date and sex the family entered."""

from __future__ import annotations

from datetime import date

from common.errors import DomainError
from common.identity import PROVINCES, InvalidIdNumber, check_character, parse_id_number

__all__ = ["PROVINCES", "check_character", "normalize_id_number"]  # tests and tools use them


def _refuse(message: str) -> DomainError:
    return DomainError("INVALID_ID_NUMBER", message, fields={"document_number": message})


def normalize_id_number(document_type: str, number: str, birth_date: date, sex: str) -> str:
    """Returns the number in canonical form (upper-case X) or raises INVALID_ID_NUMBER."""
    try:
        parsed = parse_id_number(document_type, number)
    except InvalidIdNumber as exc:
        raise _refuse(str(exc)) from None
    if parsed.birth_date != birth_date:
        raise _refuse("证件号码中的出生日期与填写的出生日期不一致。")
    if parsed.sex != sex:
        raise _refuse("证件号码中的性别与填写的性别不一致。")
    return parsed.number
