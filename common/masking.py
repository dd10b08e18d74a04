"""Masked display of personal data: what responses and logs may show."""

from __future__ import annotations


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
