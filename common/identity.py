"""Chinese resident ID numbers (GB 11643-1999), shared by every service that checks one.

居民身份证 and 港澳台居民居住证 (region prefixes 81/82/83) share the format: 6-digit region,
8-digit birth date, 3-digit sequence (odd = male), MOD 11-2 check character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")
_PERMIT_REGIONS = ("81", "82", "83")
# GB/T 2260 province-level codes (71 Taiwan, 81-83 the residence permits' prefixes); a number
# with any other first two digits cannot have been issued.
PROVINCES = frozenset(f"{code}" for first, last in (
    (11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65), (71, 71), (81, 83))
    for code in range(first, last + 1))


class InvalidIdNumber(ValueError):
    """The number cannot have been issued; the message says why, in Chinese."""


@dataclass(frozen=True)
class IdNumber:
    number: str  # canonical: upper-case X
    birth_date: date
    sex: str  # "male" or "female"


def check_character(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def parse_id_number(document_type: str, number: str) -> IdNumber:
    """`document_type` is "resident_id" or "hkmt_residence_permit"; raises InvalidIdNumber."""
    number = number.strip().upper()
    if not _SHAPE.match(number):
        raise InvalidIdNumber("证件号码应为18位，前17位为数字，最后一位为数字或X。")
    if check_character(number[:17]) != number[17]:
        raise InvalidIdNumber("证件号码校验位不正确，请核对后重新输入。")
    if number[:2] not in PROVINCES:
        raise InvalidIdNumber("证件号码的地区码无效，请核对后重新输入。")
    is_permit = number[:2] in _PERMIT_REGIONS
    if document_type == "hkmt_residence_permit" and not is_permit:
        raise InvalidIdNumber("港澳台居民居住证号码应以81、82或83开头。")
    if document_type == "resident_id" and is_permit:
        raise InvalidIdNumber("该号码为港澳台居民居住证号码，请选择对应的证件类型。")
    try:
        birth_date = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("证件号码中的出生日期无效。") from None
    return IdNumber(number, birth_date, "male" if int(number[16]) % 2 == 1 else "female")
