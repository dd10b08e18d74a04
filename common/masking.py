"""Masked display of personal data: what responses and logs may show."""

from __future__ import annotations


def mask_id_number(value: str) -> str:
    """110105********002X: region and last four visible; short numbers: the last two."""
    if len(value) < 10:
        return "*" * max(len(value) - 2, 0) + value[-2:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


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
