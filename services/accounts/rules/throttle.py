"""Fixed-window throttles: how many attempts of a kind a subject (a client address, a phone,
an account reference, the whole platform) may make per window, and the answer beyond it.

Storage counts (one upsert per attempt returns the window's count); these functions decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from common.errors import DomainError

# Windows start at Beijing midnight / on the hour / on the minute (UTC+8 is whole hours).
_BEIJING_OFFSET_S = 8 * 3600


@dataclass(frozen=True)
class Limit:
    kind: str  # the counter's name, e.g. "register_ip"
    limit: int  # attempts allowed per window
    window_s: int
    code: str = "RATE_LIMITED"  # the error past the limit


def window_start(now: datetime, window_s: int) -> datetime:
    local = int(now.timestamp()) + _BEIJING_OFFSET_S
    return datetime.fromtimestamp(local - local % window_s - _BEIJING_OFFSET_S, UTC)


def retry_after_s(now: datetime, window_s: int) -> int:
    end = window_start(now, window_s) + timedelta(seconds=window_s)
    return max(1, math.ceil((end - now).total_seconds()))


def check(limit: Limit, count: int, now: datetime) -> None:
    """`count` includes the attempt being judged."""
    if count > limit.limit:
        raise DomainError(limit.code, extra={"retry_after_s": retry_after_s(now, limit.window_s)})


def alert_due(count: int, budget: int, ratio: float) -> bool:
    """True for exactly one attempt per window: the one that reaches `ratio` of the budget
    (counts rise by one, so whichever request sees this value logs the warning)."""
    return count == max(1, math.ceil(budget * ratio))
