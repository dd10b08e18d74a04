"""Password policy and the argon2id parameters. Hashing itself is offloaded at the edge."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from common.errors import DomainError

MIN_LENGTH, MAX_LENGTH = 8, 20
WEAK_PASSWORD_HINT = "密码长度应为8～20位，须包括数字、小写字母、大写字母，不能含空格或中文。"
_ALLOWED = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


def check_password_policy(password: str, confirm: str, field: str = "password") -> None:
    """8-20 characters with a digit, a lower-case and an upper-case letter; never truncated."""
    if not (MIN_LENGTH <= len(password) <= MAX_LENGTH) or not _ALLOWED.match(password) or not (
        re.search(r"\d", password) and re.search(r"[a-z]", password)
        and re.search(r"[A-Z]", password)
    ):
        raise DomainError("WEAK_PASSWORD", fields={field: WEAK_PASSWORD_HINT})
    if password != confirm:
        raise DomainError("PASSWORD_MISMATCH",
                          fields={f"{field}_confirm": "两次输入的密码不一致。"})


def make_hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)


def verify_password(hasher: PasswordHasher, stored_hash: str | None, password: str) -> bool:
    """None (an account moved to its real guardian, who has not set a password) matches
    nothing."""
    if stored_hash is None:
        return False
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
