"""Masked display of personal data: what responses and logs may show."""

from __future__ import annotations

import re

# An ID number (GB 11643: 17 digits and a check character) or a mobile number standing alone
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_LONG_NUMBER = re.compile(r"\d{6,}")


def mask_id_number(value: str) -> str:
    """1101*************X: province and city, and the last character; short numbers: the last
    one. Region, birth date and sequence stay hidden, so that with the sex and the district
    shown beside it well over 10^4 numbers remain possible (the old 110105********002X left
    a few dozen once the birth date was known)."""
    if len(value) < 10:
        return "*" * max(len(value) - 1, 0) + value[-1:]
    return value[:4] + "*" * (len(value) - 5) + value[-1:]


def mask_phone(value: str) -> str:
    """138****5678."""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """张*, 欧阳** : the family name's first character stays."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"


def mask_text(value: str) -> str:
    """Free text with the numbers in it masked: ID numbers and mobile numbers as above, any other
    run of six digits or more (SMS codes, account numbers, passports, phones written with +86)
    entirely."""
    value = _ID_NUMBER.sub(lambda found: mask_id_number(found.group()), value)
    value = _PHONE.sub(lambda found: mask_phone(found.group()), value)
    return _LONG_NUMBER.sub(lambda found: "*" * len(found.group()), value)
