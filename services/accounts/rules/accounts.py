"""Account numbers and sign-in lockout."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

MAX_ACCOUNTS_PER_PHONE = 3


def new_account_no(season_year: int) -> str:
    """8 digits: the season's two-digit year, then 6 random digits (unique, not sequential)."""
    return f"{season_year % 100:02d}{secrets.randbelow(10**6):06d}"


def looks_like_account_no(value: str) -> bool:
    return len(value) == 8 and value.isdigit()


def after_failed_login(failures: int, now: datetime, max_failures: int,
                       lock_minutes: int) -> tuple[int, datetime | None]:
    """The new consecutive-failure count and, once it reaches the limit, the lock's end."""
    failures += 1
    if failures >= max_failures:
        return 0, now + timedelta(minutes=lock_minutes)
    return failures, None


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until
